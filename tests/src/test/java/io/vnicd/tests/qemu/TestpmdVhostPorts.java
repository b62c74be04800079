package io.vnicd.tests.qemu;

import io.vnicd.testkit.Peers;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * DPDK testpmd serving two vhost-user sockets and forwarding between them (io mode): the reference vhost-user
 * backend, so the guests' vhost-user wiring is checked against a known-good peer before vnicd takes its place.
 *
 * <p>testpmd runs without hugepages ({@code --no-huge}) and without PCI, with its own {@code --file-prefix};
 * one lcore polls, so it costs one core of the machine for as long as it runs. It keeps running while its
 * stdin is open ("Press enter to exit"), so closing stdin stops it cleanly.
 */
final class TestpmdVhostPorts implements AutoCloseable {
    static final String BINARY = "dpdk-testpmd";

    private final Process process;
    private final Path log;
    private final OutputStream stdin;

    private TestpmdVhostPorts(Process process, Path log) {
        this.process = process;
        this.log = log;
        this.stdin = process.getOutputStream();
    }

    /** Starts testpmd listening on port0 and port1 (it is the vhost-user server) and waits until both exist. */
    static TestpmdVhostPorts start(Path dir, Path port0, Path port1) throws IOException, InterruptedException {
        Path log = dir.resolve("testpmd.log");
        List<String> cmd = List.of(Peers.executable(BINARY, "apt-get install dpdk-dev").toString(), "-l", "0,1", "--main-lcore", "0", "--no-huge", "-m", "128", "--no-pci",
                "--file-prefix", "vnicd-test-" + ProcessHandle.current().pid(),
                "--vdev", "net_vhost0,iface=" + port0, "--vdev", "net_vhost1,iface=" + port1,
                "--", "--forward-mode=io", "--auto-start", "--total-num-mbufs=8192");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        TestpmdVhostPorts ports = new TestpmdVhostPorts(p, log);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!(Files.exists(port0) && Files.exists(port1))) {
            if (!p.isAlive() || System.nanoTime() - deadline > 0) {
                ports.close();
                throw new IOException("testpmd did not create " + port0 + " and " + port1 + ":\n" + ports.output());
            }
            Thread.sleep(50);
        }
        return ports;
    }

    /** testpmd's output so far. */
    String output() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + log + ")";
        }
    }

    @Override
    public void close() {
        try {
            stdin.write('\n');
            stdin.close();
        } catch (IOException e) {
            // testpmd already gone: nothing to tell it.
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
