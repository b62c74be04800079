package io.vnicd.devmodel.classify;

import static io.vnicd.devmodel.classify.FlowKey.DST_PORT_SHIFT;
import static io.vnicd.devmodel.classify.FlowKey.ETHERTYPE_SHIFT;
import static io.vnicd.devmodel.classify.FlowKey.MAC_MASK;
import static io.vnicd.devmodel.classify.FlowKey.PROTOCOL_SHIFT;
import static io.vnicd.devmodel.classify.FlowKey.VLAN_FIELD_MASK;
import static io.vnicd.devmodel.classify.FlowKey.VLAN_SHIFT;
import static io.vnicd.devmodel.classify.FlowKey.WORDS;
import static io.vnicd.devmodel.classify.FlowKey.W_DST_HIGH;
import static io.vnicd.devmodel.classify.FlowKey.W_DST_LOW;
import static io.vnicd.devmodel.classify.FlowKey.W_DST_MAC_ETHERTYPE;
import static io.vnicd.devmodel.classify.FlowKey.W_PORTS_PROTOCOL;
import static io.vnicd.devmodel.classify.FlowKey.W_SRC_HIGH;
import static io.vnicd.devmodel.classify.FlowKey.W_SRC_LOW;
import static io.vnicd.devmodel.classify.FlowKey.W_SRC_MAC_VLAN;

import io.vnicd.devmodel.packet.EthernetDescriptor;
import io.vnicd.devmodel.packet.TransportDescriptor;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a flow entry matches: a value and a mask over the words of a {@link FlowKey}. A frame matches when,
 * in every word, its bits under the mask equal the value. Fields left out match anything.
 *
 * <p>Built from the string fields of a rule (the form a JSON config holds):
 * <pre>
 *   dst-mac, src-mac   "aa:bb:cc:dd:ee:ff" or "aa:bb:cc:00:00:00/ff:ff:ff:00:00:00"
 *   vlan               "100" (outer tag) or "untagged"
 *   ethertype          "0x0800", "2054", "ipv4", "ipv6", "arp"
 *   src-ip, dst-ip     "10.0.0.0/24", "10.0.0.1", "2001:db8::/32", "::1"   (sets the EtherType too)
 *   proto              "tcp", "udp", "sctp", "icmp", "icmpv6" or 0..255
 *   src-port, dst-port "80" or value/mask "0x400/0xfc00"                    (needs proto tcp, udp or sctp)
 * </pre>
 */
public final class Match {
    /** The field names a rule may use, in the order they are shown. */
    public static final Set<String> FIELDS = Collections.unmodifiableSet(new LinkedHashSet<>(
            List.of("dst-mac", "src-mac", "vlan", "ethertype", "src-ip", "dst-ip", "proto", "src-port", "dst-port")));

    /** Matches every frame. */
    public static final Match ANY = new Match(new long[WORDS], new long[WORDS], Map.of());

    private final long[] value;
    private final long[] mask;
    private final Map<String, String> fields;

    private Match(long[] value, long[] mask, Map<String, String> fields) {
        this.value = value;
        this.mask = mask;
        this.fields = fields;
    }

