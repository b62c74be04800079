package io.vnicd.devmodel.vswitch;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A learning L2 switch joining a PF's {@link Port}s (VFs, proxy VNICs, the uplink) without knowing their kinds.
 * An access port (a VF) belongs to one VLAN; a trunk (the uplink) carries every VLAN, each frame in its own. A
 * frame entering at a port is switched within its VLAN:
 * <ul>
 *   <li>its source address is learned (or refreshed) for the ingress port, unless a static entry pins it;</li>
 *   <li>a known unicast destination on another port receives it; on the same port it is filtered;</li>
 *   <li>broadcast, multicast and unknown destinations are flooded to every other port of the VLAN.</li>
 * </ul>
 * Learned entries age out after the ageing time without traffic from that address. The table is an
 * open-addressing hash of (VLAN, MAC) keys: switching a frame allocates nothing. The switch counts in each port's
 * {@link PortCounter}s what it sees of the port: frames in and out, floods, filtered frames, runts, output drops.
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

    /** {@link #portVlan} of a trunk port. */
    public static final int TRUNK = -1;
    /** {@link #portVlan} of a port in no VLAN (one left by a removed VF): nothing is flooded to it. */
    public static final int NO_VLAN = -2;
    /** {@link #lookup(int, int, long)}: flood the frame. */
    public static final int FLOOD = -1;
    /** {@link #lookup(int, int, long)}: the destination is on the ingress port: filter the frame. */
    public static final int FILTER = -2;

    private final List<Port> portList = new ArrayList<>();
    private Port[] portArray = new Port[0];
    private int[] portVlan = new int[0];
    /** Per port: its horizon (see {@link #horizon}). */
    private int[] portHorizon = new int[0];
    private CounterBlock[] counters = new CounterBlock[0];
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

    public VSwitch() {
        this(4096);
    }

    /** @param capacity table slots, rounded up to a power of two */
    public VSwitch(int capacity) {
        int cap = Integer.highestOneBit(Math.max(16, capacity - 1)) << 1;
        keys = new long[cap];
        ports = new int[cap];
        lastSeen = new long[cap];
        pinned = new boolean[cap];
        java.util.Arrays.fill(keys, EMPTY);
        mask = cap - 1;
    }

    /**
     * Adds a port; returns its number (0, 1, ...). Before the data path runs, or on it (a command).
     *
     * @param vlan the access port's VLAN, 0 to 4094 (0: untagged), or {@link #TRUNK}
     */
    public synchronized int addPort(Port port, int vlan) {
        if (vlan != TRUNK && (vlan < 0 || vlan > 4094)) {
            throw new IllegalArgumentException("port " + port.name() + ": VLAN " + vlan + " is not in 0..4094");
        }
        int n = portList.size();
        portList.add(port);
        int[] vlans = java.util.Arrays.copyOf(portVlan, n + 1);
        vlans[n] = vlan;
        CounterBlock[] cs = java.util.Arrays.copyOf(counters, n + 1);
        cs[n] = port.counters();
        int[] hs = java.util.Arrays.copyOf(portHorizon, n + 1);
        hs[n] = horizon(port.kind());
        // Arrays before the port list the data path walks: a round sees a port only with its VLAN and counters.
        portVlan = vlans;
        portHorizon = hs;
        counters = cs;
        portArray = portList.toArray(new Port[0]);
        return n;
    }

    /**
     * Puts replacement in port's place (a VF removed at run time leaves a port that answers for nothing), keeping
     * the numbers of the others. Before the data path runs, or on it (a command).
     */
    public synchronized void replacePort(int port, Port replacement) {
        if (port < 0 || port >= portList.size()) {
            throw new IllegalArgumentException("no port " + port);
        }
        portList.set(port, replacement);
        CounterBlock[] cs = counters.clone();
        cs[port] = replacement.counters();
        counters = cs;
        // in no VLAN: floods pass it by
        int[] vlans = portVlan.clone();
        vlans[port] = NO_VLAN;
        portVlan = vlans;
        portArray = portList.toArray(new Port[0]);
    }

    /** Moves an access port to vlan (0..4094); its learned addresses are flushed. On the data path (a command). */
    public synchronized void setPortVlan(int port, int vlan) {
        if (port < 0 || port >= portList.size() || vlan < 0 || vlan > 4094 || portVlan[port] == TRUNK) {
            throw new IllegalArgumentException("port " + port + " cannot be moved to VLAN " + vlan);
        }
        int[] vlans = portVlan.clone();
        vlans[port] = vlan;
        portVlan = vlans;
        flushPort(port);
    }

    public int portCount() {
        return portArray.length;
    }

    public Port port(int port) {
        return portArray[port];
    }

    public String portName(int port) {
        return portArray[port].name();
    }

    /** The port's VLAN, or {@link #TRUNK}. */
    public int portVlan(int port) {
        return portVlan[port];
    }

    /** True when some access port belongs to vlan. */
    public boolean hasVlan(int vlan) {
        for (int v : portVlan) {
            if (v == vlan) {
                return true;
            }
        }
        return false;
    }

    public void setAgeing(Duration ageing) {
        this.ageingNanos = ageing.toNanos();
    }

    /** Pins mac in vlan to port: learning never moves it (a VF's assigned address). */
    public synchronized void addStaticEntry(long mac, int vlan, int port) {
        if (port < 0 || port >= portList.size()) {
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

    /** The port mac in vlan is at (a live entry, static or learned), or -1. Data-path thread, or a racy read. */
    public int entryPort(long mac, int vlan) {
        int slot = lookup(key(mac, vlan));
        return slot < 0 ? -1 : ports[slot];
    }

    /** Removes mac in vlan from the table (static or learned). Data-path thread (a command). */
    public void removeEntry(long mac, int vlan) {
        int slot = lookupAny(key(mac, vlan));
        if (slot >= 0) {
            clearSlot(slot);
        }
    }

    /** Removes every entry that points at port (its peer went away, its VNICs with it). Data-path thread. */
    public int flushPort(int port) {
        int n = 0;
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != EMPTY && ports[i] == port) {
                clearSlot(i);
                n++;
            }
        }
        return n;
    }

    /** The slot holding key, live or not, or -1. */
    private int lookupAny(long key) {
        int i = hash(key) & mask;
        for (int probe = 0; probe < MAX_PROBE; probe++, i = (i + 1) & mask) {
            if (keys[i] == key) {
                return i;
            }
            if (keys[i] == EMPTY) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * Frees a slot without breaking the probe chains of the keys after it: it stays occupied, by an entry that is
     * aged out at once and unpinned, so lookups walk past it and learning reuses it.
     */
    private void clearSlot(int slot) {
        pinned[slot] = false;
        lastSeen[slot] = now - ageingNanos - 1;
        keys[slot] = key(0, 4095);
        ports[slot] = -1;
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

    private static final int LOCAL = 0;
    private static final int PEER = 1;
    private static final int WIRE = 2;

    /**
     * Which side of the PF a port is on: its own VNICs (VFs, a router), another daemon's (proxy VNICs), or the wire
     * (the uplink, tunnels). Frames never go between a peer and the wire, nor from the wire back to the wire: each
     * daemon reaches the wire by its own uplink, and a daemon that forwarded a peer's or the wire's frames to the
     * wire again would make loops and duplicates (split horizon, as VPLS and EVPN do). Peers may reach peers (a
     * daemon that others joined forwards between them).
     */
    static int horizon(Port.Kind kind) {
        return switch (kind) {
            case VF, ROUTER -> LOCAL;
            case PROXY -> PEER;
            case UPLINK, TUNNEL -> WIRE;
        };
    }

    /** True when a frame from a port of horizon in may not leave by one of horizon out. */
    private static boolean beyondHorizon(int in, int out) {
        return in != LOCAL && out != LOCAL && (in == WIRE || out == WIRE);
    }

    /** The VLAN a frame that entered at ingress is switched in: the access port's, or the frame's own on a trunk. */
    public int vlanOf(int ingress, int frameVlan) {
        int v = portVlan[ingress];
        return v == TRUNK ? frameVlan : v;
    }

    /**
     * Switches one frame that entered at ingress. The frame is only read; the ports copy it where it goes.
     *
     * @param frameVlan the frame's own VLAN (its tag, 0 untagged) where ingress is a trunk; ignored otherwise
     * @return what the one destination of a known unicast frame answered ({@link Port#BUSY}: nothing was counted
     *         at the destination, and the caller may {@link #deliver} again later); {@link Port#SENT} for a flooded,
     *         filtered or runt frame
     */
    public int switchFrame(int ingress, int frameVlan, MemorySegment frame, long offset, int length) {
        CounterBlock in = counters[ingress];
        if (length < 14) {
            in.increment(PortCounter.RUNTS.ordinal());
            return Port.SENT;
        }
        in.increment(PortCounter.IN_FRAMES.ordinal());
        in.add(PortCounter.IN_BYTES.ordinal(), length);
        int vlan = vlanOf(ingress, frameVlan);
        long dst = MacAddress.read(frame, offset);
        long src = MacAddress.read(frame, offset + 6);
        if (!MacAddress.isGroup(src)) {
            learn(key(src, vlan), ingress);
        }
        if (!MacAddress.isGroup(dst)) {
            int slot = lookup(key(dst, vlan));
            if (slot >= 0) {
                int port = ports[slot];
                int[] h = portHorizon;
                if (port == ingress || beyondHorizon(h[ingress], h[port])) {
                    in.increment(PortCounter.FILTERED.ordinal());
                    return Port.SENT;
                }
                return deliver(port, vlan, frame, offset, length);
            }
        }
        in.increment(PortCounter.FLOODED.ordinal());
        flood(ingress, vlan, frame, offset, length);
        return Port.SENT;
    }

    /** Delivers to every port of vlan and every trunk but ingress; a port that is busy counts an output drop. */
    private void flood(int ingress, int vlan, MemorySegment frame, long offset, int length) {
        int[] vlans = portVlan;
        int[] h = portHorizon;
        int from = h[ingress];
        for (int port = 0; port < vlans.length; port++) {
            int v = vlans[port];
            if (port != ingress && (v == vlan || v == TRUNK) && !beyondHorizon(from, h[port])) {
                if (deliver(port, vlan, frame, offset, length) == Port.BUSY) {
                    counters[port].increment(PortCounter.OUT_DROPS.ordinal());
                }
            }
        }
    }

    /**
     * The port a unicast frame to dst in vlan from ingress goes to, {@link #FLOOD} (group or unknown address) or
     * {@link #FILTER}; learns nothing, counts nothing.
     */
    public int lookup(int ingress, int vlan, long dst) {
        if (MacAddress.isGroup(dst)) {
            return FLOOD;
        }
        int slot = lookup(key(dst, vlan));
        if (slot < 0) {
            return FLOOD;
        }
        return ports[slot] == ingress ? FILTER : ports[slot];
    }

    /**
     * Sends a frame that entered at ingress straight out of egress, as a classifier rule steered it; counted
     * like a switched frame (and filtered when egress is the ingress port).
     *
     * @return as {@link #switchFrame}
     */
    public int forward(int ingress, int egress, int frameVlan, MemorySegment frame, long offset, int length) {
        CounterBlock in = counters[ingress];
        in.increment(PortCounter.IN_FRAMES.ordinal());
        in.add(PortCounter.IN_BYTES.ordinal(), length);
        if (egress == ingress) {
            in.increment(PortCounter.FILTERED.ordinal());
            return Port.SENT;
        }
        return deliver(egress, vlanOf(ingress, frameVlan), frame, offset, length);
    }

    /**
     * Hands a frame to port egress and counts the outcome there: out, or an output drop; nothing for
     * {@link Port#BUSY}, which the caller decides about (wait and deliver again, or count the drop).
     */
    public int deliver(int egress, int vlan, MemorySegment frame, long offset, int length) {
        CounterBlock out = counters[egress];
        int r = portArray[egress].send(frame, offset, length, vlan);
        if (r == Port.SENT) {
            out.increment(PortCounter.OUT_FRAMES.ordinal());
            out.add(PortCounter.OUT_BYTES.ordinal(), length);
        } else if (r == Port.DROPPED) {
            out.increment(PortCounter.OUT_DROPS.ordinal());
        }
        return r;
    }

    /** The counters of port, for the ingress' own counts (spoofed, rule drops, waits). */
    public CounterBlock counters(int port) {
        return counters[port];
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
