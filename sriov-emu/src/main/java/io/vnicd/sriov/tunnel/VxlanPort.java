package io.vnicd.sriov.tunnel;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.port.PortIngress;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.UdpSocket;
import io.vnicd.virtio.datapath.DataPathAgent;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * VXLAN (RFC 7348) to other hosts: one switch port of the PF, a trunk whose VLANs are carried by segments, each
 * segment a VNI. A frame the switch sends into a VLAN goes, behind an 8-byte VXLAN header, in a UDP datagram to the
 * VTEP its destination MAC was learned (or set) behind, or, for broadcast, multicast and unknown destinations, to
 * every remote VTEP of the segment (head-end replication). Datagrams from a segment's VTEPs are decapsulated into
 * the PF's ingress in the segment's VLAN, and the inner source MAC is learned behind the VTEP that sent it (at the
 * segment's port, not the datagram's source port, which the Linux driver varies for entropy).
 * <pre>
 * VXLAN header (8 bytes, network order)
 *  0        1                4                7        8
 *  +--------+----------------+----------------+--------+
 *  | flags  | reserved (24)  | VNI (24)       | res.   |   flags: 0x08, the I flag (a valid VNI)
 *  +--------+----------------+----------------+--------+
 * outer: IPv4 (20) + UDP (8) + VXLAN (8) = 36 bytes around the inner frame
 * </pre>
 * The datagrams leave with don't-fragment set: a frame the path's MTU cannot carry once encapsulated is dropped
 * and counted ({@link TunnelCounter#TOO_BIG}); guests on a VXLAN segment need an MTU of the path's less 50 (1450 on
 * a 1500-byte path). Only datagrams from a segment's own VTEPs are taken. Data-path thread only, but the counters.
 */
public final class VxlanPort implements Port {
    /** IANA's VXLAN port (RFC 7348). The Linux driver's default without {@code dstport} is still 8472. */
    public static final int IANA_PORT = 4789;
    public static final int HEADER = 8;
    /** Outer IPv4, UDP and VXLAN headers: what encapsulation adds to the inner frame. */
    public static final int OVERHEAD = 20 + 8 + HEADER;
    private static final int BATCH = 32;
    private static final int BUDGET = 64;
    private static final int FDB_SLOTS = 4096;
    private static final long AGEING_NANOS = 300_000_000_000L;
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final String pf;
    private final String name;
    private final VxlanSegment[] segments;
    private final int[] segmentOfVlan = new int[4096];
    private final int mtu;
    private final int localIp;
    private final int localPort;
    private final DataPathAgent agent;
    private final CounterBlock counters;
    private final CounterBlock tunnel;
    private final MemorySegment header = Arena.ofAuto().allocate(HEADER, 8);
    private UdpSocket socket;
    private PortIngress ingress;
    private int port = -1;
    // per segment forwarding database: MAC -> VTEP
    private final long[][] fdbMac;
    private final int[][] fdbIp;
    private final int[][] fdbPort;
    private final long[][] fdbSeen;
    private final boolean[][] fdbStatic;
    private long now = System.nanoTime();
    private boolean pending;
    private boolean waiting;
    private int waitTicket;
    private long waitSince;
    private long lastTooBig;
    private long lastErrors;
    private long lastOverflows;
    private final UdpSocket.DatagramHandler handler = this::received;

    /**
     * @param mtu       the path's MTU toward the VTEPs (an outer datagram is at most this)
     * @param localIp   the address to bind (0: any; datagrams then leave from the address the host routes from)
     * @param localPort the UDP port to listen on (usually {@link #IANA_PORT})
     */
    public VxlanPort(String pf, String name, List<VxlanSegment> segments, int mtu, int localIp, int localPort,
                     DataPathAgent agent) {
        this.pf = pf;
        this.name = name;
        this.segments = segments.toArray(new VxlanSegment[0]);
        this.mtu = mtu;
        this.localIp = localIp;
        this.localPort = localPort;
        this.agent = agent;
        Arrays.fill(segmentOfVlan, -1);
        int n = this.segments.length;
        fdbMac = new long[n][FDB_SLOTS];
        fdbIp = new int[n][FDB_SLOTS];
        fdbPort = new int[n][FDB_SLOTS];
        fdbSeen = new long[n][FDB_SLOTS];
        fdbStatic = new boolean[n][FDB_SLOTS];
        for (int s = 0; s < n; s++) {
            VxlanSegment seg = this.segments[s];
            if (segmentOfVlan[seg.vlan()] >= 0) {
                throw new IllegalArgumentException(pf + ": VLAN " + seg.vlan() + " is carried by two VXLAN segments");
            }
            segmentOfVlan[seg.vlan()] = s;
            Arrays.fill(fdbMac[s], -1L);
            for (VxlanSegment.FdbEntry e : seg.fdb()) {
                learn(s, e.mac(), e.vtep().ip(), e.vtep().port(), true);
            }
        }
        this.counters = CounterRegistry.process().register("port", Map.of("pf", pf, "port", name, "kind", "tunnel"),
                PortCounter.values());
        this.tunnel = CounterRegistry.process().register("tunnel", Map.of("pf", pf, "port", name), TunnelCounter.values());
    }

    /** Joins the port to its PF: its switch port and the ingress its frames go to. Before {@link #start}. */
    public void attach(int switchPort, PortIngress portIngress) {
        this.port = switchPort;
        this.ingress = portIngress;
    }

    /** Binds the UDP socket and has the data path watch it. */
    public void start() throws NativeException {
        UdpSocket s = UdpSocket.bind(localIp, localPort, BATCH, Math.max(mtu, 1600));
        agent.execute(() -> {
            socket = s;
            agent.watch(s.fd());
        });
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Kind kind() {
        return Kind.TUNNEL;
    }

    @Override
    public boolean isTrunk() {
        return true;
    }

    @Override
    public CounterBlock counters() {
        return counters;
    }

    public CounterBlock tunnelCounters() {
        return tunnel;
    }

    @Override
    public boolean linkUp() {
        return socket != null;
    }

    public List<VxlanSegment> segments() {
        return List.of(segments);
    }

    public int mtu() {
        return mtu;
    }

    public int localPort() {
        return localPort;
    }

    // ---- transmit -------------------------------------------------------------------------------------------

    @Override
    public int send(MemorySegment frame, long offset, int length, int vlan) {
        int s = vlan >= 0 && vlan < segmentOfVlan.length ? segmentOfVlan[vlan] : -1;
        if (s < 0) {
            tunnel.increment(TunnelCounter.NO_SEGMENT.ordinal());
            return DROPPED;
        }
        if (length + OVERHEAD > mtu) {
            tunnel.increment(TunnelCounter.TOO_BIG.ordinal());
            return DROPPED;
        }
        UdpSocket u = socket;
        if (u == null) {
            return DROPPED;
        }
        VxlanSegment seg = segments[s];
        header.set(BE_INT, 0, 0x0800_0000);
        header.set(BE_INT, 4, seg.vni() << 8);
        long dst = MacAddress.read(frame, offset);
        int slot = MacAddress.isGroup(dst) ? -1 : find(s, dst);
        if (slot >= 0 && (fdbStatic[s][slot] || now - fdbSeen[s][slot] < AGEING_NANOS)) {
            return datagram(u, frame, offset, length, fdbIp[s][slot], fdbPort[s][slot]) ? SENT : DROPPED;
        }
        List<VxlanSegment.Vtep> remotes = seg.remotes();
        if (remotes.isEmpty()) {
            tunnel.increment(TunnelCounter.NO_VTEP.ordinal());
            return DROPPED;
        }
        boolean any = false;
        for (int i = 0; i < remotes.size(); i++) {
            VxlanSegment.Vtep v = remotes.get(i);
            any |= datagram(u, frame, offset, length, v.ip(), v.port());
        }
        return any ? SENT : DROPPED;
    }

    private boolean datagram(UdpSocket u, MemorySegment frame, long offset, int length, int ip, int vtepPort) {
        if (!u.send(header, HEADER, frame, offset, length, ip, vtepPort)) {
            return false;
        }
        pending = true;
        tunnel.increment(TunnelCounter.ENCAPSULATED.ordinal());
        return true;
    }

    @Override
    public void flush() {
        UdpSocket u = socket;
        if (u == null || (!pending && !u.txPending())) {
            return;
        }
        pending = false;
        u.flush();
        long tooBig = u.txTooBig();
        long errors = u.txErrors() + u.txBusy();
        if (tooBig != lastTooBig) {
            tunnel.add(TunnelCounter.TOO_BIG.ordinal(), tooBig - lastTooBig);
            lastTooBig = tooBig;
        }
        if (errors != lastErrors) {
            tunnel.add(TunnelCounter.SEND_ERRORS.ordinal(), errors - lastErrors);
            lastErrors = errors;
        }
    }

    // ---- receive --------------------------------------------------------------------------------------------

    @Override
    public int poll() {
        now = System.nanoTime();
        UdpSocket u = socket;
        if (u == null) {
            return 0;
        }
        int n = u.receive(handler, BUDGET);
        long overflows = u.rxOverflows();
        if (overflows != lastOverflows) {
            tunnel.add(TunnelCounter.RX_OVERFLOWS.ordinal(), overflows - lastOverflows);
            lastOverflows = overflows;
        }
        return n;
    }

    private boolean received(MemorySegment d, long offset, int length, int sourceIp, int sourcePort) {
        if (waiting) {
            int r = ingress.onRetry(d, offset + HEADER, length - HEADER, waitTicket, now - waitSince);
            if (PortIngress.isBusy(r)) {
                waitTicket = r;
                return false;
            }
            waiting = false;
            return true;
        }
        if (length < HEADER + 14 || (d.get(ValueLayout.JAVA_BYTE, offset) & 0x08) == 0) {
            tunnel.increment(TunnelCounter.MALFORMED.ordinal());
            return true;
        }
        int vni = d.get(BE_INT, offset + 4) >>> 8;
        int s = segmentOfVni(vni);
        if (s < 0) {
            tunnel.increment(TunnelCounter.UNKNOWN_VNI.ordinal());
            return true;
        }
        int vtepPort = remotePort(s, sourceIp);
        if (vtepPort < 0) {
            tunnel.increment(TunnelCounter.UNKNOWN_SOURCE.ordinal());
            return true;
        }
        tunnel.increment(TunnelCounter.DECAPSULATED.ordinal());
        long src = MacAddress.read(d, offset + HEADER + 6);
        if (!MacAddress.isGroup(src)) {
            learn(s, src, sourceIp, vtepPort, false);
        }
        int r = ingress.onFrame(port, segments[s].vlan(), d, offset + HEADER, length - HEADER);
        if (PortIngress.isBusy(r)) {
            waiting = true;
            waitTicket = r;
            waitSince = now;
            return false;
        }
        return true;
    }

    private int segmentOfVni(int vni) {
        for (int s = 0; s < segments.length; s++) {
            if (segments[s].vni() == vni) {
                return s;
            }
        }
        return -1;
    }

    /** The VTEP port of the segment's remote at ip, or -1 when ip is none of its VTEPs. */
    private int remotePort(int s, int ip) {
        List<VxlanSegment.Vtep> remotes = segments[s].remotes();
        for (int i = 0; i < remotes.size(); i++) {
            if (remotes.get(i).ip() == ip) {
                return remotes.get(i).port();
            }
        }
        return -1;
    }

    private static int hash(long mac) {
        long h = mac * 0x9E3779B97F4A7C15L;
        return (int) (h ^ h >>> 32) & (FDB_SLOTS - 1);
    }

    private int find(int s, long mac) {
        long[] keys = fdbMac[s];
        int i = hash(mac);
        for (int p = 0; p < 32; p++, i = (i + 1) & (FDB_SLOTS - 1)) {
            if (keys[i] == mac) {
                return i;
            }
            if (keys[i] == -1L) {
                return -1;
            }
        }
        return -1;
    }

    private void learn(int s, long mac, int ip, int vtepPort, boolean pin) {
        long[] keys = fdbMac[s];
        int i = hash(mac);
        int reusable = -1;
        for (int p = 0; p < 32; p++, i = (i + 1) & (FDB_SLOTS - 1)) {
            if (keys[i] == mac) {
                if (!fdbStatic[s][i] || pin) {
                    fdbIp[s][i] = ip;
                    fdbPort[s][i] = vtepPort;
                    fdbStatic[s][i] |= pin;
                }
                fdbSeen[s][i] = now;
                return;
            }
            if (keys[i] == -1L) {
                reusable = reusable < 0 ? i : reusable;
                break;
            }
            if (reusable < 0 && !fdbStatic[s][i] && now - fdbSeen[s][i] > AGEING_NANOS) {
                reusable = i;
            }
        }
        if (reusable < 0) {
            return;
        }
        keys[reusable] = mac;
        fdbIp[s][reusable] = ip;
        fdbPort[s][reusable] = vtepPort;
        fdbSeen[s][reusable] = now;
        fdbStatic[s][reusable] = pin;
        if (!pin) {
            tunnel.increment(TunnelCounter.LEARNED.ordinal());
        }
    }

    @Override
    public boolean prepareToSleep() {
        UdpSocket u = socket;
        return !waiting && (u == null || !u.txPending());
    }

    @Override
    public void failed(Throwable cause) {
        waiting = false;
    }

    /** One forwarding entry: a remote MAC of a segment and the VTEP it is behind. */
    public record Entry(int vni, long mac, VxlanSegment.Vtep vtep, boolean isStatic) {
    }

    /** The forwarding database (a snapshot read on the data path). */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        agent.execute(() -> {
            for (int s = 0; s < segments.length; s++) {
                for (int i = 0; i < FDB_SLOTS; i++) {
                    if (fdbMac[s][i] != -1L && (fdbStatic[s][i] || now - fdbSeen[s][i] < AGEING_NANOS)) {
                        out.add(new Entry(segments[s].vni(), fdbMac[s][i], new VxlanSegment.Vtep(fdbIp[s][i], fdbPort[s][i]),
                                fdbStatic[s][i]));
                    }
                }
            }
        });
        return out;
    }

    public UdpSocket socket() {
        return socket;
    }

    public void close() {
        UdpSocket u = socket;
        if (u != null) {
            u.close();
        }
        counters.close();
        tunnel.close();
    }

    @Override
    public String toString() {
        return pf + " " + name;
    }
}
