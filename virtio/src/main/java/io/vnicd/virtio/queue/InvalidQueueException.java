package io.vnicd.virtio.queue;

/** A frontend or driver described a virtqueue that cannot be served safely (rings outside memory, misaligned...). */
public final class InvalidQueueException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidQueueException(String message) {
        super(message);
    }
}
