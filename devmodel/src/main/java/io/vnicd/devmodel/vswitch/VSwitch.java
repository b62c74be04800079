package io.vnicd.devmodel.vswitch;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A learning L2 switch joining a PF's ports (VFs, proxy VNICs, the uplink). Each port belongs to one VLAN; a
 * frame entering at a port is switched within that VLAN:
 * <ul>
 *   <li>its source address is learned (or refreshed) for the ingress port, unless a static entry pins it;</li>
 *   <li>a known unicast destination on another port receives it; on the same port it is filtered;</li>
 *   <li>broadcast, multicast and unknown destinations are flooded to every other port of the VLAN.</li>
 * </ul>
 * Learned entries age out after the ageing time without traffic from that address. The table is an
 * open-addressing hash of (VLAN, MAC) keys: switching a frame allocates nothing.
 * <p>
 * {@link #switchFrame} and {@link #tick} run on the data-path thread; ports and static entries are added
 * before it starts; counters and {@link #entries()} may be read from any thread (a snapshot, possibly a
 * frame behind).
 */
public final class VSwitch {
    /** Default ageing time, as in Linux bridges and most switches. */
    public static final Duration DEFAULT_AGEING = Duration.ofSeconds(300);
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final long EMPTY = -1L;
    private static final int MAX_PROBE = 64;

    /** One entry of the table, as {@link #entries()} reports it. */
    public record Entry(long mac, int vlan, int port, boolean isStatic, long idleNanos) {
        @Override
        public String toString() {
            return MacAddress.format(mac) + " vlan " + vlan + " -> port " + port + (isStatic ? " (static)" : "");
        }
    }

    private final PortSink sink;
    private final List<String> portNames = new ArrayList<>();
    private int[] portVlan = new int[0];
    private PortCounters[] counters = new PortCounters[0];
    private final long[] keys;
    private final int[] ports;
    private final long[] lastSeen;
    private final boolean[] pinned;
    private final int mask;
    private long ageingNanos = DEFAULT_AGEING.toNanos();
    private long now = System.nanoTime();
    private final long[] global = new long[3];
    private static final int LEARNED = 0;
    private static final int MOVES = 1;
    private static final int TABLE_FULL = 2;

    public VSwitch(PortSink sink) {
        this(sink, 4096);
    }

    /** @param capacity table slots, rounded up to a power of two */
    public VSwitch(PortSink sink, int capacity) {
        this.sink = sink;
        int cap = Integer.highestOneBit(Math.max(16, capacity - 1)) << 1;
        keys = new long[cap];
        ports = new int[cap];
        lastSeen = new long[cap];
        pinned = new boolean[cap];
        java.util.Arrays.fill(keys, EMPTY);
        mask = cap - 1;
    }

    /** Adds a port in VLAN 0 (untagged); returns its number (0, 1, ...). */
    public int addPort(String name) {
        return addPort(name, 0);
    }

    /** Adds a port in vlan (0 to 4094); returns its number. */
    public synchronized int addPort(String name, int vlan) {
        if (vlan < 0 || vlan > 4094) {
            throw new IllegalArgumentException("port " + name + ": VLAN " + vlan + " is not in 0..4094");
        }
        int port = portNames.size();
        portNames.add(name);
        portVlan = java.util.Arrays.copyOf(portVlan, port + 1);
        portVlan[port] = vlan;
        counters = java.util.Arrays.copyOf(counters, port + 1);
        counters[port] = new PortCounters();
        return port;
    }

    public int portCount() {
        return portNames.size();
    }

    public String portName(int port) {
        return portNames.get(port);
    }

    public int portVlan(int port) {
        return portVlan[port];
    }

    public PortCounters counters(int port) {
        return counters[port];
    }

    public void setAgeing(Duration ageing) {
        this.ageingNanos = ageing.toNanos();
    }

    /** Pins mac in vlan to port: learning never moves it (a VF's assigned address). */
    public synchronized void addStaticEntry(long mac, int vlan, int port) {
        if (port < 0 || port >= portNames.size()) {
            throw new IllegalArgumentException("no port " + port);
        }
        long key = key(mac, vlan);
        int slot = findSlot(key);
        if (slot < 0) {
            throw new IllegalStateException("switch table full adding " + MacAddress.format(mac));
        }
        ports[slot] = port;
        pinned[slot] = true;
        lastSeen[slot] = now;
        keys[slot] = key;
    }

    /** Advances the switch's clock (once per data-path round: reading the clock per frame would cost more). */
    public void tick(long nanoTime) {
        now = nanoTime;
    }

    private static long key(long mac, int vlan) {
        return (long) vlan << 48 | mac;
    }

    private static int hash(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ h >>> 32);
    }

    private boolean live(int slot) {
        return pinned[slot] || now - lastSeen[slot] < ageingNanos;
    }

    /** The slot holding key (live), or -1. */
    private int lookup(long key) {
        int i = hash(key) & mask;
        for (int probe = 0; probe < MAX_PROBE; probe++, i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return live(i) ? i : -1;
            }
            if (k == EMPTY) {
                return -1;
            }
        }
        return -1;
    }

    /** The slot holding key, else the first reusable (aged or empty) slot on its probe path, or -1 when full. */
    private int findSlot(long key) {
        int i = hash(key) & mask;
        int reusable = -1;
        for (int probe = 0; probe < MAX_PROBE; probe++, i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return i;
            }
            if (k == EMPTY) {
                return reusable >= 0 ? reusable : i;
            }
            if (reusable < 0 && !live(i)) {
                reusable = i;
            }
        }
        return reusable;
    }

    /**
     * Switches one frame that entered at ingress. The frame is only read; the sink copies it where it goes.
     */
    public void switchFrame(int ingress, MemorySegment frame, long offset, int length) {
        PortCounters in = counters[ingress];
        if (length < 14) {
            in.add(PortCounters.Counter.RUNTS, 1);
            return;
        }
        in.add(PortCounters.Counter.IN_FRAMES, 1);
        in.add(PortCounters.Counter.IN_BYTES, length);
        int vlan = portVlan[ingress];
        long dst = MacAddress.read(frame, offset);
        long src = MacAddress.read(frame, offset + 6);
        if (!MacAddress.isGroup(src)) {
            learn(key(src, vlan), ingress);
        }
        if (!MacAddress.isGroup(dst)) {
            int slot = lookup(key(dst, vlan));
            if (slot >= 0) {
                int port = ports[slot];
                if (port == ingress) {
                    in.add(PortCounters.Counter.FILTERED, 1);
                } else {
                    deliver(port, frame, offset, length);
                }
                return;
            }
        }
        in.add(PortCounters.Counter.FLOODED, 1);
        int[] vlans = portVlan;
        for (int port = 0; port < vlans.length; port++) {
            if (port != ingress && vlans[port] == vlan) {
                deliver(port, frame, offset, length);
            }
        }
    }

    /**
     * Sends a frame that entered at ingress straight out of egress, as a classifier rule steered it; counted
     * like a switched frame (and filtered when egress is the ingress port).
     */
    public void forward(int ingress, int egress, MemorySegment frame, long offset, int length) {
        PortCounters in = counters[ingress];
        in.add(PortCounters.Counter.IN_FRAMES, 1);
        in.add(PortCounters.Counter.IN_BYTES, length);
        if (egress == ingress) {
            in.add(PortCounters.Counter.FILTERED, 1);
        } else {
            deliver(egress, frame, offset, length);
        }
    }

    private void deliver(int port, MemorySegment frame, long offset, int length) {
        PortCounters out = counters[port];
        if (sink.deliver(port, frame, offset, length)) {
            out.add(PortCounters.Counter.OUT_FRAMES, 1);
            out.add(PortCounters.Counter.OUT_BYTES, length);
        } else {
            out.add(PortCounters.Counter.OUT_DROPS, 1);
        }
    }

    private void learn(long key, int port) {
        int slot = findSlot(key);
        if (slot < 0) {
            global[TABLE_FULL]++;
            return;
        }
        if (keys[slot] == key) {
            if (pinned[slot]) {
                return;
            }
            if (ports[slot] != port) {
                global[MOVES]++;
                ports[slot] = port;
            }
            lastSeen[slot] = now;
            return;
        }
        ports[slot] = port;
        pinned[slot] = false;
        lastSeen[slot] = now;
        keys[slot] = key;
        global[LEARNED]++;
    }

    /** Addresses learned since start (including re-learned after ageing). */
    public long learned() {
        return (long) LONGS.getOpaque(global, LEARNED);
    }

    /** Times an address showed up at a different port than the one it was learned on. */
    public long moves() {
        return (long) LONGS.getOpaque(global, MOVES);
    }

    /** Addresses that could not be learned because their part of the table was full. */
    public long tableFull() {
        return (long) LONGS.getOpaque(global, TABLE_FULL);
    }

    /** A snapshot of the live entries (for status and tests; may race with the data path by a frame). */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        long t = now;
        for (int i = 0; i < keys.length; i++) {
            long k = keys[i];
            if (k != EMPTY && live(i)) {
                out.add(new Entry(k & MacAddress.BROADCAST, (int) (k >>> 48), ports[i], pinned[i], t - lastSeen[i]));
            }
        }
        return out;
    }
}
