package io.vnicd.vmm.runtime;

import java.io.IOException;
import java.io.Serial;
import java.nio.file.Path;

/** A socket path is held by a live daemon: the message names the path and the holder's pid. */
public final class PathInUseException extends IOException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final long holderPid;

    PathInUseException(Path socket, long holderPid, boolean thisProcess) {
        super(socket + " is in use by " + (holderPid > 0 ? "vnicd pid " + holderPid : "another vnicd")
                + (thisProcess ? " (this process)" : ""));
        this.holderPid = holderPid;
    }

    /** The pid written by the holder in the lock file, or -1 when it could not be read. */
    public long holderPid() {
        return holderPid;
    }
}
