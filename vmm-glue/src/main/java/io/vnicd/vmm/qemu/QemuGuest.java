package io.vnicd.vmm.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A running QEMU guest: its process, its serial console and its QMP connection.
 *
 * <p>The console is read from the file QEMU writes it to, so nothing is lost while nobody is looking and a test
 * can wait for a marker printed long ago. Waiting fails early, with the console tail and QEMU's output in the
 * message, when QEMU exits before the marker appears. {@link #close()} stops the guest: QMP {@code quit}, then
 * SIGTERM, then SIGKILL to the PID; a JVM shutdown hook kills guests still running when the JVM exits, so a
 * crashed test run does not leave QEMUs behind on a shared machine.
 */
public final class QemuGuest implements AutoCloseable {
    /** The prefix of every line guests/init prints for the harness. */
    public static final String MARKER_PREFIX = "VNICD-GUEST ";
    private static final Duration QMP_CONNECT_TIMEOUT = Duration.ofSeconds(20);
    private static final int TAIL_LINES = 40;
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly), "qemu-guest-reaper"));
    }

    private final QemuLauncher launcher;
    private final Process process;
    private final QmpClient qmp;
    private int hotplugged;

    private QemuGuest(QemuLauncher launcher, Process process, QmpClient qmp) {
        this.launcher = launcher;
        this.process = process;
        this.qmp = qmp;
    }

    static QemuGuest started(QemuLauncher launcher, Process process) throws QemuException {
        LIVE.add(process);
        long deadline = System.nanoTime() + QMP_CONNECT_TIMEOUT.toNanos();
        IOException last = null;
        while (System.nanoTime() - deadline < 0) {
            if (!process.isAlive()) {
                LIVE.remove(process);
                throw new QemuException(describe(launcher, process, "QEMU exited with code " + process.exitValue() + " at start"));
            }
            if (Files.exists(launcher.qmpSocket())) {
                try {
                    return new QemuGuest(launcher, process, QmpClient.connect(launcher.qmpSocket(), Duration.ofSeconds(2)));
                } catch (IOException e) {
                    last = e;
                }
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        kill(process);
        QemuException failure = new QemuException(describe(launcher, process, "QMP did not answer on " + launcher.qmpSocket()
                + " within " + QMP_CONNECT_TIMEOUT + " (a vhost-user NIC with reconnect holds QEMU's start until its backend listens)"));
        if (last != null) {
            failure.initCause(last);
        }
        throw failure;
    }

    /** The guest's name. */
    public String name() {
        return launcher.name();
    }

    /** What the guest was started from. */
    public QemuLauncher launcher() {
        return launcher;
    }

    /** QEMU's PID. */
    public long pid() {
        return process.pid();
    }

    /** True while QEMU runs. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** The QMP connection, negotiated and ready for commands. */
    public QmpClient qmp() {
        return qmp;
    }

    /** The console file. */
    public Path consoleLog() {
        return launcher.consoleLog();
    }

    /** Everything the guest printed on its serial console so far. */
    public String console() {
        return read(launcher.consoleLog());
    }

    /** The console lines printed so far. */
    public List<String> consoleLines() {
        return console().lines().toList();
    }

    /** The lines guests/init printed for the harness so far, without the "VNICD-GUEST " prefix. */
    public List<String> markers() {
        return consoleLines().stream()
                .map(l -> l.indexOf(MARKER_PREFIX) < 0 ? null : l.substring(l.indexOf(MARKER_PREFIX) + MARKER_PREFIX.length()).trim())
                .filter(l -> l != null)
                .toList();
    }

    /** QEMU's own stdout and stderr so far. */
    public String qemuOutput() {
        return read(launcher.qemuLog());
    }

    /**
     * Waits for a marker line of guests/init, e.g. {@code awaitMarker("link eth0 up", ...)} or
     * {@code awaitMarker("result ping", ...)}, and returns the text after the prefix.
     */
    public String awaitMarker(String text, Duration timeout) throws QemuException {
        String line = awaitConsole(MARKER_PREFIX + text, timeout);
        return line.substring(line.indexOf(MARKER_PREFIX) + MARKER_PREFIX.length()).trim();
    }

    /** Waits for a console line containing text and returns the line. */
    public String awaitConsole(String text, Duration timeout) throws QemuException {
        return awaitLine(Pattern.compile(Pattern.quote(text)), 1, timeout);
    }

    /**
     * Waits for a console line in which pattern is found and returns the match (groups included).
     *
     * @throws QemuException when QEMU exits first or the timeout passes, with the console tail and QEMU's output
     */
    public Matcher awaitConsole(Pattern pattern, Duration timeout) throws QemuException {
        return awaitConsole(pattern, 1, timeout);
    }

    /**
     * Waits for the nth console line (1 for the first) in which pattern is found, for jobs that print the same
     * kind of result more than once (a ping before and after a failover), and returns its match.
     */
    public Matcher awaitConsole(Pattern pattern, int nth, Duration timeout) throws QemuException {
        if (nth < 1) {
            throw new IllegalArgumentException("nth counts from 1: " + nth);
        }
        Matcher m = pattern.matcher(awaitLine(pattern, nth, timeout));
        if (!m.find()) {
            throw new IllegalStateException("pattern matched a line once but not twice: " + pattern);
        }
        return m;
    }

    private String awaitLine(Pattern pattern, int nth, Duration timeout) throws QemuException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            boolean alive = process.isAlive();
            int seen = 0;
            for (String line : consoleLines()) {
                if (pattern.matcher(line).find() && ++seen == nth) {
                    return line;
                }
            }
            if (!alive) {
                throw new QemuException(describe(launcher, process, "QEMU exited with code " + process.exitValue()
                        + " before the console showed /" + pattern + "/" + (nth > 1 ? " " + nth + " times" : "")));
            }
            if (System.nanoTime() - deadline > 0) {
                throw new QemuException(describe(launcher, process, "no console line matching /" + pattern + "/"
                        + (nth > 1 ? " " + nth + " times" : "") + " within " + timeout));
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new QemuException("interrupted while waiting for /" + pattern + "/ on " + name(), e);
            }
        }
    }

    /** Waits for QEMU to exit (the guest powered off) and returns its exit code. */
    public int awaitExit(Duration timeout) throws QemuException {
        try {
            if (!process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new QemuException(describe(launcher, process, "QEMU still running after " + timeout));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QemuException("interrupted while waiting for " + name() + " to exit", e);
        }
        LIVE.remove(process);
        return process.exitValue();
    }

    /**
     * Hot-plugs a NIC into the running guest: for vhost-user a chardev first, then the netdev, then a
     * virtio-net-pci device on the next empty root port (q35; see {@link QemuLauncher.Builder#hotplugSlots}) or
     * on the root bus (pc). The guest sees a new ethN; {@code vnicd.run=hotplug:ethN} reports it.
     */
    public synchronized void hotplug(QemuNic nic) throws QmpException, QemuException {
        String bus = null;
        if (launcher.isPcie()) {
            if (hotplugged >= launcher.hotplugSlots()) {
                throw new QemuException(name() + " has no free hot-plug slot: start it with hotplugSlots(n) > " + hotplugged);
            }
            bus = launcher.hotplugBus(hotplugged);
        }
        if (nic.isVhostUser()) {
            qmp.chardevAddUnixSocket(nic.chardevId(), nic.socketPath(), nic.kind() == QemuNic.Kind.VHOST_USER_SERVER,
                    nic.reconnectSeconds());
        }
        qmp.netdevAdd(nic.netdevType(), nic.netdevId(), nic.netdevProperties());
        qmp.deviceAdd("virtio-net-pci", nic.id(), nic.deviceProperties(bus));
        hotplugged++;
    }

    /**
     * Unplugs a hot-plugged (or boot-time) NIC: {@code device_del}, wait for the guest to release it
     * ({@code DEVICE_DELETED}; PCIe native hot-plug takes about 5 s of guest time), then remove its netdev and chardev.
     */
    public void unplug(QemuNic nic, Duration timeout) throws QmpException {
        qmp.deviceDelAndWait(nic.id(), timeout);
        qmp.netdevDel(nic.netdevId());
        if (nic.isVhostUser()) {
            qmp.chardevRemove(nic.chardevId());
        }
    }

    /** Stops the guest: QMP quit, then SIGTERM, then SIGKILL. Safe to call more than once. */
    public void stop() {
        if (process.isAlive()) {
            try {
                if (qmp.isConnected()) {
                    qmp.quit();
                }
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    kill(process);
                }
            } catch (QmpException e) {
                kill(process);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                kill(process);
            }
        }
        qmp.close();
        LIVE.remove(process);
    }

    @Override
    public void close() {
        stop();
    }

    private static void kill(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(3, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(3, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        LIVE.remove(process);
    }

    private static String describe(QemuLauncher launcher, Process process, String what) {
        List<String> console = read(launcher.consoleLog()).lines().toList();
        List<String> tail = console.subList(Math.max(0, console.size() - TAIL_LINES), console.size());
        String state = process.isAlive() ? "running, pid " + process.pid() : "exited with code " + process.exitValue();
        return "guest " + launcher.name() + ": " + what + " (QEMU " + state + ")"
                + "\n--- console tail (" + launcher.consoleLog() + ") ---\n" + String.join("\n", tail)
                + "\n--- QEMU output (" + launcher.qemuLog() + ") ---\n" + read(launcher.qemuLog()).strip()
                + "\n--- command line ---\n" + String.join(" ", launcher.commandLine());
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? new String(Files.readAllBytes(file), StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }
}
