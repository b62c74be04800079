package io.vnicd.tests.drill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vnicd.vmm.daemon.ControlClient;
import io.vnicd.vmm.qemu.GuestImage;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuLauncher;
import io.vnicd.vmm.qemu.QemuNic;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The restart drill: vnicd, a process of its own with two QEMU guests on two of its VFs, is killed with SIGKILL
 * while one guest pings the other every 100 ms and streams TCP into it, and started again at once. The guests'
 * QEMUs reconnect (server mode: {@code reconnect=1}; client mode: vnicd connects to the QEMUs that listen), the
 * rings resume from the indices QEMU restores, and the drill measures how long the daemon was away, the pings lost,
 * whether the stream arrived intact (md5 at both ends) and whether the VFs negotiated the same features again.
 * {@code scripts/drill restart} prints it; RestartTest asserts on it.
 */
public final class RestartDrill {
    private static final String SENDER_IP = "10.83.0.1";
    private static final String RECEIVER_IP = "10.83.0.2";
    private static final Pattern PING = Pattern.compile("result ping target=" + RECEIVER_IP.replace(".", "\\.") + " sent=(\\d+) received=(\\d+)");
    private static final Pattern SENT = Pattern.compile("result tcp-send bytes=(\\d+) md5=([0-9a-f]+) rc=(\\d+)");
    private static final Pattern RECEIVED = Pattern.compile("result tcp-recv bytes=(\\d+) md5=([0-9a-f]+)");
    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param pings       pings the sender sends, 100 ms apart
     * @param streamBytes the TCP stream from sender to receiver
     */
    public record Options(int pings, long streamBytes) {
        public static Options defaults() {
            return new Options(300, 64L << 20);
        }
    }

