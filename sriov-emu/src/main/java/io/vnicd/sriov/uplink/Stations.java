package io.vnicd.sriov.uplink;

import java.util.Arrays;

/**
 * The stations (source MAC and VLAN) that sent through the uplink: the PNIC each is mapped to and the IPv4
 * addresses it was seen using, so that a failover can move exactly the stations of the failed PNIC and announce
 * them on the new one. An open-addressing table of fixed size; a full table stops learning (counted), and entries
 * not refreshed for {@link #AGEING_NANOS} are reused. Data-path thread only.
 */
final class Stations {
    static final int IPS = 4;
    static final long AGEING_NANOS = 300_000_000_000L;
    private static final long EMPTY = -1L;
    private static final int MAX_PROBE = 32;

    private final long[] keys;
    private final int[] pnic;
    /** The PNIC each station was first mapped to: where failback returns it. */
    private final int[] home;
    private final int[] ips;
    private final long[] seen;
    private final int mask;
    private int size;
    private long full;

    Stations(int capacity) {
        int cap = Integer.highestOneBit(Math.max(16, capacity - 1)) << 1;
        keys = new long[cap];
        pnic = new int[cap];
        home = new int[cap];
        ips = new int[cap * IPS];
        seen = new long[cap];
        Arrays.fill(keys, EMPTY);
        mask = cap - 1;
    }

    static long key(long mac, int vlan) {
        return (long) vlan << 48 | mac;
    }

    private static int hash(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ h >>> 32);
    }

    /** The slot of key, or -1. */
    int find(long key) {
        int i = hash(key) & mask;
        for (int p = 0; p < MAX_PROBE; p++, i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return i;
            }
            if (k == EMPTY) {
                return -1;
            }
        }
        return -1;
    }

    /** The slot of key, adding it mapped to newPnic when absent; -1 when the table is full there. */
    int findOrAdd(long key, int newPnic, long now) {
        int i = hash(key) & mask;
        int reusable = -1;
        int empty = -1;
        for (int p = 0; p < MAX_PROBE; p++, i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return i;
            }
            if (k == EMPTY) {
                empty = i;
                break;
            }
            if (reusable < 0 && now - seen[i] > AGEING_NANOS) {
                reusable = i;
            }
        }
        int slot = reusable >= 0 ? reusable : empty;
        if (slot < 0) {
            full++;
            return -1;
        }
        if (keys[slot] == EMPTY) {
            size++;
        }
        keys[slot] = key;
        pnic[slot] = newPnic;
        home[slot] = newPnic;
        seen[slot] = now;
        Arrays.fill(ips, slot * IPS, slot * IPS + IPS, 0);
        return slot;
    }

    int pnic(int slot) {
        return pnic[slot];
    }

    int home(int slot) {
        return home[slot];
    }

    void setPnic(int slot, int p) {
        pnic[slot] = p;
    }

    void touch(int slot, long now) {
        seen[slot] = now;
    }

    /** Remembers ip (not 0) for the station, the newest replacing the oldest when all places are taken. */
    void addIp(int slot, int ip) {
        int base = slot * IPS;
        for (int k = 0; k < IPS; k++) {
            if (ips[base + k] == ip) {
                return;
            }
            if (ips[base + k] == 0) {
                ips[base + k] = ip;
                return;
            }
        }
        System.arraycopy(ips, base + 1, ips, base, IPS - 1);
        ips[base + IPS - 1] = ip;
    }

    int ip(int slot, int k) {
        return ips[slot * IPS + k];
    }

    long mac(int slot) {
        return keys[slot] & 0xffff_ffff_ffffL;
    }

    int vlan(int slot) {
        return (int) (keys[slot] >>> 48);
    }

    boolean used(int slot) {
        return keys[slot] != EMPTY;
    }

    int capacity() {
        return keys.length;
    }

    /** Stations mapped to PNIC p (recently seen). */
    int countOn(int p, long now) {
        int n = 0;
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != EMPTY && pnic[i] == p && now - seen[i] <= AGEING_NANOS) {
                n++;
            }
        }
        return n;
    }

    int size() {
        return size;
    }

    /** Stations that could not be learned because their part of the table was full. */
    long full() {
        return full;
    }
}
