package io.vnicd.tests.drill;

import io.vnicd.sriov.uplink.Failover;
import io.vnicd.sriov.uplink.NicCounter;
import io.vnicd.sriov.uplink.Uplink;
import io.vnicd.testkit.Peers;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.GuestImage;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuLauncher;
import io.vnicd.vmm.qemu.QemuNic;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The failover drill: a wire of network namespaces (a bridge with a host on it, two veth pairs as a PF's two
 * backing NICs), a QEMU guest on vnicd, and, while the host pings the guest every 2 ms and streams TCP to it,
 * the active backing interface killed: deleted ({@code ip link del}), then (once it is back) the other kind of
 * failure, its far end set down (carrier loss). Measured: the largest gap in the replies, pings lost, whether the
 * stream arrived intact (md5 at both ends), and the time from the failure to the first frame on the other NIC.
 * <p>
 * The same two failures are then done the way they are without vnicd's remapping: Linux bonding in the guest
 * (active-backup, miimon 100) over one VF on each of two PFs, each PF on one NIC, where losing a NIC takes that
 * VF's link down. Both are printed side by side ({@code scripts/drill failover}); the integration test runs the
 * same drill and asserts on its results.
 */
public final class FailoverDrill {
    static final String HOST_IP = "10.77.0.1";
    static final String GUEST_IP = "10.77.0.2";
    private static final Pattern TCP_RECV = Pattern.compile("result tcp-recv bytes=(\\d+) md5=([0-9a-f]+)");
    private static final Pattern SENT = Pattern.compile("sent (\\d+) md5 ([0-9a-f]+)");
    private static final Duration BOOT = Duration.ofSeconds(180);

    /**
     * @param pingIntervalMillis the host's ping interval
     * @param pingSeconds        how long each ping stream runs
     * @param failAfterSeconds   when, into the stream, the failure is made
     * @param streamBytes        the TCP stream's size, paced over streamSeconds
     */
    public record Options(double pingIntervalMillis, double pingSeconds, double failAfterSeconds, long streamBytes,
                          double streamSeconds) {
        public static Options defaults() {
            return new Options(2, 6, 2, 12L << 20, 5);
        }

        int pingCount() {
            return (int) Math.round(pingSeconds * 1000 / pingIntervalMillis);
        }
    }

