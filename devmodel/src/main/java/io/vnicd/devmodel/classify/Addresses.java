package io.vnicd.devmodel.classify;

/**
 * Strict textual IPv4 and IPv6 address parsing for rule specs. Deliberately not InetAddress, which
 * accepts host names and would resolve them.
 */
final class Addresses {
    private Addresses() {
    }

    /** Dotted quad to an unsigned 32-bit value, or -1 when malformed. */
    static long parseIpv4(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            return -1;
        }
        long a = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return -1;
            }
            int b = Integer.parseInt(p);
            if (b > 255) {
                return -1;
            }
            a = (a << 8) | b;
        }
        return a;
    }

    /** RFC 4291 2.2 text form (with "::" and a dotted-quad tail) to {high, low}, or null when malformed. */
    static long[] parseIpv6(String s) {
        if (s.isEmpty()) {
            return null;
        }
        int[] groups = new int[8];
        int count = 0;
        int gap = -1;
        String rest = s;
        if (rest.startsWith("::")) {
            gap = 0;
            rest = rest.substring(2);
        } else if (rest.startsWith(":")) {
            return null;
        }
        if (!rest.isEmpty()) {
            String[] parts = rest.split(":", -1);
            for (int i = 0; i < parts.length; i++) {
                String p = parts[i];
                if (p.isEmpty()) {
                    if (i == parts.length - 1 && !s.endsWith("::")) {
                        return null; // "a:" with nothing after the colon
                    }
                    // "a::b": an empty part marks the gap; allowed once, and not at the end unless the string ends "::".
                    if (gap >= 0 && !(i == parts.length - 1 && s.endsWith("::") && gap == count)) {
                        return null;
                    }
                    if (gap < 0) {
                        gap = count;
                    }
                    continue;
                }
                if (i == parts.length - 1 && p.indexOf('.') >= 0) {
                    long v4 = parseIpv4(p);
                    if (v4 < 0 || count + 2 > 8) {
                        return null;
                    }
                    groups[count++] = (int) (v4 >>> 16);
                    groups[count++] = (int) (v4 & 0xFFFF);
                    continue;
                }
                if (p.length() > 4 || count == 8) {
                    return null;
                }
                int g = 0;
                for (int k = 0; k < p.length(); k++) {
                    int d = Character.digit(p.charAt(k), 16);
                    if (d < 0) {
                        return null;
                    }
                    g = (g << 4) | d;
                }
                groups[count++] = g;
            }
        }
        if (gap < 0 && count != 8 || gap >= 0 && count > 7) {
            return null;
        }
        int[] full = new int[8];
        if (gap < 0) {
            full = groups;
        } else {
            int tail = count - gap;
            System.arraycopy(groups, 0, full, 0, gap);
            System.arraycopy(groups, gap, full, 8 - tail, tail);
        }
        long high = 0;
        long low = 0;
        for (int i = 0; i < 4; i++) {
            high = (high << 16) | full[i];
            low = (low << 16) | full[i + 4];
        }
        return new long[] {high, low};
    }
}
