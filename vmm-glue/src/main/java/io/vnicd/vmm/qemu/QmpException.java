package io.vnicd.vmm.qemu;

import java.io.IOException;
import java.io.Serial;

/**
 * QEMU answered a QMP command with an error, or the connection ended before it answered.
 * The error class is QEMU's own ({@code GenericError}, {@code CommandNotFound}, {@code DeviceNotFound}, ...)
 * or {@link #DISCONNECTED} when QEMU went away, so callers can tell "refused" from "gone".
 */
public final class QmpException extends IOException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** The error class used when the QMP connection closed with the command still pending. */
    public static final String DISCONNECTED = "Disconnected";
    /** The error class used when QEMU did not answer within the timeout. */
    public static final String TIMEOUT = "Timeout";

    private final String command;
    private final String errorClass;
    private final String description;

    public QmpException(String command, String errorClass, String description) {
        super("QMP " + command + " failed: " + errorClass + ": " + description);
        this.command = command;
        this.errorClass = errorClass;
        this.description = description;
    }

    public QmpException(String command, String errorClass, String description, Throwable cause) {
        this(command, errorClass, description);
        initCause(cause);
    }

    /** The QMP command (or "event" for an event wait) that failed. */
    public String command() {
        return command;
    }

    /** QEMU's error class, or {@link #DISCONNECTED} / {@link #TIMEOUT}. */
    public String errorClass() {
        return errorClass;
    }

    /** QEMU's human-readable description. */
    public String description() {
        return description;
    }
}
