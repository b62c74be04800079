package io.vnicd.sriov.peer;

import java.io.Serial;

/** A peer broke the protocol; the message says which rule. The session ends. */
final class PeerException extends Exception {
    @Serial
    private static final long serialVersionUID = 1L;

    PeerException(String message) {
        super(message);
    }
}
