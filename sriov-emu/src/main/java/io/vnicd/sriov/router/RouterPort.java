package io.vnicd.sriov.router;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.packet.Announcements;
import io.vnicd.devmodel.packet.Checksum;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.port.PortIngress;
import io.vnicd.devmodel.proxy.FrameChannel;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.NativeException;
import io.vnicd.virtio.datapath.DataPathAgent;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Map;

/**
 * The virtual router's VNIC on one PF: a port of that PF's switch (an access port, untagged), with one MAC and the
 * addresses its {@link VirtualRouter.View} gives it. Frames the switch hands it: ARP (answered for its addresses and
 * proxied for hosts across the router; every sender learned, and reported to the router, which is how a moved host
 * is seen), and IPv4 to its MAC (or flooded unicast between a moved host and its home subnet), routed to the VNIC
 * behind which the destination lies: this one, or another PF's through a channel. The VNIC on the egress side
 * resolves the next hop (ARP; a packet whose next hop is unknown is dropped, counted, and an ARP request sent) and
 * puts the packet into its PF's ingress as a frame from this port.
 * <p>
 * Frames it makes (replies, routed packets, announcements) wait in an outbox until the next poll, never entering the
 * switch from inside the switch's own call. Data-path thread of its PF, but the view, announce requests and the
 * counters.
 */
public final class RouterPort implements Port {
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int ETH = 14;
    private static final int ARP_MIN = ETH + 28;
    /** What this VNIC sends (padded to Ethernet's minimum). */
    private static final int ARP_LENGTH = Announcements.LENGTH;
    private static final int ETHERTYPE_IPV4 = 0x0800;
    private static final int ETHERTYPE_ARP = 0x0806;
    private static final int OUTBOX = 64;
    private static final int BUDGET = 64;
    private static final int ARP_SLOTS = 256;
    private static final long ARP_AGEING_NANOS = 300_000_000_000L;
    private static final int ICMP_TIME_EXCEEDED = 11;
    private static final int ICMP_UNREACHABLE = 3;

    private final VirtualRouter router;
    private final int index;
    private final String pf;
    private final Ipv4Subnet subnet;
    private final int gateway;
    private final long mac;
    private final DataPathAgent agent;
    private final CounterBlock counters;
    private final CounterBlock routed;
    private volatile VirtualRouter.View view = VirtualRouter.View.IDLE;
    private volatile int announceRequests;
    private int announced;
    private PortIngress ingress;
    private int switchPort = -1;
    // channels to the other VNICs, by their index
    private FrameChannel[] links = new FrameChannel[0];
    private RouterPort[] others = new RouterPort[0];
    private boolean[] signal = new boolean[0];
    private EventFd wakeMe;
    // the outbox: frames for this PF's ingress
    private final MemorySegment outbox = Arena.ofAuto().allocate((long) OUTBOX * VirtualRouter.SLOT_SIZE, 64);
    private final int[] outLength = new int[OUTBOX];
    private int outHead;
    private int outTail;
    private boolean waiting;
    private int waitTicket;
    private long waitSince;
    private final MemorySegment work = Arena.ofAuto().allocate(VirtualRouter.SLOT_SIZE, 64);
    // ARP cache: address -> MAC, open addressing
    private final int[] arpIp = new int[ARP_SLOTS];
    private final long[] arpMac = new long[ARP_SLOTS];
    private final long[] arpSeen = new long[ARP_SLOTS];
    private final FrameChannel.Handler fromOthers = this::fromOther;

    RouterPort(VirtualRouter router, int index, String pf, Ipv4Subnet subnet, int gateway, DataPathAgent agent) {
        this.router = router;
        this.index = index;
        this.pf = pf;
        this.subnet = subnet;
        this.gateway = gateway;
        // locally administered, unicast: 02:76:72:00:00:NN ("vr")
        this.mac = 0x0276_7200_0000L | (index + 1);
        this.agent = agent;
        this.counters = CounterRegistry.process().register("port", Map.of("pf", pf, "port", "router", "kind", "router"),
                PortCounter.values());
        this.routed = CounterRegistry.process().register("router", Map.of("pf", pf), RouterCounter.values());
    }

    void prepare(int ports) throws NativeException {
        links = new FrameChannel[ports];
        others = new RouterPort[ports];
        signal = new boolean[ports];
        wakeMe = EventFd.create();
    }

    void link(int other, FrameChannel channel, RouterPort port) {
        links[other] = channel;
        others[other] = port;
    }

