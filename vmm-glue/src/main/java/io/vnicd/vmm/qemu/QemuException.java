package io.vnicd.vmm.qemu;

import java.io.IOException;
import java.io.Serial;

/**
 * A guest did not do what was expected: QEMU would not start, exited early, or a console marker did not
 * appear in time. The message carries the tail of the guest console and QEMU's own output, because under
 * TCG on a loaded machine "timed out" alone does not say whether the guest was slow, stuck or never booted.
 */
public final class QemuException extends IOException {
    @Serial
    private static final long serialVersionUID = 1L;

    public QemuException(String message) {
        super(message);
    }

    public QemuException(String message, Throwable cause) {
        super(message, cause);
    }
}
