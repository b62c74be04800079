package io.vnicd.virtio.vhostuser;

import java.io.Serial;

/** A frontend broke the protocol or asked for something vnicd refuses; the message says which and why. */
public final class VhostUserException extends Exception {
    @Serial
    private static final long serialVersionUID = 1L;

    public VhostUserException(String message) {
        super(message);
    }

    public VhostUserException(String message, Throwable cause) {
        super(message, cause);
    }
}
