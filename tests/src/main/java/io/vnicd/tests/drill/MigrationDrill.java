package io.vnicd.tests.drill;

import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.GuestImage;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuLauncher;
import io.vnicd.vmm.qemu.QemuNic;
import io.vnicd.vmm.qemu.QmpClient;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The migration drill: a running QEMU guest on a vnicd VF moves, live, to a QEMU waiting on another VF, while a
 * peer guest pings it every 100 ms and streams TCP into it (its memory keeps getting dirty with what vnicd writes).
 * Once to a VF of the same daemon, once to a VF of a peered daemon (proxy VNICs over shared memory). Measured:
 * whether the migration completed, QEMU's downtime, the pings lost, and whether the stream spanning the move
 * arrived intact (md5 at both ends). {@code scripts/drill migrate} prints it; MigrationTest asserts on it.
 */
public final class MigrationDrill {
    static final String MOVER_IP = "10.81.0.2";
    static final String PEER_IP = "10.81.0.1";
    private static final String MAC = "52:54:00:81:00:02";
    private static final Pattern PING = Pattern.compile("result ping target=" + MOVER_IP.replace(".", "\\.") + " sent=(\\d+) received=(\\d+)");
    private static final Pattern SENT = Pattern.compile("result tcp-send bytes=(\\d+) md5=([0-9a-f]+) rc=(\\d+)");
    private static final Pattern RECEIVED = Pattern.compile("result tcp-recv bytes=(\\d+) md5=([0-9a-f]+)");
    private static final Duration BOOT = Duration.ofSeconds(180);

    /**
     * @param pings       pings the peer sends, 100 ms apart
     * @param streamBytes the TCP stream into the moving guest
     */
    public record Options(int pings, long streamBytes) {
        public static Options defaults() {
            return new Options(200, 48L << 20);
        }
    }

