package io.vnicd.devmodel.vswitch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Locale;

/** 48-bit hardware addresses held in the low bits of a long, the first octet most significant. */
public final class MacAddress {
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    public static final long BROADCAST = 0xffff_ffff_ffffL;

    private MacAddress() {
    }

    /** Parses "aa:bb:cc:dd:ee:ff" (or with '-'); throws IllegalArgumentException naming the text otherwise. */
    public static long parse(String text) {
        String[] parts = text.trim().split("[:-]");
        if (parts.length != 6) {
            throw new IllegalArgumentException("'" + text + "' is not a MAC address (six hex octets like 02:00:00:00:00:01)");
        }
        long mac = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 2) {
                throw new IllegalArgumentException("'" + text + "' is not a MAC address: bad octet '" + p + "'");
            }
            try {
                mac = mac << 8 | Integer.parseInt(p, 16);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + text + "' is not a MAC address: bad octet '" + p + "'", e);
            }
        }
        return mac;
    }

    public static String format(long mac) {
        return String.format(Locale.ROOT, "%02x:%02x:%02x:%02x:%02x:%02x", mac >>> 40 & 0xff, mac >>> 32 & 0xff,
                mac >>> 24 & 0xff, mac >>> 16 & 0xff, mac >>> 8 & 0xff, mac & 0xff);
    }

    /** The 6-byte address at [at, at + 6) of a frame (network order), as a long. */
    public static long read(MemorySegment frame, long at) {
        return Integer.toUnsignedLong(frame.get(BE_INT, at)) << 16 | Short.toUnsignedLong(frame.get(BE_SHORT, at + 4));
    }

    /** Writes mac as 6 bytes at [at, at + 6) of a frame. */
    public static void write(MemorySegment frame, long at, long mac) {
        frame.set(BE_INT, at, (int) (mac >>> 16));
        frame.set(BE_SHORT, at + 4, (short) mac);
    }

    /** Group (multicast or broadcast) addresses have the low bit of the first octet set. */
    public static boolean isGroup(long mac) {
        return (mac & 0x0100_0000_0000L) != 0;
    }
}