    /** Joins the VNIC to its PF's switch port and ingress; watches its wake-up eventfd (on the data path). */
    public void attach(int port, PortIngress portIngress) {
        this.switchPort = port;
        this.ingress = portIngress;
        if (wakeMe != null) {
            agent.watch(wakeMe);
        }
    }

    void setView(VirtualRouter.View v) {
        view = v;
    }

    /** Asks for gratuitous ARPs for what changed (the data path sends them at its next poll). */
    void announce() {
        announceRequests++;
        agent.wake();
    }

    /** A host of this PF's subnet is no longer away: its cached address is forgotten, its own ARP will tell. */
    void forget(int ip) {
        // nothing cached for a host away (the router answered for it): the next ARP from it is learned
    }

    public String pf() {
        return pf;
    }

    public Ipv4Subnet subnet() {
        return subnet;
    }

    public int gateway() {
        return gateway;
    }

    public long mac() {
        return mac;
    }

    /** The addresses the VNIC holds now (its PF's gateway, and those of the subnets of hosts visiting). */
    public int[] addresses() {
        VirtualRouter.View v = view;
        return v.active() ? v.addresses().clone() : new int[0];
    }

    /** The router's counters on this PF ({@link RouterCounter}). */
    public CounterBlock routerCounters() {
        return routed;
    }

    @Override
    public String name() {
        return "router";
    }

    @Override
    public Kind kind() {
        return Kind.ROUTER;
    }

    @Override
    public boolean linkUp() {
        return view.active();
    }

    @Override
    public CounterBlock counters() {
        return counters;
    }

    private void count(RouterCounter c) {
        routed.increment(c.ordinal());
    }

    // ---- frames from the switch

    @Override
    public int send(MemorySegment frame, long offset, int length, int vlan) {
        if (length < ETH) {
            count(RouterCounter.MALFORMED);
            return SENT;
        }
        int type = frame.get(BE_SHORT, offset + 12) & 0xffff;
        VirtualRouter.View v = view;
        if (type == ETHERTYPE_ARP) {
            arp(v, frame, offset, length);
        } else if (type == ETHERTYPE_IPV4 && v.active()) {
            long dstMac = MacAddress.read(frame, offset);
            if (dstMac == mac) {
                ipv4(v, frame, offset, length, true);
            } else if (!MacAddress.isGroup(dstMac)) {
                ipv4(v, frame, offset, length, false);
            } else {
                count(RouterCounter.IGNORED);
            }
        } else {
            count(RouterCounter.IGNORED);
        }
        return SENT;
    }

    private void arp(VirtualRouter.View v, MemorySegment f, long o, int length) {
        if (length < ARP_MIN || (f.get(BE_SHORT, o + 14) & 0xffff) != 1 || (f.get(BE_SHORT, o + 16) & 0xffff) != ETHERTYPE_IPV4
                || f.get(ValueLayout.JAVA_BYTE, o + 18) != 6 || f.get(ValueLayout.JAVA_BYTE, o + 19) != 4) {
            count(RouterCounter.MALFORMED);
            return;
        }
        int op = f.get(BE_SHORT, o + 20) & 0xffff;
        long sha = MacAddress.read(f, o + 22);
        int spa = f.get(BE_INT, o + 28);
        int tpa = f.get(BE_INT, o + 38);
        if (spa != 0 && !MacAddress.isGroup(sha) && sha != mac) {
            learn(spa, sha);
            router.seen(this, spa, sha);
            v = view;
        }
        if (!v.active() || op != 1 || spa == tpa) {
            count(RouterCounter.IGNORED);
            return;
        }
        if (contains(v.addresses(), tpa)) {
            arpReply(f, o, tpa);
            count(RouterCounter.ARP_REPLIES);
        } else if (proxies(v, tpa, spa)) {
            arpReply(f, o, tpa);
            count(RouterCounter.PROXY_ARP_REPLIES);
        } else {
            count(RouterCounter.IGNORED);
        }
    }

    /**
     * True when this VNIC answers for t on the asker's behalf: a host of this PF's subnet that is away, or (to a
     * host visiting) any other host of the visitor's subnet.
     */
    private boolean proxies(VirtualRouter.View v, int t, int asker) {
        if (contains(v.awayHosts(), t)) {
            return true;
        }
        if (contains(v.visitors(), t)) {
            return false;
        }
        for (Ipv4Subnet s : v.visitorSubnets()) {
            if (s.contains(t) && !s.isNetworkOrBroadcast(t) && s.contains(asker)) {
                return true;
            }
        }
        return false;
    }