    /**
     * Parses the fields of a rule.
     *
     * @throws IllegalArgumentException naming the field and what is wrong with it
     */
    public static Match parse(Map<String, String> fields) {
        long[] v = new long[WORDS];
        long[] m = new long[WORDS];
        for (String name : fields.keySet()) {
            if (!FIELDS.contains(name)) {
                throw new IllegalArgumentException("unknown match field '" + name + "' (known: " + String.join(", ", FIELDS) + ")");
            }
        }
        String dstMac = fields.get("dst-mac");
        if (dstMac != null) {
            long[] vm = parseMac("dst-mac", dstMac);
            v[W_DST_MAC_ETHERTYPE] |= vm[0];
            m[W_DST_MAC_ETHERTYPE] |= vm[1];
        }
        String srcMac = fields.get("src-mac");
        if (srcMac != null) {
            long[] vm = parseMac("src-mac", srcMac);
            v[W_SRC_MAC_VLAN] |= vm[0];
            m[W_SRC_MAC_VLAN] |= vm[1];
        }
        String vlan = fields.get("vlan");
        if (vlan != null) {
            long id = "untagged".equalsIgnoreCase(vlan.trim()) ? FlowKey.UNTAGGED : parseNumber("vlan", vlan, 4095);
            v[W_SRC_MAC_VLAN] |= id << VLAN_SHIFT;
            m[W_SRC_MAC_VLAN] |= VLAN_FIELD_MASK << VLAN_SHIFT;
        }
        int etherType = -1;
        String et = fields.get("ethertype");
        if (et != null) {
            etherType = switch (et.trim().toLowerCase(Locale.ROOT)) {
                case "ipv4", "ip" -> EthernetDescriptor.ETHERTYPE_IPV4;
                case "ipv6" -> EthernetDescriptor.ETHERTYPE_IPV6;
                case "arp" -> EthernetDescriptor.ETHERTYPE_ARP;
                default -> (int) parseNumber("ethertype", et, 0xFFFF);
            };
        }
        int family = 0;
        String srcIp = fields.get("src-ip");
        if (srcIp != null) {
            family = parsePrefix("src-ip", srcIp, v, m, W_SRC_HIGH, W_SRC_LOW);
        }
        String dstIp = fields.get("dst-ip");
        if (dstIp != null) {
            int f = parsePrefix("dst-ip", dstIp, v, m, W_DST_HIGH, W_DST_LOW);
            if (family != 0 && f != family) {
                throw new IllegalArgumentException("src-ip is IPv" + family + " but dst-ip is IPv" + f);
            }
            family = f;
        }
        if (family != 0) {
            int implied = family == 4 ? EthernetDescriptor.ETHERTYPE_IPV4 : EthernetDescriptor.ETHERTYPE_IPV6;
            if (etherType >= 0 && etherType != implied) {
                throw new IllegalArgumentException("addresses are IPv" + family + " but ethertype is 0x" + Integer.toHexString(etherType));
            }
            etherType = implied;
        }
        if (etherType >= 0) {
            v[W_DST_MAC_ETHERTYPE] |= (long) etherType << ETHERTYPE_SHIFT;
            m[W_DST_MAC_ETHERTYPE] |= 0xFFFFL << ETHERTYPE_SHIFT;
        }
        int protocol = -1;
        String proto = fields.get("proto");
        if (proto != null) {
            protocol = switch (proto.trim().toLowerCase(Locale.ROOT)) {
                case "tcp" -> TransportDescriptor.PROTO_TCP;
                case "udp" -> TransportDescriptor.PROTO_UDP;
                case "sctp" -> TransportDescriptor.PROTO_SCTP;
                case "icmp" -> TransportDescriptor.PROTO_ICMP;
                case "icmpv6", "ipv6-icmp" -> TransportDescriptor.PROTO_ICMPV6;
                default -> (int) parseNumber("proto", proto, 255);
            };
            v[W_PORTS_PROTOCOL] |= (long) protocol << PROTOCOL_SHIFT;
            m[W_PORTS_PROTOCOL] |= 0xFFL << PROTOCOL_SHIFT;
        }
        String srcPort = fields.get("src-port");
        String dstPort = fields.get("dst-port");
        if ((srcPort != null || dstPort != null) && !TransportDescriptor.hasPorts(protocol)) {
            throw new IllegalArgumentException((srcPort != null ? "src-port" : "dst-port")
                    + " needs proto tcp, udp or sctp (ports mean nothing for other frames)");
        }
        if (srcPort != null) {
            long[] vm = parseValueMask("src-port", srcPort, 0xFFFF);
            v[W_PORTS_PROTOCOL] |= vm[0];
            m[W_PORTS_PROTOCOL] |= vm[1];
        }
        if (dstPort != null) {
            long[] vm = parseValueMask("dst-port", dstPort, 0xFFFF);
            v[W_PORTS_PROTOCOL] |= vm[0] << DST_PORT_SHIFT;
            m[W_PORTS_PROTOCOL] |= vm[1] << DST_PORT_SHIFT;
        }
        return new Match(v, m, Collections.unmodifiableMap(new TreeMap<>(fields)));
    }

