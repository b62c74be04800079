package io.vnicd.sriov.pf;

import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.classify.RuleSet;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.devmodel.monitor.MonitorRing;
import io.vnicd.virtio.testing.TestGuest;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The PF's classifier on frames real vhost-user guests transmit: monitor rules copy frames to the shared
 * monitor ring, steering rules pick a VF, contained attacks get only the standby budget, bad rules are refused.
 */
class PfRulesTest {
    private static final long MAC0 = 0x02_00_00_00_00_20L;
    private static final long MAC1 = 0x02_00_00_00_00_21L;
    private static final long MAC2 = 0x02_00_00_00_00_22L;
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private PhysicalFunction pf;

    private void start(long standbyFps) throws Exception {
        pf = new PhysicalFunction("pf-rules", standbyFps);
        pf.addVirtualFunction("vf0", dir.resolve("vf0.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC0, Duration.ofMillis(100));
        pf.addVirtualFunction("vf1", dir.resolve("vf1.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC1, Duration.ofMillis(100));
        pf.addVirtualFunction("vf2", dir.resolve("vf2.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC2, Duration.ofMillis(100));
        pf.start();
    }

    @AfterEach
    void tearDown() {
        if (pf != null) {
            pf.close();
        }
    }

    /** An Ethernet + IPv4 + UDP frame; addresses as 32-bit ints. */
    static byte[] udp(long dst, long src, int srcIp, int dstIp, int srcPort, int dstPort, int payload) {
        byte[] f = TestGuest.frame(dst, src, 14 + 20 + 8 + payload, srcPort);
        f[14] = 0x45;
        int ipLen = 20 + 8 + payload;
        f[16] = (byte) (ipLen >> 8);
        f[17] = (byte) ipLen;
        f[18] = 0;
        f[19] = 0;
        f[20] = 0;
        f[21] = 0;
        f[22] = 64;
        f[23] = 17;
        f[24] = 0;
        f[25] = 0;
        for (int i = 0; i < 4; i++) {
            f[26 + i] = (byte) (srcIp >>> (24 - 8 * i));
            f[30 + i] = (byte) (dstIp >>> (24 - 8 * i));
        }
        f[34] = (byte) (srcPort >> 8);
        f[35] = (byte) srcPort;
        f[36] = (byte) (dstPort >> 8);
        f[37] = (byte) dstPort;
        f[38] = (byte) ((8 + payload) >> 8);
        f[39] = (byte) (8 + payload);
        f[40] = 0;
        f[41] = 0;
        return f;
    }

    private static int ip(int a, int b, int c, int d) {
        return a << 24 | b << 16 | c << 8 | d;
    }

    @Test
    void shouldCopyMonitoredFramesToTheSharedMonitorRingWhileSwitchingThem() throws Exception {
        start(1000);
        pf.installRules(List.of(), List.of(new RuleSpec("dns", RuleSet.ROOT, 10, Map.of("proto", "udp", "dst-port", "53"), "monitor")));
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock")); TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"));
             MonitorRing reader = MonitorRing.attach(pf.monitor().path())) {
            Links.awaitUp(pf, 2);
            byte[] dns = udp(MAC1, MAC0, ip(10, 0, 0, 1), ip(10, 0, 0, 2), 40000, 53, 30);
            byte[] other = udp(MAC1, MAC0, ip(10, 0, 0, 1), ip(10, 0, 0, 2), 40000, 80, 30);
            g0.send(dns);
            g0.send(other);
            assertArrayEquals(dns, g1.receive(WAIT), "a monitored frame is still switched");
            assertArrayEquals(other, g1.receive(WAIT));
            List<byte[]> captured = new ArrayList<>();
            reader.poll((memory, at, ts, original, length) ->
                    captured.add(memory.asSlice(at, length).toArray(ValueLayout.JAVA_BYTE)), 10);
            assertEquals(1, captured.size(), "only the frame the rule matched was captured");
            assertArrayEquals(dns, captured.getFirst());
            assertEquals(1, pf.classifier().hits(RuleSet.ROOT, "dns"));
        }
    }

    @Test
    void shouldSteerAFlowToTheVfARuleNames() throws Exception {
        start(1000);
        pf.installRules(List.of(), List.of(new RuleSpec("to-vf2", RuleSet.ROOT, 1, Map.of("dst-ip", "10.9.0.0/16"), "vf:vf2")));
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock")); TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"));
             TestGuest g2 = TestGuest.connect(dir.resolve("vf2.sock"))) {
            Links.awaitUp(pf, 3);
            byte[] f = udp(MAC1, MAC0, ip(10, 0, 0, 1), ip(10, 9, 1, 1), 1, 2, 10);
            g0.send(f);
            assertArrayEquals(f, g2.receive(WAIT), "the rule overrides the destination MAC");
            assertNull(g1.receive(Duration.ofMillis(300)));
            assertEquals(1, pf.ruleSteered());
        }
    }