    private void arpReply(MemorySegment req, long o, int address) {
        MemorySegment r = outSlot();
        if (r == null) {
            return;
        }
        long asker = MacAddress.read(req, o + 22);
        int askerIp = req.get(BE_INT, o + 28);
        arpFrame(r, 2, asker, address, asker, askerIp);
        push(ARP_LENGTH);
    }

    /** An ARP frame in f: op from this VNIC (sender address spa) to tha/tpa, Ethernet to dst. */
    private void arpFrame(MemorySegment f, int op, long dst, int spa, long tha, int tpa) {
        Announcements.arp(f, op, dst, mac, spa, tha, tpa);
    }

    private void ipv4(VirtualRouter.View v, MemorySegment f, long o, int length, boolean toMe) {
        if (length < ETH + 20) {
            count(RouterCounter.MALFORMED);
            return;
        }
        int vihl = f.get(ValueLayout.JAVA_BYTE, o + 14) & 0xff;
        int ihl = (vihl & 0xf) * 4;
        int total = f.get(BE_SHORT, o + 16) & 0xffff;
        if (vihl >> 4 != 4 || ihl < 20 || total < ihl || ETH + total > length || ETH + total > VirtualRouter.SLOT_SIZE) {
            count(toMe ? RouterCounter.MALFORMED : RouterCounter.IGNORED);
            return;
        }
        int src = f.get(BE_INT, o + 26);
        int dst = f.get(BE_INT, o + 30);
        if (!toMe && !crossesRouter(v, src, dst)) {
            // flooded unicast between hosts on this side: not the router's
            count(RouterCounter.IGNORED);
            return;
        }
        if (contains(v.addresses(), dst)) {
            int proto = f.get(ValueLayout.JAVA_BYTE, o + 23) & 0xff;
            if (proto == 1 && total >= ihl + 8 && (f.get(ValueLayout.JAVA_BYTE, o + ETH + ihl) & 0xff) == 8) {
                echoReply(f, o, ihl, total);
            } else {
                count(RouterCounter.IGNORED);
            }
            return;
        }
        int ttl = f.get(ValueLayout.JAVA_BYTE, o + 22) & 0xff;
        if (ttl <= 1) {
            icmpError(v, f, o, ihl, total, ICMP_TIME_EXCEEDED, 0);
            count(RouterCounter.TTL_EXCEEDED);
            return;
        }
        RouterPort egress = router.egressFor(dst);
        if (egress == null || egress.subnet.isNetworkOrBroadcast(dst) && router.homeOf(dst) == egress) {
            icmpError(v, f, o, ihl, total, ICMP_UNREACHABLE, 0);
            count(RouterCounter.UNREACHABLE);
            return;
        }
        // a private copy, TTL one less, the header checksum updated (RFC 1624)
        MemorySegment.copy(f, o, work, 0, ETH + total);
        int oldWord = work.get(BE_SHORT, 22) & 0xffff;
        work.set(ValueLayout.JAVA_BYTE, 22, (byte) (ttl - 1));
        int newWord = work.get(BE_SHORT, 22) & 0xffff;
        int sum = (~work.get(BE_SHORT, 24) & 0xffff) + (~oldWord & 0xffff) + newWord;
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        work.set(BE_SHORT, 24, (short) ~sum);
        count(RouterCounter.FORWARDED);
        if (egress == this) {
            deliver(work, ETH + total);
        } else {
            FrameChannel c = links[egress.index];
            if (c == null || !c.offer(work, 0, ETH + total, 0)) {
                count(RouterCounter.CHANNEL_FULL);
            } else {
                signal[egress.index] = true;
            }
        }
    }

    /** True when src and dst are on two sides of the router as seen from this PF (a host away is involved). */
    private boolean crossesRouter(VirtualRouter.View v, int src, int dst) {
        if (contains(v.awayHosts(), dst)) {
            return true;
        }
        if (contains(v.visitors(), src)) {
            for (Ipv4Subnet s : v.visitorSubnets()) {
                if (s.contains(dst)) {
                    return !contains(v.visitors(), dst);
                }
            }
        }
        return false;
    }

    /** The address this VNIC speaks from toward ip: the gateway of ip's subnet where it holds it, else its own. */
    private int addressFacing(VirtualRouter.View v, int ip) {
        Ipv4Subnet[] s = v.visitorSubnets();
        for (int i = 0; i < s.length; i++) {
            if (s[i].contains(ip)) {
                return v.visitorGateways()[i];
            }
        }
        return gateway;
    }

