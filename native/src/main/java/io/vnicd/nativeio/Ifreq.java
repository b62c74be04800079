package io.vnicd.nativeio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The layout of {@code struct ifreq} (linux/if.h), the argument of the interface ioctls (SIOCGIFFLAGS, SIOCGIFMTU,
 * SIOCGIFHWADDR, SIOCETHTOOL), and the request numbers used here (linux/sockios.h).
 * <pre>
 * struct ifreq (x86_64), 40 bytes
 *  0                16                                      40
 *  +----------------+---------------------------------------+
 *  | ifr_name[16]   | union ifr_ifru                        |
 *  +----------------+---------------------------------------+
 *                   | ifr_flags  (short, 16)                |  SIOCGIFFLAGS: the low 16 bits of the flags only
 *                   | ifr_mtu    (int, 16)                  |  SIOCGIFMTU
 *                   | ifr_hwaddr (struct sockaddr, 16):     |  SIOCGIFHWADDR
 *                   |   16 sa_family (u16), 18 sa_data[14]  |
 *                   | ifr_data   (void *, 16)               |  SIOCETHTOOL: points to a struct ethtool_*
 * </pre>
 * The name is NUL-terminated ASCII of at most {@link #NAME_MAX} bytes (IFNAMSIZ - 1).
 */
final class Ifreq {
    static final long SIZE = 40;
    static final int NAME_MAX = 15;
    static final long UNION = 16;
    static final long HWADDR_DATA = 18;

    static final long SIOCGIFFLAGS = 0x8913;
    static final long SIOCGIFMTU = 0x8921;
    static final long SIOCGIFHWADDR = 0x8927;
    static final long SIOCETHTOOL = 0x8946;

    private Ifreq() {
    }

    /**
     * Writes name into ifr_name and clears the rest of the request, without allocating. Returns false for a name that
     * no interface can have (empty, longer than 15 bytes, non-ASCII, containing NUL, '/' or whitespace).
     */
    static boolean putName(MemorySegment ifr, String name) {
        int n = name.length();
        if (n == 0 || n > NAME_MAX) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = name.charAt(i);
            if (c <= ' ' || c >= 0x7f || c == '/') {
                return false;
            }
        }
        ifr.fill((byte) 0);
        for (int i = 0; i < n; i++) {
            ifr.set(ValueLayout.JAVA_BYTE, i, (byte) name.charAt(i));
        }
        return true;
    }

    /** The 6-byte hardware address at offset of segment as a long, first octet most significant. */
    static long mac(MemorySegment segment, long offset) {
        long mac = 0;
        for (int i = 0; i < 6; i++) {
            mac = (mac << 8) | (segment.get(ValueLayout.JAVA_BYTE, offset + i) & 0xffL);
        }
        return mac;
    }
}
