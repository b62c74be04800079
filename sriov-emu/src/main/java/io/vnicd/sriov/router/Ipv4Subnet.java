package io.vnicd.sriov.router;

/**
 * An IPv4 subnet (network and prefix length), the addresses held as ints in network order of significance
 * (10.1.0.5 is 0x0a010005).
 */
public record Ipv4Subnet(int network, int prefix) {
    public Ipv4Subnet {
        if (prefix < 0 || prefix > 32) {
            throw new IllegalArgumentException("prefix length " + prefix + " is not in 0..32");
        }
        if ((network & ~mask(prefix)) != 0) {
            throw new IllegalArgumentException(format(network) + "/" + prefix + " has host bits set");
        }
    }

    /** "10.1.0.0/24". */
    public static Ipv4Subnet parse(String cidr) {
        int slash = cidr.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("'" + cidr + "' is not ADDRESS/PREFIX");
        }
        int prefix;
        try {
            prefix = Integer.parseInt(cidr.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + cidr + "' has no prefix length");
        }
        return new Ipv4Subnet(parseAddress(cidr.substring(0, slash)), prefix);
    }

    /** "10.1.0.254" as an int. */
    public static int parseAddress(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("'" + text + "' is not a dotted IPv4 address");
        }
        int ip = 0;
        for (String p : parts) {
            int b;
            try {
                b = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + text + "' is not a dotted IPv4 address");
            }
            if (b < 0 || b > 255 || p.isEmpty() || p.length() > 3) {
                throw new IllegalArgumentException("'" + text + "' is not a dotted IPv4 address");
            }
            ip = ip << 8 | b;
        }
        return ip;
    }

    public static String format(int ip) {
        return (ip >>> 24) + "." + (ip >>> 16 & 0xff) + "." + (ip >>> 8 & 0xff) + "." + (ip & 0xff);
    }

    static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    public boolean contains(int ip) {
        return (ip & mask(prefix)) == network;
    }

    /** True for the subnet's network and broadcast addresses (not hosts; /31 and /32 have none). */
    public boolean isNetworkOrBroadcast(int ip) {
        return prefix < 31 && contains(ip) && (ip == network || ip == (network | ~mask(prefix)));
    }

    @Override
    public String toString() {
        return format(network) + "/" + prefix;
    }
}