    private void echoReply(MemorySegment f, long o, int ihl, int total) {
        MemorySegment r = outSlot();
        if (r == null) {
            return;
        }
        MemorySegment.copy(f, o, r, 0, ETH + total);
        MacAddress.write(r, 0, MacAddress.read(f, o + 6));
        MacAddress.write(r, 6, mac);
        int src = f.get(BE_INT, o + 26);
        r.set(BE_INT, 26, f.get(BE_INT, o + 30));
        r.set(BE_INT, 30, src);
        r.set(ValueLayout.JAVA_BYTE, 22, (byte) 64);
        ipChecksum(r, ihl);
        r.set(ValueLayout.JAVA_BYTE, ETH + ihl, (byte) 0);
        r.set(BE_SHORT, ETH + ihl + 2, (short) 0);
        r.set(BE_SHORT, ETH + ihl + 2, (short) ~Checksum.sum(r, ETH + ihl, total - ihl, 0));
        push(ETH + total);
        count(RouterCounter.ECHO_REPLIES);
    }

    /**
     * ICMP error type/code about the packet at o back to its sender (the neighbour that sent the frame), quoting its
     * header and 8 bytes (RFC 792). None about an ICMP error, a fragment other than the first, or a sender that is no
     * host.
     */
    private void icmpError(VirtualRouter.View v, MemorySegment f, long o, int ihl, int total, int type, int code) {
        int src = f.get(BE_INT, o + 26);
        int proto = f.get(ValueLayout.JAVA_BYTE, o + 23) & 0xff;
        int fragment = f.get(BE_SHORT, o + 20) & 0x1fff;
        if (src == 0 || (src >>> 28) >= 14 || fragment != 0) {
            return;
        }
        if (proto == 1 && total >= ihl + 1) {
            int t = f.get(ValueLayout.JAVA_BYTE, o + ETH + ihl) & 0xff;
            if (t != 8 && t != 0) {
                return;
            }
        }
        MemorySegment r = outSlot();
        if (r == null) {
            return;
        }
        int quoted = Math.min(total, ihl + 8);
        int len = 20 + 8 + quoted;
        MacAddress.write(r, 0, MacAddress.read(f, o + 6));
        MacAddress.write(r, 6, mac);
        r.set(BE_SHORT, 12, (short) ETHERTYPE_IPV4);
        r.set(ValueLayout.JAVA_BYTE, 14, (byte) 0x45);
        r.set(ValueLayout.JAVA_BYTE, 15, (byte) 0);
        r.set(BE_SHORT, 16, (short) len);
        r.set(BE_INT, 18, 0);
        r.set(ValueLayout.JAVA_BYTE, 22, (byte) 64);
        r.set(ValueLayout.JAVA_BYTE, 23, (byte) 1);
        r.set(BE_INT, 26, addressFacing(v, src));
        r.set(BE_INT, 30, src);
        ipChecksum(r, 20);
        long icmp = ETH + 20;
        r.set(ValueLayout.JAVA_BYTE, icmp, (byte) type);
        r.set(ValueLayout.JAVA_BYTE, icmp + 1, (byte) code);
        r.set(BE_SHORT, icmp + 2, (short) 0);
        r.set(BE_INT, icmp + 4, 0);
        MemorySegment.copy(f, o + ETH, r, icmp + 8, quoted);
        r.set(BE_SHORT, icmp + 2, (short) ~Checksum.sum(r, icmp, 8 + quoted, 0));
        push(ETH + len);
    }

    private static void ipChecksum(MemorySegment r, int ihl) {
        r.set(BE_SHORT, 24, (short) 0);
        r.set(BE_SHORT, 24, (short) ~Checksum.sum(r, ETH, ihl, 0));
    }

    // ---- the egress side

    /** A routed packet (Ethernet header to be filled) that leaves through this VNIC: resolved and queued. */
    private void deliver(MemorySegment p, int length) {
        int dst = p.get(BE_INT, 30);
        long next = resolve(dst);
        if (next < 0) {
            count(RouterCounter.ARP_MISSES);
            arpRequest(dst);
            return;
        }
        MemorySegment r = outSlot();
        if (r == null) {
            return;
        }
        MemorySegment.copy(p, 0, r, 0, length);
        MacAddress.write(r, 0, next);
        MacAddress.write(r, 6, mac);
        r.set(BE_SHORT, 12, (short) ETHERTYPE_IPV4);
        push(length);
    }

    /** The MAC of ip behind this VNIC, or -1: a visiting host's is known, others are in the ARP cache. */
    private long resolve(int ip) {
        VirtualRouter.View v = view;
        int[] vis = v.visitors();
        for (int i = 0; i < vis.length; i++) {
            if (vis[i] == ip && v.visitorMacs()[i] != 0) {
                return v.visitorMacs()[i];
            }
        }
        int slot = arpSlot(ip);
        if (arpIp[slot] == ip && arpSeen[slot] != 0 && System.nanoTime() - arpSeen[slot] < ARP_AGEING_NANOS) {
            return arpMac[slot];
        }
        return -1;
    }

