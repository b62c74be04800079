package io.vnicd.sriov.pf;

import io.vnicd.devmodel.port.Port;
import io.vnicd.sriov.peer.PeerLink;
import io.vnicd.sriov.uplink.AggregationPolicy;
import io.vnicd.testkit.TestNetwork;
import io.vnicd.virtio.testing.TestGuest;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Media-based transfer (US7970951): two PFs that are peers on one host and also share a wire. Between their VFs the
 * path takes the shared-memory channel; when the channel is torn down while both still reach the wire, it falls back
 * to the wire without losing the destination, and returns to the channel when it is back.
 */
class MediaTest {
    private static final long MAC_A = 0x02_00_00_00_0c_01L;
    private static final long MAC_B = 0x02_00_00_00_0c_02L;
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private static void await(BooleanSupplier c, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!c.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(10);
        }
    }

    private static Port.Kind medium(PhysicalFunction pf, long mac) {
        int port = pf.vswitch().entryPort(mac, 0);
        return port < 0 ? null : pf.vswitch().port(port).kind();
    }

    /** Frames both ways until each side's table shows the other's VF behind a port of kind. */
    private static void exchangeUntil(PhysicalFunction a, TestGuest ga, PhysicalFunction b, TestGuest gb, Port.Kind kind)
            throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        int i = 0;
        while (medium(a, MAC_B) != kind || medium(b, MAC_A) != kind) {
            assertTrue(System.nanoTime() < deadline, "both sides reach the other's VF by " + kind
                    + " (now " + medium(a, MAC_B) + " / " + medium(b, MAC_A) + "; uplinks " + status(a) + " / " + status(b) + ")");
            ga.send(TestGuest.frame(MAC_B, MAC_A, 80, i));
            gb.send(TestGuest.frame(MAC_A, MAC_B, 80, i));
            drain(ga);
            drain(gb);
            i++;
            Thread.sleep(20);
        }
    }

    private static String status(PhysicalFunction pf) {
        StringBuilder sb = new StringBuilder();
        for (var n : pf.uplink().nics()) {
            sb.append(n.name()).append(' ').append(n.state()).append(' ').append(n.counters());
        }
        return sb + " port " + pf.uplink().counters();
    }

    private static void drain(TestGuest g) throws Exception {
        while (g.receive(Duration.ofMillis(1)) != null) {
            // frames of the exchange
        }
    }

    private static void roundTrip(TestGuest ga, TestGuest gb, int seq) throws Exception {
        byte[] f = TestGuest.frame(MAC_B, MAC_A, 300, seq);
        ga.send(f);
        assertArrayEquals(f, receiveFrom(gb, MAC_A), "a to b");
        byte[] back = TestGuest.frame(MAC_A, MAC_B, 300, seq);
        gb.send(back);
        assertArrayEquals(back, receiveFrom(ga, MAC_B), "b to a");
    }

    private static byte[] receiveFrom(TestGuest g, long src) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            byte[] f = g.receive(Duration.ofMillis(200));
            if (f != null && f.length == 300 && io.vnicd.devmodel.vswitch.MacAddress.read(java.lang.foreign.MemorySegment.ofArray(f), 6) == src) {
                return f;
            }
        }
        return null;
    }

    @Test
    void shouldFallBackToTheWireWhenTheChannelGoesAndReturnWhenItIsBack() throws Exception {
        try (TestNetwork net = TestNetwork.create("media")) {
            String ns = net.netns("wire");
            String br = net.bridge("br", ns);
            TestNetwork.VethPair pa = net.veth("ma", "wa", ns, null);
            TestNetwork.VethPair pb = net.veth("mb", "wb", ns, null);
            for (TestNetwork.VethPair p : List.of(pa, pb)) {
                net.quiet(null, p.a());
                net.quiet(ns, p.b());
                net.addToBridge(ns, p.b(), br);
            }
            Path peer = dir.resolve("peers/peer.sock");
            try (PhysicalFunction a = new PhysicalFunction("pfa"); PhysicalFunction b = new PhysicalFunction("pfb")) {
                a.addVirtualFunction("vf0", dir.resolve("a.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC_A, Duration.ofMillis(100));
                b.addVirtualFunction("vf0", dir.resolve("b.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC_B, Duration.ofMillis(100));
                a.addUplink(List.of(pa.a()), AggregationPolicy.ACTIVE_BACKUP, false);
                b.addUplink(List.of(pb.a()), AggregationPolicy.ACTIVE_BACKUP, false);
                a.addPeer(peer);
                PeerLink bLink = b.addPeer(peer);
                a.start();
                b.start();
                try (TestGuest ga = TestGuest.connect(dir.resolve("a.sock")); TestGuest gb = TestGuest.connect(dir.resolve("b.sock"))) {
                    Links.awaitUp(a, 1);
                    Links.awaitUp(b, 1);
                    exchangeUntil(a, ga, b, gb, Port.Kind.PROXY);
                    roundTrip(ga, gb, 1);

                    // The channel goes, both daemons stay on the wire: the path falls back to it.
                    bLink.close();
                    await(() -> !a.proxies().getFirst().linkUp(), "a sees the channel gone");
                    try {
                        exchangeUntil(a, ga, b, gb, Port.Kind.UPLINK);
                    } catch (AssertionError e) {
                        throw new AssertionError(e.getMessage() + "\nbridge: " + net.exec(ns, "bridge", "fdb", "show", "br", br).output()
                                + "\nlinks: " + net.exec(ns, "ip", "-s", "link").output(), e);
                    }
                    roundTrip(ga, gb, 2);

                    // The channel is back: the path returns to it.
                    b.addPeer(peer);
                    exchangeUntil(a, ga, b, gb, Port.Kind.PROXY);
                    roundTrip(ga, gb, 3);
                }
            }
        }
    }
}
