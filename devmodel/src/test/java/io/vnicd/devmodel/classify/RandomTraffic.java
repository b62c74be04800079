package io.vnicd.devmodel.classify;

import static io.vnicd.devmodel.packet.TestFrames.ethernet;
import static io.vnicd.devmodel.packet.TestFrames.extension;
import static io.vnicd.devmodel.packet.TestFrames.icmp;
import static io.vnicd.devmodel.packet.TestFrames.ipv4;
import static io.vnicd.devmodel.packet.TestFrames.ipv6;
import static io.vnicd.devmodel.packet.TestFrames.concat;
import static io.vnicd.devmodel.packet.TestFrames.tcp;
import static io.vnicd.devmodel.packet.TestFrames.udp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Random rules and frames drawn from small pools of MACs, VLANs, addresses and ports, so that rules and
 * frames meet often and many rules overlap. Seeded: a failure replays.
 */
final class RandomTraffic {
    static final String[] MACS = {"02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:13", "02:00:00:00:01:01"};
    static final String[] V4 = {"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.1.0.1", "192.168.0.1"};
    static final int[] V4_PREFIXES = {0, 8, 16, 24, 31, 32};
    static final String[] V6 = {"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db9::1", "fe80::1"};
    static final int[] V6_PREFIXES = {0, 16, 32, 48, 64, 96, 127, 128};
    static final int[] PORTS = {53, 80, 81, 443, 8080};
    static final int[] VLANS = {-1, 10, 20, 30};

    private final Random random;

    RandomTraffic(long seed) {
        this.random = new Random(seed);
    }

    private <T> T pick(T[] a) {
        return a[random.nextInt(a.length)];
    }

    private int pick(int[] a) {
        return a[random.nextInt(a.length)];
    }

    private boolean chance(double p) {
        return random.nextDouble() < p;
    }

    /** A rule of {@code table} whose action may go to one of {@code subTables}. */
    RuleSpec rule(String name, String table, List<String> subTables, double fieldChance) {
        Map<String, String> m = new LinkedHashMap<>();
        if (chance(fieldChance)) {
            m.put("dst-mac", chance(0.3) ? pick(MACS).substring(0, 15) + "00/ff:ff:ff:ff:ff:00" : pick(MACS));
        }
        if (chance(fieldChance / 2)) {
            m.put("src-mac", pick(MACS));
        }
        if (chance(fieldChance)) {
            int vlan = pick(VLANS);
            m.put("vlan", vlan < 0 ? "untagged" : Integer.toString(vlan));
        }
        boolean v6 = chance(0.4);
        boolean ip = false;
        if (chance(fieldChance)) {
            m.put("src-ip", prefix(v6));
            ip = true;
        }
        if (chance(fieldChance)) {
            m.put("dst-ip", prefix(v6));
            ip = true;
        }
        if (!ip && chance(fieldChance / 2)) {
            m.put("ethertype", chance(0.1) ? "arp" : v6 ? "ipv6" : chance(0.5) ? "ipv4" : "0x0800");
        }
        if (chance(fieldChance)) {
            String proto = chance(0.45) ? "tcp" : chance(0.8) ? "udp" : v6 ? "icmpv6" : "icmp";
            m.put("proto", proto);
            if (proto.equals("tcp") || proto.equals("udp")) {
                if (chance(fieldChance)) {
                    m.put("dst-port", port());
                }
                if (chance(fieldChance / 2)) {
                    m.put("src-port", port());
                }
            }
        }
        String action;
        if (!subTables.isEmpty() && chance(0.2)) {
            action = "table:" + subTables.get(random.nextInt(subTables.size()));
        } else if (chance(0.1)) {
            action = "drop";
        } else {
            action = "ring:" + random.nextInt(8);
        }
        // A broad rule early would take every frame and leave the property nothing to check: broad rules go last.
        int order = m.size() < 2 ? 50 + random.nextInt(10) : random.nextInt(50);
        return new RuleSpec(name, table, order, m, action);
    }

