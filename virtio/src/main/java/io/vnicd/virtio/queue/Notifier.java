package io.vnicd.virtio.queue;

import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.NativeException;

/** Signals a queue's call eventfd (the driver's interrupt). */
@FunctionalInterface
public interface Notifier {
    /** Writes the eventfd directly. */
    Notifier DIRECT = fd -> {
        fd.signal();
        return true;
    };

    /**
     * Signals fd. Returns false when the descriptor misbehaved (its write blocked and had to be rescued): the
     * queue then stops, since its frontend is hostile or broken.
     */
    boolean signal(EventFd fd) throws NativeException;
}
