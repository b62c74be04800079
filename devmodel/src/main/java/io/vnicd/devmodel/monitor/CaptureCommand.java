package io.vnicd.devmodel.monitor;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code capture}: attaches to a monitor ring from its own process and writes what arrives as a pcap file.
 *
 * <pre>
 * java io.vnicd.devmodel.monitor.CaptureCommand --ring PATH --out FILE.pcap [--count N] [--timeout SECONDS]
 * </pre>
 *
 * PATH is the ring file (for a ring named n, /dev/shm/vnicd-monitor-n); if it does not exist yet, the
 * command waits for it within the timeout. It stops after N frames, after the timeout, or on SIGINT/SIGTERM,
 * and always leaves a complete pcap file. Exit status: 0 done, 1 failure, 2 bad arguments.
 */
public final class CaptureCommand {
    private static final String USAGE = "usage: capture --ring PATH --out FILE.pcap [--count N] [--timeout SECONDS]";
    private static final long IDLE_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(200);
    private static final int BATCH = 256;

    private final Path ring;
    private final Path out;
    private final long count;
    private final long timeoutNanos;
    private volatile boolean stopRequested;

    private CaptureCommand(Path ring, Path out, long count, long timeoutNanos) {
        this.ring = ring;
        this.out = out;
        this.count = count;
        this.timeoutNanos = timeoutNanos;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.err));
    }

    /** Runs the command; returns the exit status. Messages go to err. */
    public static int run(String[] args, PrintStream err) {
        CaptureCommand command;
        try {
            command = parse(args);
        } catch (IllegalArgumentException e) {
            err.println("capture: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            command.stopRequested = true;
            try {
                finished.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "capture-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return command.capture(err);
        } finally {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The hook is running: it is waiting for us, nothing to remove.
            }
        }
    }

    private static CaptureCommand parse(String[] args) {
        Path ring = null;
        Path out = null;
        long count = Long.MAX_VALUE;
        long timeoutNanos = Long.MAX_VALUE;
        for (int i = 0; i < args.length; i++) {
            String option = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("missing value for " + option);
            }
            String value = args[++i];
            try {
                switch (option) {
                    case "--ring" -> ring = Path.of(value);
                    case "--out" -> out = Path.of(value);
                    case "--count" -> count = positive(option, Long.parseLong(value));
                    case "--timeout" -> timeoutNanos = (long) (positive(option, Double.parseDouble(value)) * 1e9);
                    default -> throw new IllegalArgumentException("unknown option " + option);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a number for " + option + ": " + value);
            }
        }
        if (ring == null || out == null) {
            throw new IllegalArgumentException("--ring and --out are required");
        }
        return new CaptureCommand(ring, out, count, timeoutNanos);
    }

    private static <N extends Number> N positive(String option, N value) {
        if (value.doubleValue() <= 0) {
            throw new IllegalArgumentException(option + " must be positive: " + value);
        }
        return value;
    }

    private int capture(PrintStream err) {
        final long start = System.nanoTime();
        MonitorRing monitor = awaitRing(start, err);
        if (monitor == null) {
            return 1;
        }
        try (monitor; PcapWriter pcap = new PcapWriter(out, monitor.snapLength())) {
            long droppedAtStart = monitor.dropped();
            MonitorRecordHandler toPcap = (memory, offset, timestamp, originalLength, capturedLength) -> {
                try {
                    pcap.write(memory, offset, timestamp, originalLength, capturedLength);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            };
            while (pcap.frames() < count && !stopRequested && System.nanoTime() - start < timeoutNanos) {
                int taken = monitor.poll(toPcap, (int) Math.min(BATCH, count - pcap.frames()));
                if (taken == 0) {
                    pcap.flush();
                    LockSupport.parkNanos(IDLE_PARK_NANOS);
                }
            }
            pcap.flush();
            err.println("capture: " + pcap.frames() + " frames written to " + out + "; ring " + ring + " dropped "
                    + (monitor.dropped() - droppedAtStart) + " while capturing (" + monitor.dropped() + " in all)");
            return 0;
        } catch (IOException | UncheckedIOException e) {
            err.println("capture: cannot write " + out + ": " + e.getMessage());
            return 1;
        }
    }

    private MonitorRing awaitRing(long start, PrintStream err) {
        while (true) {
            if (Files.exists(ring)) {
                try {
                    return MonitorRing.attach(ring);
                } catch (IllegalArgumentException e) {
                    // Created but not formatted yet: the magic is written last. Retry within the timeout.
                    if (System.nanoTime() - start >= timeoutNanos || stopRequested) {
                        err.println("capture: " + ring + ": " + e.getMessage());
                        return null;
                    }
                } catch (UncheckedIOException e) {
                    err.println("capture: " + e.getMessage());
                    return null;
                }
            } else if (System.nanoTime() - start >= timeoutNanos || stopRequested) {
                err.println("capture: no monitor ring at " + ring);
                return null;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }
}