    /** One restart, measured. */
    public record Measurement(String mode, long awayMillis, int pingsSent, int pingsLost, boolean streamIntact,
                              long streamBytes, boolean sameFeatures, String detail) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-8s %8d ms %5d/%-5d %-7s %-9s %s", mode, awayMillis, pingsLost, pingsSent,
                    streamIntact ? "intact" : "BROKEN", sameFeatures ? "same" : "DIFFERENT", detail);
        }
    }

    public static final String HEADER = String.format(Locale.ROOT, "%-8s %11s %11s %-7s %-9s", "mode", "away",
            "pings lost", "stream", "features");

    private final Path dir;
    private final Options options;

    public RestartDrill(Path dir, Options options) {
        this.dir = dir;
        this.options = options;
    }

    public List<Measurement> run() throws Exception {
        List<Measurement> out = new ArrayList<>();
        out.add(restart(false));
        out.add(restart(true));
        return out;
    }

    /** Kills and restarts a daemon that listens (client false: QEMU reconnects) or connects (client true). */
    public Measurement restart(boolean client) throws Exception {
        String mode = client ? "client" : "server";
        Path d = Files.createDirectories(dir.resolve(mode));
        Path sock0 = d.resolve("vf0.sock");
        Path sock1 = d.resolve("vf1.sock");
        Path control = d.resolve("control.sock");
        List<String> args = new ArrayList<>(List.of("--vf", "vf0=" + sock0, "--vf", "vf1=" + sock1, "--control", control.toString()));
        if (client) {
            args.add("--client");
        }
        GuestImage image = FailoverDrill.image();
        QemuLauncher.Builder receiverB = QemuLauncher.builder(image, d, "receiver")
                .nic(nic(client, "vf1", "52:54:00:83:00:02", sock1))
                .kernelArgs("vnicd.ip=eth0:" + RECEIVER_IP + "/24", "vnicd.run=tcp-recv:5001", "vnicd.stay=1", "vnicd.timeout=900");
        QemuLauncher.Builder senderB = QemuLauncher.builder(image, d, "sender")
                .nic(nic(client, "vf0", "52:54:00:83:00:01", sock0))
                .kernelArgs("vnicd.ip=eth0:" + SENDER_IP + "/24",
                        "vnicd.run=bg:ping:" + RECEIVER_IP + ":" + options.pings + ":56:0.1",
                        "vnicd.run=tcp-send:" + RECEIVER_IP + ":5001:" + options.streamBytes, "vnicd.stay=1", "vnicd.timeout=900");
        // vnicd first: QEMU waits for its sockets (server mode) or holds its start until vnicd connects (client mode)
        DaemonProcess daemon = DaemonProcess.start(d.resolve("vnicd.log"), List.of(control), args.toArray(String[]::new));
        try (QemuGuest receiver = receiverB.build().start(); QemuGuest sender = senderB.build().start()) {
            receiver.awaitMarker("listening tcp 5001", BOOT);
            awaitReceived(control, 2L << 20);
            String before = features(control);
            long killed = System.nanoTime();
            daemon.kill();
            // the killed daemon's socket files are still there: up means its successor answers on the control socket
            daemon = DaemonProcess.start(d.resolve("vnicd2.log"), List.of(), args.toArray(String[]::new));
            daemon.awaitControl(control, BOOT);
            long away = (System.nanoTime() - killed) / 1_000_000;
            Matcher ping = sender.awaitConsole(PING, BOOT);
            Matcher sent = sender.awaitConsole(SENT, BOOT);
            Matcher got = receiver.awaitConsole(RECEIVED, BOOT);
            String after = features(control);
            boolean intact = sent.group(3).equals("0") && sent.group(1).equals(got.group(1)) && sent.group(2).equals(got.group(2));
            int pingsSent = Integer.parseInt(ping.group(1));
            return new Measurement(mode, away, pingsSent, pingsSent - Integer.parseInt(ping.group(2)), intact,
                    Long.parseLong(got.group(1)), before.equals(after), "features " + after);
        } finally {
            daemon.close();
        }
    }

    private static QemuNic nic(boolean client, String id, String mac, Path socket) {
        return client ? QemuNic.vhostUserServer(id, mac, socket) : QemuNic.vhostUser(id, mac, socket).withReconnect(1);
    }

    private static JsonNode status(Path control) throws IOException {
        return JSON.readTree(ControlClient.request(control, "{\"command\":\"status\"}"));
    }

    private static JsonNode vf(JsonNode status, String name) {
        for (JsonNode pf : status.path("pfs")) {
            for (JsonNode vf : pf.path("vfs")) {
                if (vf.path("name").asText().equals(name)) {
                    return vf;
                }
            }
        }
        throw new IllegalStateException("status names no VF " + name + ": " + status);
    }

    /** Waits until the receiver's VF delivered bytes into its guest: the stream runs when the daemon dies. */
    private static void awaitReceived(Path control, long bytes) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (vf(status(control), "vf1").path("counters").path("rxBytes").asLong() < bytes) {
            if (System.nanoTime() > deadline) {
                throw new IOException("the stream did not start: " + status(control));
            }
            Thread.sleep(20);
        }
    }

    /** Both VFs' negotiated features, once both are connected again. */
    private static String features(Path control) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (true) {
            JsonNode s = status(control);
            JsonNode a = vf(s, "vf0");
            JsonNode b = vf(s, "vf1");
            if (a.path("connected").asBoolean() && b.path("connected").asBoolean() && a.path("linkReady").asBoolean()
                    && b.path("linkReady").asBoolean()) {
                return "vf0 " + a.path("features").asText() + ", vf1 " + b.path("features").asText();
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("the VFs did not come back: " + s);
            }
            Thread.sleep(20);
        }
    }

    /** {@code scripts/drill restart}. */
    public static void main(String[] args) throws Exception {
        Path work = Files.createTempDirectory("vnicd-restart-");
        List<Measurement> results = new RestartDrill(work, Options.defaults()).run();
        System.out.println();
        System.out.println("restart drill: vnicd is killed (SIGKILL) and started again while a guest pings another every 100 ms"
                + " and streams " + (Options.defaults().streamBytes() >> 20) + " MiB of TCP into it");
        System.out.println(HEADER);
        results.forEach(System.out::println);
    }
}
