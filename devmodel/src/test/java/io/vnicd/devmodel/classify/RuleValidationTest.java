package io.vnicd.devmodel.classify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RuleValidationTest {

    private static String problem(RuleSpec... rules) {
        RuleSetException e = assertThrows(RuleSetException.class, () -> RuleSet.compile(List.of(), List.of(rules)));
        assertEquals(1, e.problems().size(), e.getMessage());
        return e.problems().getFirst();
    }

    private static RuleSpec rule(String name, Map<String, String> match, String action) {
        return new RuleSpec(name, "root", 0, match, action);
    }

    @Test
    void shouldNameTheRuleAndTheMalformedAddress() {
        String p = problem(rule("web", Map.of("dst-ip", "10.0.0.300/24"), "ring:1"));
        assertTrue(p.contains("rule 'web'") && p.contains("malformed IPv4 address") && p.contains("10.0.0.300"), p);
        p = problem(rule("v6", Map.of("src-ip", "2001:db8:::1"), "ring:1"));
        assertTrue(p.contains("rule 'v6'") && p.contains("malformed IPv6 address"), p);
        p = problem(rule("mac", Map.of("dst-mac", "02:00:00:00:00"), "ring:1"));
        assertTrue(p.contains("rule 'mac'") && p.contains("malformed MAC address"), p);
        p = problem(rule("name", Map.of("dst-ip", "gateway.example.com"), "ring:1"));
        assertTrue(p.contains("malformed IPv4 address"), "host names are refused, not resolved: " + p);
    }

    @Test
    void shouldRefuseImpossiblePrefixes() {
        String p = problem(rule("wide", Map.of("dst-ip", "10.0.0.0/33"), "ring:1"));
        assertTrue(p.contains("rule 'wide'") && p.contains("/33"), p);
        p = problem(rule("wide6", Map.of("dst-ip", "2001:db8::/129"), "ring:1"));
        assertTrue(p.contains("/129"), p);
        p = problem(rule("neg", Map.of("dst-ip", "10.0.0.0/-1"), "ring:1"));
        assertTrue(p.contains("prefix length"), p);
    }

    @Test
    void shouldRefuseAnUnknownSubTable() {
        String p = problem(rule("go", Map.of(), "table:nowhere"));
        assertTrue(p.contains("rule 'go'") && p.contains("table:nowhere") && p.contains("names no table"), p);
    }

    @Test
    void shouldRefuseSubTablesThatLoop() {
        String p = problem(
                new RuleSpec("in", "root", 0, Map.of(), "table:a"),
                new RuleSpec("ab", "a", 0, Map.of("proto", "tcp"), "table:b"),
                new RuleSpec("ba", "b", 0, Map.of("proto", "udp"), "table:a"));
        assertTrue(p.contains("sub-tables loop: a -> b -> a"), p);
        p = problem(new RuleSpec("self", "root", 0, Map.of(), "table:root"));
        assertTrue(p.contains("sub-tables loop: root -> root"), p);
    }

    @Test
    void shouldRefuseFieldsThatMeanNothing() {
        String p = problem(rule("port", Map.of("dst-port", "80"), "ring:1"));
        assertTrue(p.contains("rule 'port'") && p.contains("needs proto"), p);
        p = problem(rule("mixed", Map.of("src-ip", "10.0.0.1", "dst-ip", "::1"), "ring:1"));
        assertTrue(p.contains("IPv4") && p.contains("IPv6"), p);
        p = problem(rule("type", Map.of("dst-ip", "10.0.0.1", "ethertype", "ipv6"), "ring:1"));
        assertTrue(p.contains("ethertype"), p);
        p = problem(rule("field", Map.of("dst-ipv4", "10.0.0.1"), "ring:1"));
        assertTrue(p.contains("unknown match field 'dst-ipv4'"), p);
        p = problem(rule("vlan", Map.of("vlan", "4096"), "ring:1"));
        assertTrue(p.contains("vlan") && p.contains("out of range"), p);
        p = problem(rule("port", Map.of("proto", "tcp", "dst-port", "65536"), "ring:1"));
        assertTrue(p.contains("out of range"), p);
    }

    @Test
    void shouldRefuseBadActionsAndDuplicateNames() {
        assertTrue(problem(rule("a", Map.of(), "ring:-1")).contains("ring id"));
        assertTrue(problem(rule("a", Map.of(), "queue:1")).contains("unknown action"));
        assertTrue(problem(rule("a", Map.of(), null)).contains("missing action"));
        String p = problem(rule("twice", Map.of(), "ring:1"), rule("twice", Map.of("proto", "tcp"), "ring:2"));
        assertTrue(p.contains("rule 'twice'") && p.contains("name"), p);
    }

    @Test
    void shouldReportEveryProblemAtOnce() {
        RuleSetException e = assertThrows(RuleSetException.class, () -> RuleSet.compile(
                List.of(new TableSpec("t", "table:x")),
                List.of(rule("one", Map.of("dst-ip", "1.2.3.4/40"), "ring:1"),
                        rule("two", Map.of("src-mac", "zz:00:00:00:00:00"), "ring:1"),
                        rule("three", Map.of(), "table:missing"))));
        assertEquals(4, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains("'one'") && e.getMessage().contains("'two'") && e.getMessage().contains("'three'")
                && e.getMessage().contains("table 't'"), e.getMessage());
    }

    @Test
    void shouldParseTheTextFormsOfIpv6() {
        assertArrayEquals(new long[] {0, 0}, Addresses.parseIpv6("::"));
        assertArrayEquals(new long[] {0, 1}, Addresses.parseIpv6("::1"));
        assertArrayEquals(new long[] {0x2001_0DB8_0000_0000L, 0}, Addresses.parseIpv6("2001:db8::"));
        assertArrayEquals(new long[] {0x2001_0DB8_0000_0001L, 0x0000_0000_0000_0002L}, Addresses.parseIpv6("2001:db8:0:1::2"));
        assertArrayEquals(new long[] {0x0001_0002_0003_0004L, 0x0005_0006_0007_0008L}, Addresses.parseIpv6("1:2:3:4:5:6:7:8"));
        assertArrayEquals(new long[] {0, 0x0000_FFFF_C000_0201L}, Addresses.parseIpv6("::ffff:192.0.2.1"));
        for (String bad : List.of(":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "12345::", "g::", "1:", ":1", "::1:",
                "1:2:3:4:5:6:7")) {
            assertNull(Addresses.parseIpv6(bad), bad);
        }
        assertEquals(-1, Addresses.parseIpv4("1.2.3"));
        assertEquals(-1, Addresses.parseIpv4("1.2.3.04444"));
        assertEquals(0xC000_0201L, Addresses.parseIpv4("192.0.2.1"));
    }
}