    /**
     * One failure, measured.
     *
     * @param gapBeforeMillis  the largest gap in replies before the failure: what the guest's own jitter is (TCG)
     * @param gapMillis        the largest gap in replies across the failure (within the second after it)
     * @param firstFrameMicros from the failure command to the first frame out on the other NIC, or -1
     * @param detail           vnicd's own record of the failover, or why the stream broke
     */
    public record Measurement(String scenario, String failure, long pingsSent, long pingsLost, double gapBeforeMillis,
                              double gapMillis, boolean streamIntact, long streamBytes, long firstFrameMicros,
                              String detail) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-22s %-14s %9.1f ms %9.1f ms %6d/%-6d %-9s %12s  %s", scenario, failure,
                    gapMillis, gapBeforeMillis, pingsLost, pingsSent, streamIntact ? "intact" : "BROKEN",
                    firstFrameMicros < 0 ? "-" : String.format(Locale.ROOT, "%.2f ms", firstFrameMicros / 1000.0), detail);
        }
    }

    public static final String HEADER = String.format(Locale.ROOT, "%-22s %-14s %12s %12s %13s %-9s %12s  %s",
            "how", "failure", "largest gap", "gap before", "pings lost", "stream", "to 1st frame", "");

    private final Path dir;
    private final Options options;

    public FailoverDrill(Path dir, Options options) {
        this.dir = dir;
        this.options = options;
    }

    /** Both ways, both failures each. */
    public List<Measurement> run() throws Exception {
        List<Measurement> out = new ArrayList<>(remapping());
        out.addAll(bonding());
        return out;
    }

    /** The test guest's image; QEMU and ping are required (in CI a missing one fails, see Peers). */
    public static GuestImage image() throws IOException {
        Peers.executable(QemuLauncher.DEFAULT_BINARY, "apt-get install qemu-system-x86");
        Peers.executable("ping", "apt-get install iputils-ping");
        return GuestImage.locate();
    }

    private static VnicdConfig.VfConfig vf(Path dir, String name) {
        return new VnicdConfig.VfConfig(name, dir.resolve(name + ".sock").toString(), "server", 1, null);
    }

    /** vnicd's remapping: one PF on both NICs, the guest on one VF. */
    List<Measurement> remapping() throws Exception {
        GuestImage image = image();
        Path d = Files.createDirectories(dir.resolve("remap"));
        try (Wire wire = new Wire(HOST_IP + "/24")) {
            VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(vf(d, "vf0")),
                    List.of(wire.pnic(0), wire.pnic(1)), new VnicdConfig.AggregationConfig("active-backup", false))));
            try (Vnicd vnicd = new Vnicd(config.validate()).start();
                 QemuGuest guest = QemuLauncher.builder(image, d, "remap")
                         .nic(QemuNic.vhostUser("vf0", "52:54:00:77:00:02", d.resolve("vf0.sock")).withReconnect(1))
                         .kernelArgs("vnicd.ip=eth0:" + GUEST_IP + "/24", "vnicd.run=tcp-recv:5001", "vnicd.run=tcp-recv:5002",
                                 "vnicd.stay=1", "vnicd.timeout=900")
                         .build().start()) {
                Uplink up = vnicd.physicalFunction("pf0").uplink();
                guest.awaitMarker("listening tcp 5001", BOOT);
                awaitReachable(wire, GUEST_IP);
                List<Measurement> out = new ArrayList<>();
                out.add(measure("vnicd remapping", "ip link del", wire, guest, 5001, 1,
                        () -> wire.net().delete(wire.pnic(0)), t0 -> firstFrame(up, t0), () -> record(up)));
                wire.attach(0);
                awaitState(up, 0, "standby");
                guest.awaitMarker("listening tcp 5002", BOOT);
                out.add(measure("vnicd remapping", "carrier loss", wire, guest, 5002, 2,
                        () -> wire.net().setDown(wire.ns(), wire.far(1)), t0 -> firstFrame(up, t0), () -> record(up)));
                return out;
            }
        }
    }

    /** Linux bonding in the guest: one VF on each of two PFs, each PF on one NIC. */
    List<Measurement> bonding() throws Exception {
        GuestImage image = image();
        Path d = Files.createDirectories(dir.resolve("bond"));
        try (Wire wire = new Wire(HOST_IP + "/24")) {
            VnicdConfig config = new VnicdConfig(null, null, List.of(
                    new VnicdConfig.PfConfig("pf0", List.of(vf(d, "vf0")), List.of(wire.pnic(0)), null),
                    new VnicdConfig.PfConfig("pf1", List.of(vf(d, "vf1")), List.of(wire.pnic(1)), null)));
            try (Vnicd vnicd = new Vnicd(config.validate()).start();
                 QemuGuest guest = QemuLauncher.builder(image, d, "bond")
                         .nic(QemuNic.vhostUser("vf0", "52:54:00:77:00:12", d.resolve("vf0.sock")).withReconnect(1))
                         .nic(QemuNic.vhostUser("vf1", "52:54:00:77:00:13", d.resolve("vf1.sock")).withReconnect(1))
                         .kernelArgs("vnicd.bond=bond0:eth0,eth1:" + GUEST_IP + "/24", "vnicd.run=tcp-recv:5001",
                                 "vnicd.run=tcp-recv:5002", "vnicd.stay=1", "vnicd.timeout=900")
                         .build().start()) {
                guest.awaitMarker("bond bond0 active eth0", BOOT);
                guest.awaitMarker("listening tcp 5001", BOOT);
                awaitReachable(wire, GUEST_IP);
                Uplink up0 = vnicd.physicalFunction("pf0").uplink();
                Uplink up1 = vnicd.physicalFunction("pf1").uplink();
                List<Measurement> out = new ArrayList<>();
                out.add(measure("bonding in the guest", "ip link del", wire, guest, 5001, 1,
                        () -> wire.net().delete(wire.pnic(0)), t0 -> firstTransmit(up1, t0), () -> "miimon 100, VF link down"));
                guest.awaitMarker("bond bond0 active eth1", BOOT);
                wire.attach(0);
                awaitState(up0, 0, "active");
                guest.awaitConsole("carrier eth0 up", BOOT);
                guest.awaitMarker("listening tcp 5002", BOOT);
                out.add(measure("bonding in the guest", "carrier loss", wire, guest, 5002, 2,
                        () -> wire.net().setDown(wire.ns(), wire.far(1)), t0 -> firstTransmit(up0, t0), () -> "miimon 100, VF link down"));
                return out;
            }
        }
    }

    /** Until the host's pings are answered (the guest's address is up and ARP resolved). */
    public static void awaitReachable(Wire wire, String ip) throws Exception {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (!wire.net().exec(wire.ns(), "ping", "-c", "1", "-W", "1", ip).ok()) {
            if (System.nanoTime() > deadline) {
                throw new IOException("the guest never answered pings from the wire");
            }
        }
    }

    private static void awaitState(Uplink up, int nic, String state) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!up.nics().get(nic).state().equals(state)) {
            if (System.nanoTime() > deadline) {
                throw new IOException(up + ": NIC " + nic + " is " + up.nics().get(nic).state() + ", not " + state);
            }
            Thread.sleep(20);
        }
    }

    /** vnicd's own record: from t0 to the first frame of traffic on the NIC the stations moved to. */
    private static long firstFrame(Uplink up, long t0) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            List<Failover> fs = up.failovers();
            if (!fs.isEmpty()) {
                Failover f = fs.getLast();
                if (f.seenNanos() >= t0 && f.firstFrameNanos() != 0) {
                    return (f.firstFrameNanos() - t0) / 1000;
                }
            }
            Thread.sleep(1);
        }
        return -1;
    }

    /** vnicd's last failover as it recorded it: what it saw, how fast it moved, when traffic left by the new NIC. */
    private static String record(Uplink up) {
        List<Failover> fs = up.failovers();
        if (fs.isEmpty()) {
            return "no failover recorded";
        }
        Failover f = fs.getLast();
        return String.format(Locale.ROOT, "vnicd: %s seen, %d station(s) moved in %d us, first frame %d us after it was seen",
                f.reason(), f.stations(), f.remapMicros(), f.firstFrameMicros());
    }

    /** Bonding's: from t0 to the first frame the other PF's NIC sent (the bond's inactive slave sends nothing). */
    private static long firstTransmit(Uplink other, long t0) throws InterruptedException {
        long before = other.nics().getFirst().counters().get(NicCounter.TX_FRAMES);
        long deadline = t0 + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (other.nics().getFirst().counters().get(NicCounter.TX_FRAMES) != before) {
                return (System.nanoTime() - t0) / 1000;
            }
            Thread.sleep(0, 200_000);
        }
        return -1;
    }

    @FunctionalInterface
    private interface Failure {
        void make() throws Exception;
    }

    @FunctionalInterface
    private interface FirstFrame {
        long after(long t0) throws Exception;
    }

    private Measurement measure(String scenario, String failure, Wire wire, QemuGuest guest, int port, int nth,
                                Failure fail, FirstFrame firstFrame, java.util.function.Supplier<String> note) throws Exception {
        Process ping = wire.start("ping", "-D", "-n", "-i", String.format(Locale.ROOT, "%.3f", options.pingIntervalMillis / 1000),
                "-c", Integer.toString(options.pingCount()), "-W", "1", GUEST_IP);
        Process sender = wire.startJava(StreamSender.class, GUEST_IP, Integer.toString(port), Long.toString(options.streamBytes), Double.toString(options.streamSeconds));
        Thread.sleep((long) (options.failAfterSeconds * 1000));
        double failedAt = System.currentTimeMillis() / 1000.0;
        long t0 = System.nanoTime();
        fail.make();
        long first = firstFrame.after(t0);
        String pingOut = output(ping, options.pingSeconds + 60);
        String senderOut = output(sender, options.streamSeconds + 120);
        Matcher recv = guest.awaitConsole(TCP_RECV, nth, BOOT);
        Matcher sent = SENT.matcher(senderOut);
        boolean intact = sent.find() && sent.group(2).equals(recv.group(2)) && sent.group(1).equals(recv.group(1));
        PingStream p = PingStream.parse(pingOut);
        String detail = intact ? note.get() : "sender: " + senderOut.strip() + "; guest: " + recv.group();
        return new Measurement(scenario, failure, p.sent(), p.lost(), p.largestGapMillis(Double.NEGATIVE_INFINITY, failedAt),
                p.gapAcrossMillis(failedAt, failedAt + 1), intact, Long.parseLong(recv.group(1)), first, detail);
    }

    private static String output(Process p, double seconds) throws Exception {
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor((long) seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    /** {@code scripts/drill failover}: runs both ways and prints them side by side. */
    public static void main(String[] args) throws Exception {
        Path work = Files.createTempDirectory("vnicd-drill-");
        FailoverDrill drill = new FailoverDrill(work, Options.defaults());
        List<Measurement> results = drill.run();
        System.out.println();
        System.out.println("failover drill: the host pings the guest every " + Options.defaults().pingIntervalMillis()
                + " ms and streams " + (Options.defaults().streamBytes() >> 20) + " MiB of TCP to it; the active NIC fails "
                + Options.defaults().failAfterSeconds() + " s in");
        System.out.println(HEADER);
        for (Measurement m : results) {
            System.out.println(m);
        }
        System.out.println("(largest gap: between two replies across the failure; gap before: the largest before it, the guest's"
                + " own jitter under TCG; to 1st frame: from the failure command, ip's start included, to the first frame on the"
                + " other NIC)");
    }
}
