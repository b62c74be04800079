package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vnicd.virtio.testing.TestGuest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** vnicctl against a running daemon: link show, stats, flow show -s, rules, exit codes for usage and refusals. */
class VnicctlTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAC0 = 0x5254_0000_0b01L;
    private static final long MAC1 = 0x5254_0000_0b02L;

    @TempDir
    Path dir;

    private record Run(int status, String out, String err) {
        JsonNode json() throws Exception {
            return JSON.readTree(out);
        }
    }

    private Run vnicctl(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new java.util.ArrayList<>(List.of("--control", dir.resolve("control.sock").toString()));
        all.addAll(List.of(args));
        int status = Vnicctl.run(all.toArray(new String[0]), new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(status, out.toString(), err.toString());
    }

    /** An IPv4 UDP frame to dstPort (checksums left zero: the classifier does not check them). */
    private static byte[] udp(long dst, long src, int dstPort) {
        byte[] f = TestGuest.frame(dst, src, 60, 0);
        java.util.Arrays.fill(f, 14, f.length, (byte) 0);
        f[12] = 0x08;
        f[13] = 0x00;
        f[14] = 0x45;
        f[16] = 0;
        f[17] = 46;
        f[22] = 64;
        f[23] = 17;
        f[26] = 10;
        f[29] = 1;
        f[30] = 10;
        f[33] = 2;
        f[34] = 0x13;
        f[35] = (byte) 0x88;
        f[36] = (byte) (dstPort >> 8);
        f[37] = (byte) dstPort;
        f[38] = 0;
        f[39] = 26;
        return f;
    }

    private VnicdConfig config() {
        return new VnicdConfig(dir.resolve("control.sock").toString(), null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, null),
                new VnicdConfig.VfConfig("vf1", dir.resolve("vf1.sock").toString(), "server", 1, null)))));
    }

    @Test
    void shouldShowLinksStatsAndFlowsOfARunningDaemon() throws Exception {
        try (Vnicd vnicd = new Vnicd(config().validate()).start();
             TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            assertEquals(2, vnicd.physicalFunction("pf0").virtualFunctions().size());
            Run links = vnicctl("link", "show", "-o", "json");
            assertEquals(0, links.status(), links.err());
            JsonNode l = links.json();
            assertEquals(3, l.size(), "pf0 and its two VFs: " + l);
            assertEquals("pf0/vf0", l.get(1).path("link").asText());
            assertEquals("vf", l.get(1).path("class").asText());
            assertTrue(l.get(1).path("connected").asBoolean(), "vf0's frontend is connected: " + l.get(1));

            Run text = vnicctl("link", "show", "vf1");
            assertEquals(0, text.status(), text.err());
            assertTrue(text.out().startsWith("LINK"), text.out());
            assertTrue(text.out().contains("pf0/vf1") && text.out().contains(dir.resolve("vf1.sock").toString()), text.out());
            Run missing = vnicctl("link", "show", "vf9");
            assertEquals(1, missing.status());
            assertTrue(missing.err().contains("no link named 'vf9'"), missing.err());

            g1.send(TestGuest.frame(MAC0, MAC1, 60, 0));
            assertNotNull(g0.receive(Duration.ofSeconds(5)));
            for (int i = 0; i < 50; i++) {
                g0.send(TestGuest.frame(MAC1, MAC0, 300, i));
                assertNotNull(g1.receive(Duration.ofSeconds(5)), "frame " + i);
            }
            Run stats = vnicctl("stats", "-o", "json");
            assertEquals(0, stats.status(), stats.err());
            JsonNode vf0 = stats.json().get(0);
            assertEquals("pf0/vf0", vf0.path("link").asText());
            assertEquals(50, vf0.path("txFrames").asLong(), vf0.toString());
            assertEquals(50 * 300, vf0.path("txBytes").asLong(), vf0.toString());
            assertTrue(stats.json().get(1).path("rxFrames").asLong() >= 50, stats.out());

            Run watch = vnicctl("stats", "-w", "0.2", "-c", "2");
            assertEquals(0, watch.status(), watch.err());
            assertEquals(2, watch.out().split("RX-FRAMES/S", -1).length - 1, "two intervals: " + watch.out());

            Path rules = dir.resolve("rules.json");
            Files.writeString(rules, """
                    {"rules":[{"name":"web","table":"root","order":10,"match":{"proto":"tcp","dst-port":"80"},"action":"vf:vf1"}]}""");
            Run set = vnicctl("rules", rules.toString(), "--pf", "pf0");
            assertEquals(0, set.status(), set.err());
            Run flows = vnicctl("flow", "show", "-s", "-o", "json");
            assertEquals(0, flows.status(), flows.err());
            assertTrue(flows.out().contains("\"flow\" : \"web\"") && flows.out().contains("\"hits\""), flows.out());
            Run flowText = vnicctl("flow", "show", "-s");
            assertTrue(flowText.out().startsWith("FLOW") && flowText.out().contains("web"), flowText.out());

            Run add = vnicctl("flow", "add", "dns", "--match", "proto=udp,dst-port=53", "--action", "drop");
            assertEquals(0, add.status(), add.err());
            assertEquals(20, add.json().path("order").asInt(), "after the table's last rule: " + add.out());
            Run bad = vnicctl("flow", "add", "oops", "--match", "src-ip=300.1.2.3", "--action", "drop");
            assertEquals(1, bad.status());
            assertTrue(bad.err().contains("oops") && bad.err().contains("the rules in force stay"), bad.err());
            Run dup = vnicctl("flow", "add", "dns", "--match", "proto=udp", "--action", "drop");
            assertEquals(1, dup.status());
            assertTrue(dup.err().contains("exists already"), dup.err());
            Run both = vnicctl("flow", "show");
            assertTrue(both.out().contains("dst-port=53,proto=udp") && both.out().contains("drop"), both.out());
            assertEquals(2, vnicd.physicalFunction("pf0").rules().size());
            // the added rule is on the data path: a UDP frame to port 53 from vf0 is dropped and counted
            long drops = vnicd.physicalFunction("pf0").ruleDrops();
            g0.send(udp(MAC1, MAC0, 53));
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (vnicd.physicalFunction("pf0").ruleDrops() == drops && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(drops + 1, vnicd.physicalFunction("pf0").ruleDrops(), "the new flow drops DNS");
            Run removed = vnicctl("flow", "remove", "dns");
            assertEquals(0, removed.status(), removed.err());
            assertEquals(1, vnicd.physicalFunction("pf0").rules().size());
            Run gone = vnicctl("flow", "remove", "dns");
            assertEquals(1, gone.status());
            assertTrue(gone.err().contains("has no flow 'dns'"), gone.err());

            Run raw = vnicctl("{\"command\":\"status\"}");
            assertEquals(0, raw.status(), raw.err());
            assertTrue(raw.json().path("ok").asBoolean());
        }
    }

    @Test
    void shouldSayWhatIsWrongWithExitStatusesScriptsCanTell() {
        Run unreachable = vnicctl("link", "show");
        assertEquals(1, unreachable.status());
        assertTrue(unreachable.err().contains("cannot reach vnicd at " + dir.resolve("control.sock")), unreachable.err());
        Run unknown = vnicctl("frobnicate");
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().contains("frobnicate"), unknown.err());
        Run badWatch = vnicctl("stats", "-w", "-3");
        assertEquals(2, badWatch.status(), badWatch.err());
        Run routerWithoutPf = vnicctl("router", "10.1.0.5");
        assertEquals(2, routerWithoutPf.status());
        assertTrue(routerWithoutPf.err().contains("--at"), routerWithoutPf.err());
        Run help = vnicctl("--help");
        assertEquals(0, help.status());
        assertTrue(help.out().contains("link") && help.out().contains("stats") && help.out().contains("flow"), help.out());
    }
    /**
     * Sends count frames of length bytes from g0 to g1 (g1 draining on its own thread). With all, every frame must
     * arrive, and the seconds until the last did are returned; without, the test driver's receiver may fall behind an
     * unshaped sender (what its ring cannot hold is dropped and counted by vnicd), and the seconds g0 took to hand
     * them over are returned.
     */
    private static double stream(TestGuest g0, TestGuest g1, int count, int length, boolean all) throws Exception {
        java.util.concurrent.atomic.AtomicInteger got = new java.util.concurrent.atomic.AtomicInteger();
        Thread receiver = Thread.ofPlatform().start(() -> {
            try {
                // without all, frames the driver's ring could not hold never come: stop once it is quiet
                while (got.get() < count && g1.receive(Duration.ofSeconds(all ? 10 : 1)) != null) {
                    got.incrementAndGet();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        long t0 = System.nanoTime();
        for (int i = 0; i < count; i++) {
            g0.send(TestGuest.frame(MAC1, MAC0, length, i));
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        receiver.join(30_000);
        if (all) {
            assertEquals(count, got.get(), "every frame arrived");
            seconds = (System.nanoTime() - t0) / 1e9;
        } else {
            assertTrue(got.get() > 0, "frames arrived");
        }
        return seconds;
    }

    @Test
    void shouldShapeAVfsTransmitAndSetItsLinkStateAtRunTime() throws Exception {
        try (Vnicd vnicd = new Vnicd(config().validate()).start();
             TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            g1.send(TestGuest.frame(MAC0, MAC1, 60, 0));
            assertNotNull(g0.receive(Duration.ofSeconds(5)));

            Run set = vnicctl("vf", "set", "vf0", "rate", "8mbit");
            assertEquals(0, set.status(), set.err());
            assertEquals(8_000_000L, set.json().path("txRateBitsPerSecond").asLong());
            // 1.5 MB at 1 MB/s, of which the bucket's burst (131 kB) goes at once: about 1.4 s; never faster
            double shaped = stream(g0, g1, 1500, 1000, true);
            assertTrue(shaped >= 1.1, "8 Mbit/s holds 1.5 MB back for more than 1.1 s: " + shaped + " s");
            assertTrue(shaped < 6, "and lets it through at about the rate: " + shaped + " s");
            assertEquals(0, vnicd.physicalFunction("pf0").virtualFunctions().getFirst().device().queueErrors());

            assertEquals(0, vnicctl("vf", "set", "vf0", "rate", "0").status());
            double unshaped = stream(g0, g1, 1500, 1000, false);
            assertTrue(unshaped < shaped / 2, "without the limit it goes faster: " + unshaped + " s against " + shaped);

            VirtualFunctionView vf1 = new VirtualFunctionView(vnicd, "vf1");
            assertTrue(vf1.carrier());
            Run down = vnicctl("vf", "set", "vf1", "state", "disable");
            assertEquals(0, down.status(), down.err());
            assertTrue(!vf1.carrier(), "disable takes vf1's link down");
            Run shown = vnicctl("link", "show", "vf1", "-o", "json");
            assertEquals("disable", shown.json().get(0).path("linkState").asText(), shown.out());
            assertTrue(vf0Carrier(vnicd), "vf0 is not disturbed");
            assertEquals(0, vnicctl("vf", "set", "vf1", "state", "enable").status());
            assertTrue(vf1.carrier(), "enable brings it up");
            assertEquals(0, vnicctl("vf", "set", "vf1", "state", "auto").status());
            assertTrue(vf1.carrier(), "auto follows the wire: no uplink, up");

            Run badState = vnicctl("vf", "set", "vf1", "state", "sideways");
            assertEquals(1, badState.status());
            assertTrue(badState.err().contains("auto, enable or disable"), badState.err());
            Run badRate = vnicctl("vf", "set", "vf1", "rate", "fast");
            assertEquals(1, badRate.status());
            assertTrue(badRate.err().contains("not a rate"), badRate.err());
            Run noVf = vnicctl("vf", "set", "vf7", "state", "enable");
            assertEquals(1, noVf.status());
            assertTrue(noVf.err().contains("no VF 'vf7'"), noVf.err());
            Run badMac = vnicctl("vf", "set", "vf1", "mac", "01:00:5e:00:00:01");
            assertEquals(1, badMac.status());
            assertTrue(badMac.err().contains("multicast"), badMac.err());
            Run badVlan = vnicctl("vf", "set", "vf1", "vlan", "5000");
            assertEquals(1, badVlan.status(), badVlan.err());
        }
    }

    private static boolean vf0Carrier(Vnicd vnicd) {
        return new VirtualFunctionView(vnicd, "vf0").carrier();
    }

    /** A VF of pf0 by name. */
    private record VirtualFunctionView(Vnicd vnicd, String name) {
        boolean carrier() {
            return vnicd.physicalFunction("pf0").virtualFunction(name).endpoint().carrier();
        }
    }
    @Test
    void shouldAddAndRemoveVfsOfARunningDaemon() throws Exception {
        long mac2 = 0x5254_0000_0b03L;
        Path sock2 = dir.resolve("vf2.sock");
        try (Vnicd vnicd = new Vnicd(config().validate()).start();
             TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Run add = vnicctl("vf", "add", "pf0", "vf2", "--socket", sock2.toString(), "--mac", "52:54:00:00:0b:03");
            assertEquals(0, add.status(), add.err());
            assertTrue(Files.exists(sock2), "vf2 listens at once");
            try (TestGuest g2 = TestGuest.connect(sock2)) {
                g2.send(TestGuest.frame(MAC0, mac2, 60, 0));
                assertNotNull(g0.receive(Duration.ofSeconds(5)), "vf2's frame reached vf0");
                g0.send(TestGuest.frame(mac2, MAC0, 60, 1));
                assertNotNull(g2.receive(Duration.ofSeconds(5)), "vf0's frame reached the new vf2");
                Run shown = vnicctl("link", "show", "vf2", "-o", "json");
                assertEquals(0, shown.status(), shown.err());
                assertTrue(shown.json().get(0).path("connected").asBoolean(), shown.out());

                Run dup = vnicctl("vf", "add", "pf0", "vf2", "--socket", dir.resolve("other.sock").toString());
                assertEquals(1, dup.status());
                assertTrue(dup.err().contains("vf2"), dup.err());
                Run sameSocket = vnicctl("vf", "add", "pf0", "vf3", "--socket", dir.resolve("vf1.sock").toString());
                assertEquals(1, sameSocket.status());
                assertTrue(sameSocket.err().contains("used twice"), sameSocket.err());
                Run badMac = vnicctl("vf", "add", "pf0", "vf3", "--socket", dir.resolve("vf3.sock").toString(), "--mac", "nope");
                assertEquals(1, badMac.status());
                assertTrue(badMac.err().contains("nope"), badMac.err());
                assertEquals(3, vnicd.physicalFunction("pf0").virtualFunctions().size(), "refused adds added nothing");

                Run del = vnicctl("vf", "del", "pf0", "vf2");
                assertEquals(0, del.status(), del.err());
                assertTrue(g2.frontend().isClosedByPeer(), "vf2's frontend was disconnected");
                assertTrue(!Files.exists(sock2), "its socket is gone");
            }
            assertEquals(2, vnicd.physicalFunction("pf0").virtualFunctions().size());
            Run gone = vnicctl("link", "show", "vf2");
            assertEquals(1, gone.status());
            Run delAgain = vnicctl("vf", "del", "pf0", "vf2");
            assertEquals(1, delAgain.status());
            assertTrue(delAgain.err().contains("no VF 'vf2'"), delAgain.err());

            // the others were not disturbed, and a frame for the removed VF's address is flooded, not lost in it
            g0.send(TestGuest.frame(mac2, MAC0, 60, 2));
            assertNotNull(g1.receive(Duration.ofSeconds(5)), "vf1 still switches");

            // the same name and socket again
            assertEquals(0, vnicctl("vf", "add", "pf0", "vf2", "--socket", sock2.toString()).status());
            try (TestGuest again = TestGuest.connect(sock2)) {
                again.send(TestGuest.frame(MAC0, mac2, 60, 3));
                assertNotNull(g0.receive(Duration.ofSeconds(5)), "the re-added vf2 switches");
            }
        }
    }
    @Test
    void shouldSwitchSpoofCheckingAndTrustAtRunTime() throws Exception {
        VnicdConfig config = new VnicdConfig(dir.resolve("control.sock").toString(), null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, "52:54:00:00:0b:01"),
                new VnicdConfig.VfConfig("vf1", dir.resolve("vf1.sock").toString(), "server", 1, null)))));
        long spoofed = 0x0200_0000_0bffL;
        try (Vnicd vnicd = new Vnicd(config.validate()).start();
             TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            io.vnicd.sriov.pf.PhysicalFunction pf = vnicd.physicalFunction("pf0");
            Run shown = vnicctl("link", "show", "vf0", "-o", "json");
            assertTrue(shown.json().get(0).path("spoofchk").asBoolean(), shown.out());
            g0.send(TestGuest.frame(-1L & 0xffff_ffff_ffffL, spoofed, 60, 0));
            assertEquals(null, g1.receive(Duration.ofMillis(500)), "spoofchk on: a frame from another address is dropped");
            assertEquals(1, pf.spoofDrops());

            assertEquals(0, vnicctl("vf", "set", "vf0", "trust", "on").status());
            g0.send(TestGuest.frame(-1L & 0xffff_ffff_ffffL, spoofed, 60, 1));
            assertNotNull(g1.receive(Duration.ofSeconds(5)), "a trusted VF may send from any address");
            assertEquals(0, vnicctl("vf", "set", "vf0", "trust", "off").status());
            g0.send(TestGuest.frame(-1L & 0xffff_ffff_ffffL, spoofed, 60, 2));
            assertEquals(null, g1.receive(Duration.ofMillis(500)));
            assertEquals(2, pf.spoofDrops());
            Run off = vnicctl("vf", "set", "vf0", "spoofchk", "off");
            assertEquals(0, off.status(), off.err());
            assertTrue(!off.json().path("spoofchk").asBoolean(), off.out());
            g0.send(TestGuest.frame(-1L & 0xffff_ffff_ffffL, spoofed, 60, 3));
            assertNotNull(g1.receive(Duration.ofSeconds(5)), "spoofchk off lets it through");
            Run bad = vnicctl("vf", "set", "vf0", "spoofchk", "maybe");
            assertEquals(1, bad.status());
            assertTrue(bad.err().contains("on or off"), bad.err());
        }
    }
    @Test
    void shouldChangeAVfsMacAndVlanAtRunTime() throws Exception {
        try (Vnicd vnicd = new Vnicd(config().validate()).start();
             TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            g0.send(TestGuest.frame(-1L & 0xffff_ffff_ffffL, MAC0, 60, 0));
            assertNotNull(g1.receive(Duration.ofSeconds(5)), "both in VLAN 0");
            Run set = vnicctl("vf", "set", "vf1", "vlan", "7", "mac", "52:54:00:00:0b:02");
            assertEquals(0, set.status(), set.err());
            Run shown = vnicctl("link", "show", "vf1", "-o", "json");
            assertEquals(7, shown.json().get(0).path("vlan").asInt(), shown.out());
            assertEquals("52:54:00:00:0b:02", shown.json().get(0).path("mac").asText(), shown.out());
            g0.send(TestGuest.frame(-1L & 0xffff_ffff_ffffL, MAC0, 60, 1));
            assertEquals(null, g1.receive(Duration.ofMillis(500)), "vf1 is in VLAN 7 now: vf0's broadcast stays in VLAN 0");
            assertEquals(0, vnicctl("vf", "set", "vf0", "vlan", "7").status());
            g0.send(TestGuest.frame(-1L & 0xffff_ffff_ffffL, MAC0, 60, 2));
            assertNotNull(g1.receive(Duration.ofSeconds(5)), "both in VLAN 7");
            Run dup = vnicctl("vf", "set", "vf0", "mac", "52:54:00:00:0b:02");
            assertEquals(1, dup.status());
            assertTrue(dup.err().contains("52:54:00:00:0b:02"), dup.err());
            assertEquals(0, vnicctl("vf", "set", "vf1", "mac", "learn").status());
            assertTrue(vnicd.physicalFunction("pf0").virtualFunction("vf1").mac() < 0, "vf1 learns its address again");
        }
    }
}
