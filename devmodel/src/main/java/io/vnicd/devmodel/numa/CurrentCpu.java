package io.vnicd.devmodel.numa;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The CPU the calling thread last ran on, from field 39 ("processor") of /proc/thread-self/stat. It reads
 * a file and allocates: call it when a sending thread starts or is re-pinned, not per frame, and pass the
 * CPU to {@link TransmitBufferPlacement}.
 */
public final class CurrentCpu {
    private static final Path STAT = Path.of("/proc/thread-self/stat");
    private static final int PROCESSOR_FIELD = 39;

    private CurrentCpu() {
    }

    /** The CPU, or -1 if /proc cannot tell. */
    public static int read() {
        try {
            return parse(Files.readString(STAT));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Field 39 of a stat line; the command name (field 2) is in parentheses and may hold spaces. */
    static int parse(String stat) {
        int afterName = stat.lastIndexOf(')');
        String[] fields = stat.substring(afterName + 1).strip().split("\\s+");
        // fields[0] is field 3 (state).
        return Integer.parseInt(fields[PROCESSOR_FIELD - 3]);
    }
}
