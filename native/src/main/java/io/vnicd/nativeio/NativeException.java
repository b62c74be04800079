package io.vnicd.nativeio;

import java.io.IOException;
import java.io.Serial;

/** A C library call failed: carries the call's name and errno, e.g. {@code "epoll_ctl: EBADF (Bad file descriptor)"}. */
public final class NativeException extends IOException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public NativeException(String call, int errno) {
        super(call + ": " + Errno.name(errno) + " (" + LibC.strerror(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    public NativeException(String call, String message) {
        super(call + ": " + message);
        this.call = call;
        this.errno = 0;
    }

    public String call() {
        return call;
    }

    /** The errno, or 0 where the failure was not an errno (a short read, a truncated message). */
    public int errno() {
        return errno;
    }
}
