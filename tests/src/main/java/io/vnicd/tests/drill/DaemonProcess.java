package io.vnicd.tests.drill;

import io.vnicd.vmm.daemon.ControlClient;
import io.vnicd.vmm.daemon.Vnicd;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A vnicd daemon in a process of its own (this JVM's java, flags and class path), so that a test can kill it as
 * an operator's SIGKILL would; its output goes to a log beside its sockets.
 */
public final class DaemonProcess implements AutoCloseable {
    private final Process process;
    private final Path log;

    private DaemonProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts vnicd with these arguments and waits until every socket in ready exists. */
    public static DaemonProcess start(Path log, List<Path> ready, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--") || a.startsWith("-Dchronicle") || a.startsWith("-Djava.util.logging")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Vnicd.class.getName());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (Path socket : ready) {
            while (!Files.exists(socket)) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    p.destroyForcibly();
                    throw new IOException("vnicd did not come up (" + socket + "):\n" + Files.readString(log));
                }
                Thread.sleep(50);
            }
        }
        return new DaemonProcess(p, log);
    }

    /** Waits until the daemon answers a status request on its control socket. */
    public void awaitControl(Path control, Duration within) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            try {
                if (ControlClient.request(control, "{\"command\":\"status\"}").contains("\"ok\":true")) {
                    return;
                }
            } catch (IOException notYet) {
                // the socket file may be the killed daemon's, or not bound yet
            }
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("vnicd does not answer on " + control + ":\n" + Files.readString(log));
            }
            Thread.sleep(10);
        }
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL: no goodbye to anyone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