    private void arpRequest(int ip) {
        MemorySegment r = outSlot();
        if (r == null) {
            return;
        }
        arpFrame(r, 1, MacAddress.BROADCAST, addressFacing(view, ip), 0, ip);
        push(ARP_LENGTH);
        count(RouterCounter.ARP_REQUESTS);
    }

    private static int arpSlot(int ip) {
        return (ip * 0x9E3779B9) >>> 24 & (ARP_SLOTS - 1);
    }

    private void learn(int ip, long hw) {
        int slot = arpSlot(ip);
        arpIp[slot] = ip;
        arpMac[slot] = hw;
        arpSeen[slot] = System.nanoTime();
        router.learned(this, ip, hw);
    }

    private int fromOther(MemorySegment frame, long offset, int length, int vlan) {
        if (outCount() == OUTBOX) {
            return FrameChannel.Handler.KEEP;
        }
        MemorySegment.copy(frame, offset, work, 0, length);
        deliver(work, length);
        return FrameChannel.Handler.TAKE;
    }

    // ---- the outbox

    private int outCount() {
        return outTail - outHead;
    }

    /** The next free outbox slot, or null (counted) when the outbox is full. */
    private MemorySegment outSlot() {
        if (outCount() == OUTBOX) {
            count(RouterCounter.CHANNEL_FULL);
            return null;
        }
        return outbox.asSlice((long) (outTail % OUTBOX) * VirtualRouter.SLOT_SIZE, VirtualRouter.SLOT_SIZE);
    }

    private void push(int length) {
        outLength[outTail % OUTBOX] = length;
        outTail++;
    }

    private void announceNow() {
        VirtualRouter.View v = view;
        if (!v.active()) {
            return;
        }
        // hosts of this PF's subnet that are away: their neighbours here send to the router from now on
        for (int ip : v.awayHosts()) {
            garp(ip);
        }
        // to visitors: the gateway of their subnet is here
        for (int gw : v.visitorGateways()) {
            garp(gw);
        }
    }

    private void garp(int ip) {
        MemorySegment r = outSlot();
        if (r == null) {
            return;
        }
        arpFrame(r, 1, MacAddress.BROADCAST, ip, 0, ip);
        push(ARP_LENGTH);
        count(RouterCounter.ANNOUNCEMENTS);
    }

    @Override
    public int poll() {
        int work = 0;
        int requests = announceRequests;
        if (requests != announced) {
            announced = requests;
            announceNow();
        }
        for (FrameChannel c : links) {
            if (c != null) {
                work += c.poll(fromOthers, BUDGET);
            }
        }
        while (outCount() > 0) {
            MemorySegment f = outbox.asSlice((long) (outHead % OUTBOX) * VirtualRouter.SLOT_SIZE, VirtualRouter.SLOT_SIZE);
            int len = outLength[outHead % OUTBOX];
            int r = waiting ? ingress.onRetry(f, 0, len, waitTicket, System.nanoTime() - waitSince)
                    : ingress.onFrame(switchPort, 0, f, 0, len);
            if (PortIngress.isBusy(r)) {
                if (!waiting) {
                    waiting = true;
                    waitSince = System.nanoTime();
                }
                waitTicket = r;
                break;
            }
            waiting = false;
            outHead++;
            work++;
        }
        return work;
    }

    @Override
    public void flush() {
        for (int i = 0; i < signal.length; i++) {
            if (signal[i]) {
                signal[i] = false;
                if (links[i].peerAsleep()) {
                    try {
                        agent.signalPeer(others[i].wakeMe);
                    } catch (NativeException e) {
                        count(RouterCounter.CHANNEL_FULL);
                    }
                }
            }
        }
    }

    @Override
    public boolean prepareToSleep() {
        if (outCount() > 0 || announceRequests != announced) {
            return false;
        }
        for (FrameChannel c : links) {
            if (c != null && !c.prepareToSleep()) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void wokeUp() {
        for (FrameChannel c : links) {
            if (c != null) {
                c.wokeUp();
            }
        }
    }

    @Override
    public void failed(Throwable cause) {
        count(RouterCounter.MALFORMED);
    }

    void close() {
        counters.close();
        routed.close();
        if (wakeMe != null) {
            wakeMe.close();
        }
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return pf + " router (" + MacAddress.format(mac) + ", " + Ipv4Subnet.format(gateway) + " of " + subnet + ")";
    }
}
