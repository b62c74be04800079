package io.vnicd.nativeio;

import java.io.IOException;
import java.io.Serial;

/** A C library call failed: carries the call's name and errno, e.g. {@code "epoll_ctl: EBADF (Bad file descriptor)"}. */
public final class NativeException extends IOException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;
    /** What follows the call's name in the message. */
    private final String what;

    public NativeException(String call, int errno) {
        this(call, errno, Errno.name(errno) + " (" + LibC.strerror(errno) + ")", true);
    }

    /** A failure with an errno and more to say than strerror does (a verifier's log, the step that failed). */
    public NativeException(String call, int errno, String detail) {
        this(call, errno, Errno.name(errno) + " (" + LibC.strerror(errno) + "): " + detail, true);
    }

    public NativeException(String call, String message) {
        this(call, 0, message, true);
    }

    private NativeException(String call, int errno, String what, boolean unused) {
        super(call + ": " + what);
        this.call = call;
        this.errno = errno;
        this.what = what;
    }

    /** The same failure, its call named within context: {@code "bind (AF_XDP socket on eth0): ENODEV (...)"}. */
    public NativeException within(String context) {
        NativeException e = new NativeException(call + " (" + context + ")", errno, what, true);
        e.initCause(this);
        return e;
    }

    public String call() {
        return call;
    }

    /** The errno, or 0 where the failure was not an errno (a short read, a truncated message). */
    public int errno() {
        return errno;
    }
}