    @Test
    void shouldHoldOtherTrafficWhileAnAttackIsContained() throws Exception {
        start(5);
        pf.contain(List.of(new AttackDescriptor("flood", "10.6.6.6", null, "udp", null, null, 0)));
        try (TestGuest attacker = TestGuest.connect(dir.resolve("vf0.sock")); TestGuest victim = TestGuest.connect(dir.resolve("vf1.sock"));
             TestGuest friend = TestGuest.connect(dir.resolve("vf2.sock"))) {
            Links.awaitUp(pf, 3);
            int attacks = 0;
            int normal = 0;
            for (int round = 0; round < 50; round++) {
                for (int i = 0; i < 4; i++) {
                    attacker.send(udp(MAC1, MAC0, ip(10, 6, 6, 6), ip(10, 0, 0, 2), 7, 7, 64));
                    attacks++;
                }
                friend.send(udp(MAC1, MAC2, ip(10, 0, 0, 3), ip(10, 0, 0, 2), 8, 8, 64));
                normal++;
                // drain what arrived so the victim's RX ring never fills
                while (victim.receive(Duration.ofMillis(2)) != null) {
                    // counted below from the counters
                }
            }
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (pf.dos().matched() < attacks && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            while (victim.receive(Duration.ofMillis(200)) != null) {
                // drain the rest
            }
            assertEquals(attacks, pf.dos().matched(), "every attack frame was caught by the containment rule");
            assertTrue(pf.dos().admitted() <= 5 + 5, "the standby budget (5/s) admitted " + pf.dos().admitted());
            assertEquals(attacks, pf.dos().admitted() + pf.dos().dropped(), "nothing lost uncounted");
            long delivered = pf.vswitch().counters(1).get(PortCounter.OUT_FRAMES);
            assertEquals(normal + pf.dos().admitted(), delivered, "every normal frame reached the victim");
        }
    }

    @Test
    void shouldRefuseBadRulesNamingEachAndKeepTheRulesInForce() throws Exception {
        start(1000);
        pf.installRules(List.of(), List.of(new RuleSpec("good", RuleSet.ROOT, 1, Map.of("proto", "tcp"), "switch")));
        RuleSetException e = assertThrows(RuleSetException.class, () -> pf.installRules(List.of(), List.of(
                new RuleSpec("ghost", RuleSet.ROOT, 1, Map.of(), "vf:nope"),
                new RuleSpec("wide", RuleSet.ROOT, 2, Map.of("dst-ip", "10.0.0.0/33"), "drop"))));
        assertTrue(e.getMessage().contains("ghost") && e.getMessage().contains("vf:nope"), e.getMessage());
        e = assertThrows(RuleSetException.class, () -> pf.installRules(List.of(), List.of(
                new RuleSpec("wide", RuleSet.ROOT, 2, Map.of("dst-ip", "10.0.0.0/33"), "drop"))));
        assertTrue(e.getMessage().contains("wide"), e.getMessage());
        assertNotNull(pf.classifier().ruleSet().entry(RuleSet.ROOT, "good"), "the rules in force stayed");
    }

}
