package io.vnicd.vmm.daemon;

import java.io.Serial;

/** The command line or configuration file cannot be used; the message says what and where. */
public final class ConfigException extends Exception {
    @Serial
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
