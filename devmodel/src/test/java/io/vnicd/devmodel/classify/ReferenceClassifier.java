package io.vnicd.devmodel.classify;

import io.vnicd.devmodel.packet.PacketHeaders;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The naive classifier the compiled one is checked against: rules kept as their strings, scanned in order,
 * each field compared with the parsed headers as the rule-spec documentation describes it. Shares no code
 * with the classifier (addresses go through InetAddress.ofLiteral).
 */
final class ReferenceClassifier {
    private final Map<String, List<RuleSpec>> tables = new HashMap<>();
    private final Map<String, Integer> missResults = new HashMap<>();
    final Map<String, Long> hits = new HashMap<>();
    final Map<String, Long> misses = new HashMap<>();

    ReferenceClassifier(List<TableSpec> tableSpecs, List<RuleSpec> rules) {
        for (TableSpec t : tableSpecs) {
            missResults.put(t.name(), result(t.miss()));
        }
        List<RuleSpec> sorted = new ArrayList<>(rules);
        sorted.sort(Comparator.comparingInt(RuleSpec::order)); // stable: list position breaks ties
        for (RuleSpec r : sorted) {
            tables.computeIfAbsent(r.table(), k -> new ArrayList<>()).add(r);
        }
    }

    private static int result(String action) {
        if (action.equals("drop")) {
            return Classifier.DROP;
        }
        if (action.equals("miss")) {
            return Classifier.MISS;
        }
        return Integer.parseInt(action.substring("ring:".length()));
    }

    int classify(PacketHeaders h) {
        String table = RuleSet.ROOT;
        while (true) {
            RuleSpec hit = null;
            for (RuleSpec r : tables.getOrDefault(table, List.of())) {
                if (matches(r.match(), h)) {
                    hit = r;
                    break;
                }
            }
            if (hit == null) {
                misses.merge(table, 1L, Long::sum);
                return missResults.getOrDefault(table, Classifier.MISS);
            }
            hits.merge(table + "/" + hit.name(), 1L, Long::sum);
            if (!hit.action().startsWith("table:")) {
                return result(hit.action());
            }
            table = hit.action().substring("table:".length());
        }
    }

    static boolean matches(Map<String, String> m, PacketHeaders h) {
        for (Map.Entry<String, String> f : m.entrySet()) {
            String v = f.getValue();
            boolean ok = switch (f.getKey()) {
                case "dst-mac" -> macMatches(v, h.dstMac());
                case "src-mac" -> macMatches(v, h.srcMac());
                case "vlan" -> v.equals("untagged") ? h.vlanId() == -1 : h.vlanId() == Integer.parseInt(v);
                case "ethertype" -> h.etherType() == switch (v) {
                    case "ipv4" -> 0x0800;
                    case "ipv6" -> 0x86DD;
                    case "arp" -> 0x0806;
                    default -> Integer.decode(v);
                };
                case "src-ip" -> ipMatches(v, h, true);
                case "dst-ip" -> ipMatches(v, h, false);
                case "proto" -> h.protocol() == switch (v) {
                    case "tcp" -> 6;
                    case "udp" -> 17;
                    case "icmp" -> 1;
                    case "icmpv6" -> 58;
                    default -> Integer.parseInt(v);
                };
                case "src-port" -> portMatches(v, Math.max(0, h.srcPort()));
                case "dst-port" -> portMatches(v, Math.max(0, h.dstPort()));
                default -> throw new IllegalArgumentException(f.getKey());
            };
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static boolean macMatches(String spec, long mac) {
        String[] parts = spec.split("/");
        long value = Long.parseLong(parts[0].replace(":", ""), 16);
        long mask = parts.length > 1 ? Long.parseLong(parts[1].replace(":", ""), 16) : 0xFFFF_FFFF_FFFFL;
        return (mac & mask) == (value & mask);
    }

    private static boolean portMatches(String spec, int port) {
        String[] parts = spec.split("/");
        int value = Integer.decode(parts[0]);
        int mask = parts.length > 1 ? Integer.decode(parts[1]) : 0xFFFF;
        return (port & mask) == (value & mask);
    }

    private static boolean ipMatches(String spec, PacketHeaders h, boolean source) {
        String[] parts = spec.split("/");
        byte[] rule = InetAddress.ofLiteral(parts[0]).getAddress();
        int prefix = parts.length > 1 ? Integer.parseInt(parts[1]) : rule.length * 8;
        byte[] frame = new byte[rule.length];
        if (rule.length == 4) {
            if (h.etherType() != 0x0800) {
                return false;
            }
            int a = source ? h.ipv4Src() : h.ipv4Dst();
            for (int i = 0; i < 4; i++) {
                frame[i] = (byte) (a >>> (24 - 8 * i));
            }
        } else {
            if (h.etherType() != 0x86DD) {
                return false;
            }
            long hi = source ? h.ipv6SrcHigh() : h.ipv6DstHigh();
            long lo = source ? h.ipv6SrcLow() : h.ipv6DstLow();
            for (int i = 0; i < 8; i++) {
                frame[i] = (byte) (hi >>> (56 - 8 * i));
                frame[i + 8] = (byte) (lo >>> (56 - 8 * i));
            }
        }
        for (int bit = 0; bit < prefix; bit++) {
            int mask = 0x80 >>> (bit % 8);
            if ((rule[bit / 8] & mask) != (frame[bit / 8] & mask)) {
                return false;
            }
        }
        return true;
    }
}