    private String prefix(boolean v6) {
        return v6 ? pick(V6) + "/" + pick(V6_PREFIXES) : pick(V4) + "/" + pick(V4_PREFIXES);
    }

    private String port() {
        int p = pick(PORTS);
        return chance(0.3) ? p + "/0xfff0" : chance(0.5) ? Integer.toString(p) : "0x" + Integer.toHexString(p);
    }

    /** Rules over three tables: root may go to t1 or t2, t1 to t2, t2 nowhere. */
    List<RuleSpec> rules(int count, double fieldChance) {
        List<RuleSpec> rules = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int t = random.nextInt(10);
            if (t < 6) {
                rules.add(rule("r" + i, RuleSet.ROOT, List.of("t1", "t2"), fieldChance));
            } else if (t < 8) {
                rules.add(rule("r" + i, "t1", List.of("t2"), fieldChance));
            } else {
                rules.add(rule("r" + i, "t2", List.of(), fieldChance));
            }
        }
        return rules;
    }

    static final List<TableSpec> TABLES = List.of(new TableSpec("t1", "drop"), new TableSpec("t2", "ring:99"));

    /** A frame mostly from the pools, sometimes with an address or port outside them. */
    byte[] frame() {
        long dst = mac(chance(0.1) ? random.nextLong() : macValue(pick(MACS)));
        long src = mac(chance(0.1) ? random.nextLong() : macValue(pick(MACS)));
        int vlan = pick(VLANS);
        int[] tags = vlan < 0 ? new int[0] : chance(0.2) ? new int[] {0x88A8, vlan, 0x8100, 77} : new int[] {0x8100, vlan};
        int kind = random.nextInt(10);
        if (kind == 0) {
            return ethernet(dst, src, tags, 0x0806, new byte[28]);
        }
        int sp = chance(0.1) ? random.nextInt(65536) : pick(PORTS);
        int dp = chance(0.1) ? random.nextInt(65536) : pick(PORTS);
        int proto = random.nextInt(10);
        if (kind < 6) {
            byte[] l4 = proto < 5 ? tcp(sp, dp) : proto < 9 ? udp(sp, dp) : icmp();
            int p = proto < 5 ? 6 : proto < 9 ? 17 : 1;
            return ethernet(dst, src, tags, 0x0800, ipv4(v4(), v4(), p, chance(0.2) ? new byte[4] : new byte[0], 0, l4));
        }
        byte[] l4 = proto < 5 ? tcp(sp, dp) : proto < 9 ? udp(sp, dp) : icmp();
        int p = proto < 5 ? 6 : proto < 9 ? 17 : 58;
        long[] s = v6();
        long[] d = v6();
        if (chance(0.3)) {
            return ethernet(dst, src, tags, 0x86DD, ipv6(s[0], s[1], d[0], d[1], 0, concat(extension(p, 1), l4)));
        }
        return ethernet(dst, src, tags, 0x86DD, ipv6(s[0], s[1], d[0], d[1], p, l4));
    }

    private static long mac(long v) {
        return v & 0xFFFF_FFFF_FFFFL;
    }

    static long macValue(String mac) {
        return Long.parseLong(mac.replace(":", ""), 16);
    }

    private int v4() {
        if (chance(0.1)) {
            return random.nextInt();
        }
        byte[] a = java.net.InetAddress.ofLiteral(pick(V4)).getAddress();
        return (a[0] & 0xFF) << 24 | (a[1] & 0xFF) << 16 | (a[2] & 0xFF) << 8 | (a[3] & 0xFF);
    }

    private long[] v6() {
        if (chance(0.1)) {
            return new long[] {random.nextLong(), random.nextLong()};
        }
        byte[] a = java.net.InetAddress.ofLiteral(pick(V6)).getAddress();
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 8; i++) {
            hi = hi << 8 | (a[i] & 0xFF);
            lo = lo << 8 | (a[i + 8] & 0xFF);
        }
        return new long[] {hi, lo};
    }
}
