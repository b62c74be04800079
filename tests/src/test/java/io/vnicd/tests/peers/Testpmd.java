package io.vnicd.tests.peers;

import io.vnicd.testkit.Peers;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * DPDK's dpdk-testpmd in interactive mode, driven through its stdin, as a frontend: virtio-user ports on
 * vhost-user sockets ({@link #frontend}). Port statistics are read by parsing "show port stats all". (The
 * reference vhost back-end for guest tests is io.vnicd.tests.qemu.TestpmdVhostPorts; scripts/bench runs its own.)
 */
public final class Testpmd implements AutoCloseable {
    private static final Pattern PORT = Pattern.compile("NIC statistics for port (\\d+)");
    private static final Pattern RX = Pattern.compile("RX-packets:\\s+(\\d+)\\s+RX-missed:\\s+(\\d+)\\s+RX-bytes:\\s+(\\d+)");
    private static final Pattern TX = Pattern.compile("TX-packets:\\s+(\\d+)\\s+TX-errors:\\s+(\\d+)\\s+TX-bytes:\\s+(\\d+)");
    private static final Pattern PPS = Pattern.compile("Rx-pps:\\s+(\\d+).*?Tx-pps:\\s+(\\d+)[^\\n]*\\n\\s*#{20,}", Pattern.DOTALL);

    /** One port's counters as testpmd reports them. */
    public record PortStats(int port, long rxPackets, long rxMissed, long rxBytes, long txPackets, long txErrors,
                            long txBytes, long rxPps, long txPps) {
    }

    private final Process process;
    private final OutputStream stdin;
    private final StringBuffer output = new StringBuffer();
    private final Path log;

    private Testpmd(Process process, Path log) {
        this.process = process;
        this.stdin = process.getOutputStream();
        this.log = log;
        // Read in chunks, not lines: the "testpmd> " prompt ends without a newline.
        Thread.ofPlatform().daemon().name("testpmd-out").start(() -> {
            try (InputStreamReader r = new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)) {
                char[] buf = new char[8192];
                int n;
                while ((n = r.read(buf)) > 0) {
                    String chunk = new String(buf, 0, n);
                    output.append(chunk);
                    if (log != null) {
                        Files.writeString(log, chunk, StandardCharsets.UTF_8,
                                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
    }

    /** The testpmd binary on PATH; without it the test fails in CI and is skipped elsewhere ({@link Peers}). */
    public static String binary() {
        return Peers.executable("dpdk-testpmd", "run scripts/setup (Debian package dpdk-dev)").toString();
    }

    /**
     * A testpmd frontend with one virtio-user port per socket, io forwarding between them, on lcores 0,1
     * (main lcore 1: the forwarding core is 0).
     *
     * @param server true when testpmd listens (vnicd in client mode)
     */
    public static Testpmd frontend(String prefix, List<Path> sockets, int queues, boolean server, Path log) throws IOException {
        List<String> cmd = eal(prefix);
        for (int i = 0; i < sockets.size(); i++) {
            cmd.add("--vdev");
            cmd.add("net_virtio_user" + i + ",path=" + sockets.get(i) + ",queues=" + queues + (server ? ",server=1" : "")
                    + ",queue_size=256");
        }
        cmd.addAll(List.of("--", "-i", "--forward-mode=io", "--nb-cores=1", "--total-num-mbufs=16384",
                "--rxq=" + queues, "--txq=" + queues));
        return start(cmd, log);
    }

    /** EAL arguments: lcores 0,1 with main lcore 1, so that the forwarding core is 0. */
    private static List<String> eal(String prefix) {
        // stdbuf: testpmd's printf output is block-buffered on a pipe; statistics must arrive when asked for.
        return new ArrayList<>(List.of("stdbuf", "-o0", binary(), "-l", "0,1", "--main-lcore", "1",
                "--file-prefix=" + prefix, "--single-file-segments", "-m", "256", "--no-pci", "--log-level=user1,8"));
    }

    private static Testpmd start(List<String> cmd, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Testpmd t = new Testpmd(pb.start(), log);
        t.awaitOutput("testpmd>", Duration.ofSeconds(60));
        return t;
    }

    /** Sends one interactive command. */
    public synchronized void command(String line) throws IOException {
        stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
    }

    /** Waits until the output contains text (after what was already there when called, if fresh is true). */
    public String awaitOutput(String text, Duration timeout) throws IOException {
        Instant end = Instant.now().plus(timeout);
        while (Instant.now().isBefore(end)) {
            if (output.indexOf(text) >= 0) {
                return output.toString();
            }
            if (!process.isAlive()) {
                throw new IOException("testpmd exited (" + process.exitValue() + ") before printing '" + text + "':\n" + tail());
            }
            sleep(50);
        }
        throw new IOException("testpmd did not print '" + text + "' within " + timeout + ":\n" + tail());
    }

    /** Asks for port statistics and parses them. */
    public List<PortStats> portStats(int ports) throws IOException {
        int from = output.length();
        command("show port stats all");
        Instant end = Instant.now().plus(Duration.ofSeconds(20));
        while (Instant.now().isBefore(end)) {
            String s = output.substring(Math.min(from, output.length()));
            List<PortStats> parsed = parse(s);
            if (parsed.size() >= ports) {
                return parsed;
            }
            if (!process.isAlive()) {
                throw new IOException("testpmd exited:\n" + tail());
            }
            sleep(50);
        }
        throw new IOException("no statistics for " + ports + " ports from testpmd:\n" + tail());
    }

    static List<PortStats> parse(String s) {
        List<PortStats> out = new ArrayList<>();
        Matcher port = PORT.matcher(s);
        List<Integer> starts = new ArrayList<>();
        while (port.find()) {
            starts.add(port.start());
        }
        for (int i = 0; i < starts.size(); i++) {
            int end = i + 1 < starts.size() ? starts.get(i + 1) : s.length();
            String block = s.substring(starts.get(i), end);
            Matcher p = PORT.matcher(block);
            Matcher rx = RX.matcher(block);
            Matcher tx = TX.matcher(block);
            Matcher pps = PPS.matcher(block);
            if (p.find() && rx.find() && tx.find() && pps.find()) {
                out.add(new PortStats(Integer.parseInt(p.group(1)), Long.parseLong(rx.group(1)), Long.parseLong(rx.group(2)),
                        Long.parseLong(rx.group(3)), Long.parseLong(tx.group(1)), Long.parseLong(tx.group(2)),
                        Long.parseLong(tx.group(3)), Long.parseLong(pps.group(1)), Long.parseLong(pps.group(2))));
            }
        }
        return out;
    }

    public String output() {
        return output.toString();
    }

    private String tail() {
        String s = output.toString();
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public long pid() {
        return process.pid();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Quits testpmd (stop, quit), then ends the process we started if it lingers. */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                command("stop");
                command("quit");
            }
        } catch (IOException ignored) {
            // already gone
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
