package io.vnicd.devmodel.classify;

import static io.vnicd.devmodel.packet.TestFrames.ethernet;
import static io.vnicd.devmodel.packet.TestFrames.ipv4;
import static io.vnicd.devmodel.packet.TestFrames.ipv6;
import static io.vnicd.devmodel.packet.TestFrames.tcp;
import static io.vnicd.devmodel.packet.TestFrames.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.TestFrames;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ClassifierTest {
    static final long VM_MAC = 0x0200_0000_0001L;
    static final long PEER_MAC = 0x0200_0000_0099L;

    static int ip(int a, int b, int c, int d) {
        return a << 24 | b << 16 | c << 8 | d;
    }

    static PacketHeaders tcpTo(int dst, int dstPort) {
        return TestFrames.parse(ethernet(VM_MAC, PEER_MAC, new int[0], 0x0800, ipv4(ip(192, 0, 2, 7), dst, 6, new byte[0], 0, tcp(33333, dstPort))));
    }

    static PacketHeaders udpTo(int dst, int dstPort) {
        return TestFrames.parse(ethernet(VM_MAC, PEER_MAC, new int[0], 0x0800, ipv4(ip(192, 0, 2, 7), dst, 17, new byte[0], 0, udp(33333, dstPort))));
    }

    static RuleSpec rule(String name, String table, int order, Map<String, String> match, String action) {
        return new RuleSpec(name, table, order, match, action);
    }

    private final FlowKey key = new FlowKey();

    @Test
    void shouldContinueInTheSubTableAndNeverComeBack() throws RuleSetException {
        Classifier c = new Classifier();
        c.install(List.of(new TableSpec("web", "ring:7")), List.of(
                rule("tenant", "root", 1, Map.of("dst-ip", "10.0.0.0/8"), "table:web"),
                rule("rest", "root", 2, Map.of(), "ring:1"),
                rule("http", "web", 1, Map.of("proto", "tcp", "dst-port", "80"), "ring:5")));

        assertEquals(5, c.classify(tcpTo(ip(10, 1, 2, 3), 80), key));
        assertEquals(7, c.classify(udpTo(ip(10, 1, 2, 3), 80), key), "a miss in the sub-table gets its miss action, not the parent's next rule");
        assertEquals(1, c.classify(tcpTo(ip(192, 168, 0, 1), 80), key));

        assertEquals(2, c.hits("root", "tenant"));
        assertEquals(1, c.hits("root", "rest"));
        assertEquals(1, c.hits("web", "http"));
        assertEquals(1, c.misses("web"));
        assertEquals(0, c.misses("root"));
    }

    @Test
    void shouldWalkSeveralLevelsDeep() throws RuleSetException {
        Classifier c = new Classifier();
        c.install(List.of(), List.of(
                rule("ipv4", "root", 0, Map.of("ethertype", "ipv4"), "table:l3"),
                rule("tenant", "l3", 0, Map.of("dst-ip", "10.0.0.0/8"), "table:l4"),
                rule("ssh", "l4", 0, Map.of("proto", "tcp", "dst-port", "22"), "ring:22"),
                rule("other", "l4", 1, Map.of(), "ring:0")));
        assertEquals(22, c.classify(tcpTo(ip(10, 0, 0, 1), 22), key));
        assertEquals(0, c.classify(tcpTo(ip(10, 0, 0, 1), 23), key));
        assertEquals(Classifier.MISS, c.classify(tcpTo(ip(11, 0, 0, 1), 22), key));
        assertEquals(1, c.misses("l3"));
    }

    @Test
    void shouldReturnMissAndCountItWhenNothingMatches() throws RuleSetException {
        Classifier c = new Classifier();
        assertEquals(Classifier.MISS, c.classify(tcpTo(ip(10, 0, 0, 1), 80), key), "an empty classifier misses");
        assertEquals(1, c.misses(RuleSet.ROOT));
        c.install(List.of(new TableSpec("root", "drop")), List.of(rule("web", "root", 0, Map.of("dst-port", "80", "proto", "tcp"), "ring:2")));
        assertEquals(Classifier.DROP, c.classify(tcpTo(ip(10, 0, 0, 1), 81), key));
        assertEquals(2, c.misses(RuleSet.ROOT), "the miss counter of a table survives an update");
    }

    @Test
    void shouldLetTheLowestOrderWinWhateverTheMask() throws RuleSetException {
        Classifier c = new Classifier();
        Map<String, String> exact = Map.of("src-ip", "192.0.2.7", "dst-ip", "10.0.0.1", "proto", "tcp", "src-port", "33333", "dst-port", "80");
        Map<String, String> broad = Map.of("dst-ip", "10.0.0.0/8");
        c.install(List.of(), List.of(rule("exact", "root", 5, exact, "ring:1"), rule("broad", "root", 1, broad, "ring:2")));
        assertEquals(2, c.classify(tcpTo(ip(10, 0, 0, 1), 80), key));
        c.install(List.of(), List.of(rule("exact", "root", 0, exact, "ring:1"), rule("broad", "root", 1, broad, "ring:2")));
        assertEquals(1, c.classify(tcpTo(ip(10, 0, 0, 1), 80), key));
        c.install(List.of(), List.of(rule("broad", "root", 3, broad, "ring:2"), rule("exact", "root", 3, exact, "ring:1")));
        assertEquals(2, c.classify(tcpTo(ip(10, 0, 0, 1), 80), key), "equal orders keep list order");
    }

    @Test
    void shouldKeepTheRunningRulesWhenAnUpdateIsRefused() throws RuleSetException {
        Classifier c = new Classifier();
        RuleSet good = c.install(List.of(), List.of(rule("web", "root", 0, Map.of("proto", "tcp", "dst-port", "80"), "ring:3")));
        assertEquals(3, c.classify(tcpTo(ip(10, 0, 0, 1), 80), key));
        RuleSetException e = assertThrows(RuleSetException.class, () -> c.install(List.of(), List.of(
                rule("web", "root", 0, Map.of("proto", "tcp", "dst-port", "80"), "ring:4"),
                rule("bad", "root", 1, Map.of("dst-ip", "10.0.0.0/33"), "ring:4"))));
        assertEquals(1, e.problems().size());
        assertSame(good, c.ruleSet());
        assertEquals(3, c.classify(tcpTo(ip(10, 0, 0, 1), 80), key));
        assertEquals(2, c.hits("root", "web"));
    }

    @Test
    void shouldCarryHitCountersOverToRulesThatKeepTheirName() throws RuleSetException {
        Classifier c = new Classifier();
        c.install(List.of(), List.of(rule("web", "root", 0, Map.of("proto", "tcp", "dst-port", "80"), "ring:3")));
        for (int i = 0; i < 5; i++) {
            c.classify(tcpTo(ip(10, 0, 0, 1), 80), key);
        }
        c.install(List.of(), List.of(
                rule("ssh", "root", 0, Map.of("proto", "tcp", "dst-port", "22"), "ring:4"),
                rule("web", "root", 1, Map.of("proto", "tcp", "dst-port", "80/0xfff0"), "ring:5")));
        assertEquals(5, c.classify(tcpTo(ip(10, 0, 0, 1), 81), key));
        assertEquals(6, c.hits("root", "web"));
        assertEquals(0, c.hits("root", "ssh"));
        assertEquals(-1, c.hits("root", "gone"));
    }

    @Test
    void shouldPutContainmentRulesAheadOfEveryConfiguredRule() throws RuleSetException {
        Classifier c = new Classifier();
        c.install(List.of(), List.of(rule("first", "root", Integer.MIN_VALUE, Map.of("proto", "tcp"), "ring:1")));
        c.installContainment(List.of(
                rule("dos:a", "root", 100, Map.of("dst-port", "80", "proto", "tcp"), "ring:9"),
                rule("dos:b", "root", 101, Map.of("dst-port", "81", "proto", "tcp"), "ring:9")));
        FlowKey k = new FlowKey();
        assertEquals(9, c.classify(tcpTo(ip(10, 0, 0, 1), 81), k));
        assertEquals(1, k.cookie(), "the containment rule's index is left in the key");
        assertEquals(1, c.classify(tcpTo(ip(10, 0, 0, 1), 82), k));
        assertEquals(-1, k.cookie());
        c.install(List.of(), List.of(rule("first", "root", 0, Map.of(), "ring:2")));
        assertEquals(9, c.classify(tcpTo(ip(10, 0, 0, 1), 80), k), "containment survives a configuration update");
        assertEquals(0, k.cookie());
    }

    @Test
    void shouldMatchVlansMacMasksAndIpv6Prefixes() throws RuleSetException {
        Classifier c = new Classifier();
        c.install(List.of(), List.of(
                rule("untagged", "root", 0, Map.of("vlan", "untagged", "dst-mac", "02:00:00:00:00:00/ff:ff:ff:00:00:00"), "ring:1"),
                rule("vlan100", "root", 1, Map.of("vlan", "100"), "ring:2"),
                rule("v6net", "root", 2, Map.of("dst-ip", "2001:db8:1::/48", "proto", "udp"), "ring:3")));
        assertEquals(1, c.classify(tcpTo(ip(10, 0, 0, 1), 80), key));
        PacketHeaders tagged = TestFrames.parse(ethernet(VM_MAC, PEER_MAC, new int[] {0x88A8, 100, 0x8100, 5}, 0x0800,
                ipv4(1, 2, 6, new byte[0], 0, tcp(1, 2))));
        assertEquals(2, c.classify(tagged, key), "the outer tag of a QinQ frame is the one matched");
        PacketHeaders v6 = TestFrames.parse(ethernet(0x0400_0000_0001L, PEER_MAC, new int[] {0x8100, 200}, 0x86DD,
                ipv6(1, 1, 0x2001_0DB8_0001_FFFFL, 7, 17, udp(5, 6))));
        assertEquals(3, c.classify(v6, key));
        PacketHeaders v6Outside = TestFrames.parse(ethernet(0x0400_0000_0001L, PEER_MAC, new int[] {0x8100, 200}, 0x86DD,
                ipv6(1, 1, 0x2001_0DB8_0002_0000L, 7, 17, udp(5, 6))));
        assertEquals(Classifier.MISS, c.classify(v6Outside, key));
    }

    @Test
    void shouldReportRulesThatCanNeverMatchFirst() throws RuleSetException {
        RuleSet set = RuleSet.compile(List.of(), List.of(
                rule("a", "root", 0, Map.of("dst-ip", "10.0.0.0/24"), "ring:1"),
                rule("b", "root", 1, Map.of("dst-ip", "10.0.0.9/24"), "ring:2")));
        assertEquals(List.of("b"), set.shadowed().stream().map(FlowEntry::name).toList());
    }
}