    /** One move, measured. */
    public record Measurement(String where, String status, long downtimeMillis, long totalMillis, int pingsSent,
                              int pingsLost, boolean streamIntact, long streamBytes, String detail) {
        public boolean completed() {
            return status.equals("completed");
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-24s %-10s %8d ms %8d ms %5d/%-5d %-7s  %s", where, status, downtimeMillis,
                    totalMillis, pingsLost, pingsSent, streamIntact ? "intact" : "BROKEN", detail);
        }
    }

    public static final String HEADER = String.format(Locale.ROOT, "%-24s %-10s %11s %11s %11s %-7s", "to", "migration",
            "downtime", "total", "pings lost", "stream");

    private final Path dir;
    private final Options options;

    public MigrationDrill(Path dir, Options options) {
        this.dir = dir;
        this.options = options;
    }

    public List<Measurement> run() throws Exception {
        List<Measurement> out = new ArrayList<>();
        out.add(sameDaemon());
        out.add(peeredDaemon());
        return out;
    }

    private static VnicdConfig.VfConfig vf(Path d, String name) {
        return new VnicdConfig.VfConfig(name, d.resolve(name + ".sock").toString(), "server", 1, null);
    }

    /** From vf0 to vf1 of one PF; the peer on vf2. */
    public Measurement sameDaemon() throws Exception {
        Path d = Files.createDirectories(dir.resolve("same"));
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0",
                List.of(vf(d, "vf0"), vf(d, "vf1"), vf(d, "vf2")))));
        try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
            return move("the same daemon", d, d.resolve("vf0.sock"), d.resolve("vf1.sock"), d.resolve("vf2.sock"),
                    vnicd.physicalFunction("pf0"));
        }
    }

    /** From a VF of one daemon to a VF of another, the two peered through a socket; the peer stays on the first. */
    public Measurement peeredDaemon() throws Exception {
        Path d = Files.createDirectories(dir.resolve("peered"));
        Path peer = Files.createDirectories(d.resolve("peers")).resolve("host.sock");
        VnicdConfig one = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0",
                List.of(vf(d, "vf0"), vf(d, "vf2"))).withPeers(List.of(peer.toString()))));
        VnicdConfig two = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf1",
                List.of(vf(d, "vf1"))).withPeers(List.of(peer.toString()))));
        try (Vnicd a = new Vnicd(one.validate()).start(); Vnicd b = new Vnicd(two.validate()).start()) {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((a.physicalFunction("pf0").proxies().stream().noneMatch(p -> p.linkUp())
                    || b.physicalFunction("pf1").proxies().stream().noneMatch(p -> p.linkUp())) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            return move("a peered daemon", d, d.resolve("vf0.sock"), d.resolve("vf1.sock"), d.resolve("vf2.sock"),
                    a.physicalFunction("pf0"));
        }
    }

    private QemuLauncher.Builder mover(GuestImage image, Path d, String name, Path socket) {
        return QemuLauncher.builder(image, d, name)
                .nic(QemuNic.vhostUser("vf", MAC, socket).withReconnect(1))
                .kernelArgs("vnicd.ip=eth0:" + MOVER_IP + "/24", "vnicd.run=tcp-recv:5001", "vnicd.stay=1", "vnicd.timeout=900");
    }

    private Measurement move(String where, Path d, Path from, Path to, Path peerSocket, PhysicalFunction source)
            throws Exception {
        GuestImage image = FailoverDrill.image();
        Path channel = d.resolve("migration.sock");
        try (QemuGuest src = mover(image, d, "mover-src", from).build().start();
             QemuGuest dst = mover(image, d, "mover-dst", to).extraArgs("-incoming", "defer").build().start();
             QemuGuest peer = QemuLauncher.builder(image, d, "peer")
                     .nic(QemuNic.vhostUser("vf", "52:54:00:81:00:01", peerSocket))
                     .kernelArgs("vnicd.ip=eth0:" + PEER_IP + "/24",
                             "vnicd.run=bg:ping:" + MOVER_IP + ":" + options.pings + ":56:0.1",
                             "vnicd.run=tcp-send:" + MOVER_IP + ":5001:" + options.streamBytes, "vnicd.stay=1", "vnicd.timeout=900")
                     .build().start()) {
            src.awaitMarker("listening tcp 5001", BOOT);
            // the stream runs into the guest (what vnicd writes dirties its memory all through the move)
            long deadline = System.nanoTime() + BOOT.toNanos();
            while (source.virtualFunctions().getFirst().device().queuePair(0).counter(
                    io.vnicd.virtio.net.NetQueuePair.Counter.RX_BYTES) < (2L << 20) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            dst.qmp().migrateIncoming("unix:" + channel);
            src.qmp().migrate("unix:" + channel);
            QmpClient.MigrationStatus m = src.qmp().awaitMigration(Duration.ofSeconds(300));
            Matcher ping = peer.awaitConsole(PING, BOOT);
            Matcher sent = peer.awaitConsole(SENT, BOOT);
            boolean completed = m.status().equals("completed");
            Matcher got = completed ? dst.awaitConsole(RECEIVED, BOOT) : null;
            boolean intact = got != null && sent.group(3).equals("0") && sent.group(1).equals(got.group(1))
                    && sent.group(2).equals(got.group(2));
            int pingsSent = Integer.parseInt(ping.group(1));
            return new Measurement(where, m.status(), m.downtimeMillis(), m.totalTimeMillis(), pingsSent,
                    pingsSent - Integer.parseInt(ping.group(2)), intact, got == null ? 0 : Long.parseLong(got.group(1)),
                    m.error() == null ? "dirty syncs " + m.dirtySyncCount() : m.error());
        }
    }

    /** {@code scripts/drill migrate}. */
    public static void main(String[] args) throws Exception {
        Path work = Files.createTempDirectory("vnicd-migrate-");
        List<Measurement> results = new MigrationDrill(work, Options.defaults()).run();
        System.out.println();
        System.out.println("migration drill: a guest moves live while a peer pings it every 100 ms and streams "
                + (Options.defaults().streamBytes() >> 20) + " MiB of TCP into it");
        System.out.println(HEADER);
        results.forEach(System.out::println);
    }
}
