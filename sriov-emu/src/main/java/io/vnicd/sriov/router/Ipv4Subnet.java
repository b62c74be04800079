package io.vnicd.sriov.router;

import io.vnicd.nativeio.UdpSocket;

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
        return UdpSocket.parseIp(text);
    }

    public static String format(int ip) {
        return UdpSocket.ipString(ip);
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