    /** True when the frame whose key this is matches. Linear and simple: the compiled tables do the fast path. */
    public boolean matches(FlowKey key) {
        long[] w = key.words;
        for (int i = 0; i < WORDS; i++) {
            if ((w[i] & mask[i]) != value[i]) {
                return false;
            }
        }
        return true;
    }

    /** The value of word {@code i}, already masked. */
    public long value(int i) {
        return value[i];
    }

    public long mask(int i) {
        return mask[i];
    }

    /** The fields this match was parsed from. */
    public Map<String, String> fields() {
        return fields;
    }

    long[] maskCopy() {
        return mask.clone();
    }

    @Override
    public String toString() {
        return fields.isEmpty() ? "any" : fields.toString();
    }

    // ---- parsing of field values ----

    private static long parseNumber(String field, String text, long max) {
        String t = text.trim();
        long n;
        try {
            n = t.startsWith("0x") || t.startsWith("0X") ? Long.parseLong(t.substring(2), 16) : Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(field + ": not a number '" + text + "'");
        }
        if (n < 0 || n > max) {
            throw new IllegalArgumentException(field + ": " + text + " is out of range 0.." + max);
        }
        return n;
    }

    /** "v" (exact) or "v/m"; bits of the value outside the mask are dropped, as a NIC would. */
    private static long[] parseValueMask(String field, String text, long max) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            return new long[] {parseNumber(field, text, max), max};
        }
        long mask = parseNumber(field + " mask", text.substring(slash + 1), max);
        long value = parseNumber(field, text.substring(0, slash), max);
        return new long[] {value & mask, mask};
    }

    private static long[] parseMac(String field, String text) {
        int slash = text.indexOf('/');
        long mac = macValue(field, slash < 0 ? text : text.substring(0, slash));
        long mask = slash < 0 ? MAC_MASK : macValue(field + " mask", text.substring(slash + 1));
        return new long[] {mac & mask, mask};
    }

    private static long macValue(String field, String text) {
        String[] parts = text.trim().split("[:-]", -1);
        if (parts.length != 6) {
            throw new IllegalArgumentException(field + ": malformed MAC address '" + text + "'");
        }
        long mac = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 2 || Character.digit(p.charAt(0), 16) < 0
                    || (p.length() == 2 && Character.digit(p.charAt(1), 16) < 0)) {
                throw new IllegalArgumentException(field + ": malformed MAC address '" + text + "'");
            }
            mac = (mac << 8) | Integer.parseInt(p, 16);
        }
        return mac;
    }

    /** Parses an IPv4 or IPv6 address with an optional prefix length into two words; returns 4 or 6. */
    private static int parsePrefix(String field, String text, long[] v, long[] m, int high, int low) {
        String t = text.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        boolean v6 = addr.indexOf(':') >= 0;
        int max = v6 ? 128 : 32;
        int prefix = max;
        if (slash >= 0) {
            String p = t.substring(slash + 1);
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
                throw new IllegalArgumentException(field + ": malformed prefix length in '" + text + "'");
            }
            prefix = Integer.parseInt(p);
            if (prefix > max) {
                throw new IllegalArgumentException(field + ": impossible prefix /" + prefix + " for an IPv"
                        + (v6 ? 6 : 4) + " address (at most /" + max + ") in '" + text + "'");
            }
        }
        if (v6) {
            long[] a = Addresses.parseIpv6(addr);
            if (a == null) {
                throw new IllegalArgumentException(field + ": malformed IPv6 address '" + text + "'");
            }
            long mh = prefix == 0 ? 0 : prefix >= 64 ? -1L : -1L << (64 - prefix);
            long ml = prefix <= 64 ? 0 : prefix == 128 ? -1L : -1L << (128 - prefix);
            v[high] = a[0] & mh;
            m[high] = mh;
            v[low] = a[1] & ml;
            m[low] = ml;
            return 6;
        }
        long a = Addresses.parseIpv4(addr);
        if (a < 0) {
            throw new IllegalArgumentException(field + ": malformed IPv4 address '" + text + "'");
        }
        long mk = prefix == 0 ? 0 : (0xFFFF_FFFFL << (32 - prefix)) & 0xFFFF_FFFFL;
        v[low] = a & mk;
        m[low] = mk;
        // The high word stays unmasked: the EtherType the caller adds keeps IPv6 frames out.
        return 4;
    }
}
