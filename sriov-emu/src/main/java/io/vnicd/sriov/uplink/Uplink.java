package io.vnicd.sriov.uplink;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.packet.Announcements;
import io.vnicd.devmodel.packet.Checksum;
import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.port.PortIngress;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.devmodel.vswitch.VSwitch;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.PacketSocket;
import io.vnicd.virtio.datapath.DataPathAgent;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A PF's way to the wire: one switch port (a trunk: frames carry their VLAN as an 802.1Q tag) over one or more
 * backing NICs (PNICs), any Linux netdev, each through an AF_PACKET socket with mmap'd rings.
 * <ul>
 *   <li>Transmit: the {@link AggregationPolicy} picks the PNIC per frame: the active one, the one the sending VF is
 *   mapped to, or a hash of the frame's addresses over the healthy ones (US8315156). Every station (source MAC and
 *   VLAN) sending through the uplink is remembered with its PNIC and the IPv4 addresses it uses.</li>
 *   <li>Receive: frames from the PNICs that take traffic enter the PF's ingress (classifier, switch) in their VLAN;
 *   frames carrying the source MAC of one of the PF's own VFs are a loop and dropped.</li>
 *   <li>Failover (US20120005521): when a PNIC fails (its link watcher sees the carrier go, the interface go down or
 *   disappear, or its transmit kicks keep failing) the data path removes it from the healthy set, maps its stations
 *   onto a healthy PNIC, and announces them there (gratuitous ARP per address seen, RARP otherwise), so that the
 *   wire's switches learn the move at once; the VFs see no link change. When no PNIC is healthy the PF is told
 *   ({@link #onCarrier}), and again when one returns. A PNIC that comes back (also re-created under its name) is
 *   taken back as standby, or as the active one with failback on.</li>
 * </ul>
 * Everything but the link watcher's thread and the status readers runs on the PF's data-path thread.
 */
public final class Uplink implements Port {
    private static final System.Logger LOG = System.getLogger(Uplink.class.getName());
    /** Frames taken from each PNIC's receive ring per round. */
    static final int RX_BUDGET = 64;
    /** Kicks in a row the kernel refuses before the PNIC counts as failed. */
    static final int MAX_FAILED_KICKS = 3;
    private static final int HISTORY = 32;
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final String pf;
    private final String name;
    private final Pnic[] pnics;
    private final AggregationPolicy policy;
    private final boolean failback;
    private final PacketSocket.Options options;
    private final CounterBlock counters;
    private final DataPathAgent agent;
    private final VSwitch vswitch;
    private final LinkWatcher watcher;
    private PortIngress ingress;
    private int port = -1;

    // data-path state
    /** Healthy PNICs in order of preference. */
    private int[] healthy = new int[0];
    /** ACTIVE_BACKUP: the PNIC in use, or -1. */
    private int active = -1;
    private final Stations stations = new Stations(4096);
    private final MemorySegment scratch = Arena.ofAuto().allocate(65_536 + 64, 64);
    private final PacketHeaders headers = new PacketHeaders();
    private long now;
    /** A received frame waits for its destination's quota: on which PNIC, with which ticket, since when. */
    private int waitingPnic = -1;
    private int waitTicket;
    private long waitSince;

    private final List<Failover> history = new ArrayList<>();
    private volatile Consumer<Boolean> carrierListener = up -> { };
    /** Data path: a NIC is healthy. */
    private volatile boolean carrier;
    /** Data path: changes of carrier, so that a delayed "down" knows it is still current. */
    private volatile long carrierChanges;
    /** What the listener was last told (it starts told "up": VFs start with their links up). */
    private final java.util.concurrent.atomic.AtomicBoolean told = new java.util.concurrent.atomic.AtomicBoolean(true);
    private volatile int downDelayMillis = DEFAULT_DOWN_DELAY_MILLIS;

    /**
     * @param ifnames the backing interfaces in order of preference
     */
    public Uplink(String pf, String name, List<String> ifnames, AggregationPolicy policy, boolean failback,
                  PacketSocket.Options options, DataPathAgent agent, VSwitch vswitch) {
        if (ifnames.isEmpty()) {
            throw new IllegalArgumentException(pf + ": an uplink needs at least one interface");
        }
        this.pf = pf;
        this.name = name;
        this.policy = policy;
        this.failback = failback;
        this.options = options;
        this.agent = agent;
        this.vswitch = vswitch;
        this.pnics = new Pnic[ifnames.size()];
        for (int i = 0; i < pnics.length; i++) {
            String ifname = ifnames.get(i);
            for (int j = 0; j < i; j++) {
                if (pnics[j].ifname.equals(ifname)) {
                    throw new IllegalArgumentException(pf + ": interface " + ifname + " is given twice");
                }
            }
            Pnic p = new Pnic(ifname, i, CounterRegistry.process().register("nic",
                    Map.of("pf", pf, "nic", ifname), NicCounter.values()));
            int index = i;
            p.handler = (segment, offset, length, tci, partial) -> received(index, segment, offset, length, tci, partial);
            pnics[i] = p;
        }
        this.counters = CounterRegistry.process().register("port", Map.of("pf", pf, "port", name, "kind", "uplink"),
                PortCounter.values());
        this.watcher = new LinkWatcher(this, pf, ifnames);
    }

    /** Joins the uplink to its PF: its switch port and the ingress its frames go to. Before {@link #start}. */
    public void attach(int switchPort, PortIngress portIngress) {
        this.port = switchPort;
        this.ingress = portIngress;
    }

    /**
     * Told true when the first PNIC becomes healthy, false when none has been for the down delay; on the data
     * path or a timer thread.
     */
    public void onCarrier(Consumer<Boolean> listener) {
        this.carrierListener = listener;
    }

    /** How long no NIC must be healthy before the VFs' links go down (0: at once). */
    public void setDownDelay(java.time.Duration delay) {
        this.downDelayMillis = (int) Math.max(0, Math.min(60_000, delay.toMillis()));
    }

    /** Whether the listener was told the wire is reachable (what the VFs' links show). */
    public boolean carrierTold() {
        return told.get();
    }

    /**
     * Starts watching the PNICs; returns once their present state is known and the healthy ones are in use. With
     * none healthy, the listener is told so at once (the PF's VFs then start with their links down).
     */
    public void start() throws IOException {
        watcher.start();
        if (!carrier && told.compareAndSet(true, false)) {
            tell(false);
        }
    }

    // ---- Port -------------------------------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    @Override
    public Kind kind() {
        return Kind.UPLINK;
    }

    @Override
    public boolean isTrunk() {
        return true;
    }

    @Override
    public CounterBlock counters() {
        return counters;
    }

    @Override
    public boolean linkUp() {
        return carrier;
    }

    @Override
    public int send(MemorySegment frame, long offset, int length, int vlan) {
        int[] h = healthy;
        if (h.length == 0) {
            return DROPPED;
        }
        long src = MacAddress.read(frame, offset + 6);
        int slot = MacAddress.isGroup(src) ? -1 : stations.findOrAdd(Stations.key(src, vlan), pick(h), now);
        int p = switch (policy) {
            case ACTIVE_BACKUP -> active;
            case VF -> slot >= 0 ? stations.pnic(slot) : h[0];
            case L2 -> h[Math.floorMod(l2Hash(frame, offset), h.length)];
            case L34 -> h[Math.floorMod(l34Hash(frame, offset, length), h.length)];
        };
        if (p < 0) {
            return DROPPED;
        }
        if (slot >= 0) {
            stations.touch(slot, now);
            if (policy != AggregationPolicy.VF) {
                stations.setPnic(slot, p);
            }
            if (vlan == 0) {
                int ip = Announcements.sourceIp(frame, offset, length);
                if (ip != 0) {
                    stations.addIp(slot, ip);
                }
            }
        }
        Pnic nic = pnics[p];
        if (!transmit(nic, frame, offset, length, vlan)) {
            return DROPPED;
        }
        if (nic.awaitingFirstFrame != null) {
            firstFrame(nic);
        }
        return SENT;
    }

    /** A new station's PNIC: the active one, or for VF mapping the healthy one with the fewest stations. */
    private int pick(int[] h) {
        if (policy != AggregationPolicy.VF || h.length == 1) {
            return active >= 0 ? active : h[0];
        }
        int best = h[0];
        int bestLoad = Integer.MAX_VALUE;
        for (int p : h) {
            int load = stations.countOn(p, now);
            if (load < bestLoad) {
                best = p;
                bestLoad = load;
            }
        }
        return best;
    }

    /** Queues the frame on the NIC's ring; false when it cannot (ring full, too big: the socket counts why). */
    private static boolean transmit(Pnic nic, MemorySegment frame, long offset, int length, int vlan) {
        PacketSocket s = nic.socket;
        if (s == null || !s.send(frame, offset, length, vlan == 0 ? -1 : vlan)) {
            return false;
        }
        nic.pending = true;
        return true;
    }

    private static int l2Hash(MemorySegment frame, long offset) {
        long h = MacAddress.read(frame, offset) ^ MacAddress.read(frame, offset + 6);
        h *= 0x9E3779B97F4A7C15L;
        return (int) (h ^ h >>> 32);
    }

    /**
     * Bonding's layer3+4: IP addresses and, unless the packet is a fragment, TCP/UDP/SCTP ports; layer 2 for
     * anything else. Both directions of a connection hash alike.
     */
    static int l34Hash(MemorySegment frame, long offset, int length) {
        long at = offset + 12;
        int type = Short.toUnsignedInt(frame.get(BE_SHORT, at));
        if ((type == 0x8100 || type == 0x88a8) && length >= 18) {
            at += 4;
            type = Short.toUnsignedInt(frame.get(BE_SHORT, at));
        }
        long l3 = at + 2;
        long end = offset + length;
        int h;
        int proto;
        long l4;
        if (type == 0x0800 && l3 + 20 <= end) {
            int ihl = (frame.get(ValueLayout.JAVA_BYTE, l3) & 0x0f) * 4;
            proto = frame.get(ValueLayout.JAVA_BYTE, l3 + 9) & 0xff;
            h = frame.get(BE_INT, l3 + 12) ^ frame.get(BE_INT, l3 + 16);
            boolean fragment = (frame.get(BE_SHORT, l3 + 6) & 0x3fff) != 0;
            l4 = fragment || ihl < 20 ? -1 : l3 + ihl;
        } else if (type == 0x86dd && l3 + 40 <= end) {
            proto = frame.get(ValueLayout.JAVA_BYTE, l3 + 6) & 0xff;
            h = 0;
            for (int i = 8; i < 40; i += 4) {
                h ^= frame.get(BE_INT, l3 + i);
            }
            l4 = l3 + 40;
        } else {
            return l2Hash(frame, offset);
        }
        if (l4 >= 0 && l4 + 4 <= end && (proto == 6 || proto == 17 || proto == 132)) {
            int ports = frame.get(BE_INT, l4);
            h ^= (ports >>> 16) ^ (ports & 0xffff);
        }
        h ^= h >>> 16;
        h ^= h >>> 8;
        return h & 0x7fff_ffff;
    }

    // ---- receive ----------------------------------------------------------------------------------------------

    @Override
    public int poll() {
        now = System.nanoTime();
        int work = 0;
        for (Pnic nic : pnics) {
            PacketSocket s = nic.socket;
            if (s != null) {
                if (waitingPnic >= 0 && waitingPnic != nic.index) {
                    // another PNIC's frame waits: keep to its order, take nothing new meanwhile
                    continue;
                }
                work += s.receive(nic.handler, RX_BUDGET);
            }
        }
        return work;
    }

    /** A frame from PNIC index: false keeps it in the ring (its destination's quota is full), to be offered again. */
    private boolean received(int index, MemorySegment frame, long offset, int length, int tci, boolean partial) {
        Pnic nic = pnics[index];
        if (waitingPnic == index) {
            int r = ingress.onRetry(frame, offset, length, waitTicket, now - waitSince);
            if (PortIngress.isBusy(r)) {
                waitTicket = r;
                return false;
            }
            waitingPnic = -1;
            return true;
        }
        if (length < 14) {
            counters.increment(PortCounter.RUNTS.ordinal());
            return true;
        }
        boolean group = MacAddress.isGroup(MacAddress.read(frame, offset));
        if (!takesFrom(index, group)) {
            nic.counters.increment(NicCounter.RX_INACTIVE.ordinal());
            return true;
        }
        int vlan = tci < 0 ? 0 : tci & 0xfff;
        long src = MacAddress.read(frame, offset + 6);
        int behind = vswitch.lookup(port, vlan, src);
        if (behind >= 0 && vswitch.port(behind).kind() == Kind.VF) {
            nic.counters.increment(NicCounter.RX_LOOPED.ordinal());
            return true;
        }
        MemorySegment f = frame;
        long at = offset;
        int len = length;
        boolean retag = vlan != 0 && !vswitch.hasVlan(vlan);
        if ((retag || partial) && length + 4 <= scratch.byteSize()) {
            // A copy the uplink may change: the ring is the kernel's, read-only
            if (retag) {
                // No VF has this port VLAN: the frame is the guests' own tagging (eth0.100 on an untagged VF), so
                // it goes to VLAN 0 with its tag as it came
                MemorySegment.copy(frame, offset, scratch, 0, 12);
                scratch.set(BE_SHORT, 12, (short) ((tci & PacketSocket.VLAN_8021AD) != 0 ? 0x88a8 : 0x8100));
                scratch.set(BE_SHORT, 14, (short) tci);
                MemorySegment.copy(frame, offset + 12, scratch, 16, length - 12);
                len = length + 4;
                vlan = 0;
            } else {
                MemorySegment.copy(frame, offset, scratch, 0, length);
            }
            f = scratch;
            at = 0;
            if (partial) {
                // A sender on this host (a veth's peer) left its TCP/UDP checksum to the device, and the VFs offer
                // no checksum offload: the uplink completes it, as the NIC would have
                PacketParser.parse(scratch, 0, len, headers);
                if (Checksum.completePartial(scratch, 0, len, headers)) {
                    nic.counters.increment(NicCounter.RX_CHECKSUMS_COMPLETED.ordinal());
                }
            }
        }
        int r = ingress.onFrame(port, vlan, f, at, len);
        if (PortIngress.isBusy(r)) {
            if (f == scratch) {
                // a frame the uplink changed is not the ring's any more: not waited for, the ingress counted the wait
                return true;
            }
            waitingPnic = index;
            waitTicket = r;
            waitSince = now;
            return false;
        }
        return true;
    }

    /** Whether PNIC index takes received traffic now. */
    private boolean takesFrom(int index, boolean group) {
        if (policy == AggregationPolicy.ACTIVE_BACKUP) {
            return index == active;
        }
        int[] h = healthy;
        if (group) {
            // a far switch that floods sends a group frame down every link: take it once
            return h.length > 0 && h[0] == index;
        }
        for (int p : h) {
            if (p == index) {
                return true;
            }
        }
        return false;
    }

    /**
     * End of the round: kicks each NIC that has frames queued, new ones or ones the kernel did not take at the last
     * kick (it was busy, or its queue stopped during a carrier flap): a frame is never left in a ring unkicked.
     */
    @Override
    public void flush() {
        for (Pnic nic : pnics) {
            nic.mirror();
            PacketSocket s = nic.socket;
            if (nic.pending || (s != null && s.txPending())) {
                nic.pending = false;
                if (s == null) {
                    continue;
                }
                s.flush();
                long errors = s.txErrors();
                if (errors != nic.lastTxErrors) {
                    nic.lastTxErrors = errors;
                    if (++nic.failedKicks >= MAX_FAILED_KICKS && nic.healthy()) {
                        failed(nic.index, "transmit failing (" + io.vnicd.nativeio.Errno.name(s.lastTxErrno()) + ")", System.nanoTime());
                        watcher.transmitFailed(nic.index);
                    }
                } else {
                    nic.failedKicks = 0;
                }
            }
        }
    }

    @Override
    public boolean prepareToSleep() {
        if (waitingPnic >= 0) {
            return false;
        }
        for (Pnic nic : pnics) {
            if (nic.pending || (nic.socket != null && nic.socket.txPending())) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void failed(Throwable cause) {
        LOG.log(System.Logger.Level.ERROR, () -> pf + " " + name + ": data path failure; the uplink keeps its state", cause);
        waitingPnic = -1;
    }

    // ---- link changes (commands on the data path, posted by the link watcher) ---------------------------------

    /**
     * PNIC index is up: in use from now, as the preference and policy say. socket: one the watcher opened for a new
     * interface, or null when the one the NIC has serves again.
     */
    void nicUp(int index, PacketSocket socket, int ifindex, long seenNanos) {
        PacketSocket[] replaced = new PacketSocket[1];
        agent.execute(() -> {
            Pnic nic = pnics[index];
            if (socket != null && nic.socket != socket) {
                replaced[0] = nic.socket;
                if (nic.socket != null) {
                    agent.unwatch(nic.socket.fd());
                }
                nic.use(socket);
                agent.watch(socket.fd());
            }
            nic.ifindex = ifindex;
            nic.failedKicks = 0;
            boolean wasDown = healthy.length == 0;
            healthy = healthyWith(index, true);
            nic.state = Pnic.State.STANDBY;
            int before = active;
            if (policy == AggregationPolicy.ACTIVE_BACKUP) {
                if (active < 0 || (failback && preferred(index, active))) {
                    active = index;
                }
            }
            refreshStates();
            if (policy == AggregationPolicy.ACTIVE_BACKUP && before >= 0 && active != before) {
                move(before, active, "preferred NIC back", seenNanos, true);
            } else if (policy == AggregationPolicy.VF && failback && !wasDown) {
                moveHome(index, seenNanos);
            }
            if (wasDown) {
                setCarrier(true);
            }
        });
        if (replaced[0] != null) {
            replaced[0].close();
        }
        LOG.log(System.Logger.Level.INFO, () -> pf + " " + name + ": " + pnics[index].ifname + " is up (" + pnics[index].state + ")");
    }

    /** PNIC index failed (seen by the watcher): out of use, its stations moved. gone: the interface no longer exists. */
    void nicDown(int index, String reason, boolean gone, long seenNanos) {
        PacketSocket[] closed = new PacketSocket[1];
        agent.execute(() -> {
            Pnic nic = pnics[index];
            if (nic.healthy()) {
                failed(index, reason, seenNanos);
            } else if (gone) {
                // The kernel reports a deletion as the interface going down, then gone: the failover that the
                // first event started was a deletion
                amend(nic.ifname, reason, seenNanos);
            }
            nic.state = gone ? Pnic.State.ABSENT : Pnic.State.FAILED;
            if (gone && nic.socket != null) {
                agent.unwatch(nic.socket.fd());
                closed[0] = nic.socket;
                nic.use(null);
                nic.pending = false;
            }
        });
        if (closed[0] != null) {
            closed[0].close();
        }
    }

    /** On the data path: index leaves the healthy set and its stations move. */
    private void failed(int index, String reason, long seenNanos) {
        Pnic nic = pnics[index];
        nic.counters.increment(NicCounter.CARRIER_LOSSES.ordinal());
        nic.state = Pnic.State.FAILED;
        healthy = healthyWith(index, false);
        int before = active;
        if (policy == AggregationPolicy.ACTIVE_BACKUP) {
            active = healthy.length == 0 ? -1 : healthy[0];
        }
        refreshStates();
        if (healthy.length == 0) {
            record(new Failover(nic.ifname, null, reason, Instant.now(), seenNanos, System.nanoTime(), 0, 0, 0));
            setCarrier(false);
            return;
        }
        int to = policy == AggregationPolicy.ACTIVE_BACKUP ? active : -1;
        if (policy != AggregationPolicy.ACTIVE_BACKUP || before == index) {
            move(index, to, reason, seenNanos, false);
        }
    }

    /**
     * Moves the stations mapped to from (every station when all) onto to (-1: spread over the healthy PNICs as the
     * policy places new ones), announcing each on its new PNIC.
     */
    private void move(int from, int to, String reason, long seenNanos, boolean all) {
        long t = System.nanoTime();
        now = t;
        int moved = 0;
        int announced = 0;
        int[] h = healthy;
        Pnic target = null;
        for (int slot = 0; slot < stations.capacity(); slot++) {
            if (!stations.used(slot) || (!all && stations.pnic(slot) != from)) {
                continue;
            }
            int dest = to >= 0 ? to : pick(h);
            stations.setPnic(slot, dest);
            moved++;
            announced += announce(slot, pnics[dest]);
            target = pnics[dest];
        }
        long done = System.nanoTime();
        Pnic first = to >= 0 ? pnics[to] : target != null ? target : pnics[h[0]];
        Failover f = new Failover(pnics[from].ifname, first.ifname, reason, Instant.now(), seenNanos, done, moved,
                announced, 0);
        first.counters.increment(NicCounter.FAILOVERS_TO.ordinal());
        first.awaitingFirstFrame = f;
        record(f);
        LOG.log(System.Logger.Level.INFO, () -> pf + " " + name + ": " + f);
    }

    /** With failback and VF mapping: the stations first mapped to index, moved away when it failed, return to it. */
    private void moveHome(int index, long seenNanos) {
        int moved = 0;
        int announced = 0;
        for (int slot = 0; slot < stations.capacity(); slot++) {
            if (stations.used(slot) && stations.home(slot) == index && stations.pnic(slot) != index) {
                stations.setPnic(slot, index);
                moved++;
                announced += announce(slot, pnics[index]);
            }
        }
        if (moved > 0) {
            Failover f = new Failover("(others)", pnics[index].ifname, "preferred NIC back", Instant.now(), seenNanos,
                    System.nanoTime(), moved, announced, 0);
            pnics[index].awaitingFirstFrame = f;
            record(f);
            LOG.log(System.Logger.Level.INFO, () -> pf + " " + name + ": " + f);
        }
    }

    /** Sends the station's announcements on nic: a gratuitous ARP per IPv4 address seen, else a RARP. */
    private int announce(int slot, Pnic nic) {
        long mac = stations.mac(slot);
        int vlan = stations.vlan(slot);
        int sent = 0;
        for (int k = 0; k < Stations.IPS; k++) {
            int ip = stations.ip(slot, k);
            if (ip != 0) {
                Announcements.garp(scratch, mac, ip);
                sent += transmit(nic, scratch, 0, Announcements.LENGTH, vlan) ? 1 : 0;
            }
        }
        if (sent == 0) {
            Announcements.rarp(scratch, mac);
            sent += transmit(nic, scratch, 0, Announcements.LENGTH, vlan) ? 1 : 0;
        }
        nic.counters.add(NicCounter.ANNOUNCEMENTS.ordinal(), sent);
        return sent;
    }

    private void firstFrame(Pnic nic) {
        Failover f = nic.awaitingFirstFrame.withFirstFrame(System.nanoTime());
        nic.awaitingFirstFrame = null;
        synchronized (history) {
            history.replaceAll(h -> h.seenNanos() == f.seenNanos() && h.from().equals(f.from()) ? f : h);
        }
        LOG.log(System.Logger.Level.INFO, () -> pf + " " + name + ": first frame out on " + nic.ifname + " "
                + f.firstFrameMicros() + " us after " + f.from() + " " + f.reason());
    }

    /** Names the reason of from's last failover again, when it happened less than a second before seenNanos. */
    private void amend(String from, String reason, long seenNanos) {
        synchronized (history) {
            Failover last = null;
            for (Failover f : history) {
                if (f.from().equals(from)) {
                    last = f;
                }
            }
            if (last != null && seenNanos - last.seenNanos() < 1_000_000_000L && !last.reason().equals(reason)) {
                Failover was = last;
                history.replaceAll(f -> f == was ? f.withReason(reason) : f);
                for (Pnic p : pnics) {
                    if (p.awaitingFirstFrame == was) {
                        p.awaitingFirstFrame = was.withReason(reason);
                    }
                }
            }
        }
    }

    private void record(Failover f) {
        synchronized (history) {
            history.add(f);
            while (history.size() > HISTORY) {
                history.removeFirst();
            }
        }
    }

    private boolean preferred(int a, int b) {
        return a < b;
    }

    private int[] healthyWith(int index, boolean in) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < pnics.length; i++) {
            boolean h = i == index ? in : contains(healthy, i);
            if (h) {
                out.add(i);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    /** Healthy PNICs are active or standby by the policy. */
    private void refreshStates() {
        for (int i : healthy) {
            pnics[i].state = policy != AggregationPolicy.ACTIVE_BACKUP || i == active ? Pnic.State.ACTIVE : Pnic.State.STANDBY;
        }
    }

    /**
     * The wire's reachability changed on the data path. Up is told at once; down only once no NIC has been healthy
     * for {@link #downDelayMillis} (bonding's downdelay): a VF's link going down costs its guest a reconnection, and a
     * flap storm, or two NICs failing over each other, must not cost the guests that.
     */
    private void setCarrier(boolean up) {
        if (carrier == up) {
            return;
        }
        carrier = up;
        long generation = ++carrierChanges;
        if (up) {
            if (told.compareAndSet(false, true)) {
                tell(true);
            }
            return;
        }
        TIMER.schedule(() -> {
            if (carrierChanges == generation && !carrier && told.compareAndSet(true, false)) {
                tell(false);
            }
        }, downDelayMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private void tell(boolean up) {
        LOG.log(up ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                () -> pf + " " + name + ": " + (up ? "a backing NIC is healthy again" : "no backing NIC is healthy"));
        carrierListener.accept(up);
    }

    /** How long no NIC must be healthy before the PF is told the wire is unreachable. */
    public static final int DEFAULT_DOWN_DELAY_MILLIS = 100;
    private static final java.util.concurrent.ScheduledExecutorService TIMER =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform()
                    .name("uplink-carrier").daemon().unstarted(r));

    // ---- status -----------------------------------------------------------------------------------------------

    public AggregationPolicy policy() {
        return policy;
    }

    public boolean failback() {
        return failback;
    }

    /** Each PNIC's name, state and counters, in order of preference. */
    public List<NicStatus> nics() {
        List<NicStatus> out = new ArrayList<>();
        for (Pnic p : pnics) {
            out.add(new NicStatus(p.ifname, p.state.name().toLowerCase(java.util.Locale.ROOT), p.ifindex, p.counters));
        }
        return out;
    }

    /** @param state active, standby, failed or absent */
    public record NicStatus(String name, String state, int ifindex, CounterBlock counters) {
    }

    /** The last transitions, oldest first. */
    public List<Failover> failovers() {
        synchronized (history) {
            return List.copyOf(history);
        }
    }

    /** Stations (source MAC and VLAN) that sent through the uplink. */
    public int stations() {
        return stations.size();
    }

    /** One station behind the uplink: its MAC, VLAN, the NIC it is mapped to, the IPv4 addresses it was seen using. */
    public record Station(long mac, int vlan, String nic, List<Integer> ips) {
    }

    /** The stations and the NIC each is on, read on the data path (a consistent snapshot). */
    public List<Station> stationMap() {
        List<Station> out = new ArrayList<>();
        agent.execute(() -> {
            for (int slot = 0; slot < stations.capacity(); slot++) {
                if (stations.used(slot)) {
                    List<Integer> ips = new ArrayList<>();
                    for (int k = 0; k < Stations.IPS; k++) {
                        if (stations.ip(slot, k) != 0) {
                            ips.add(stations.ip(slot, k));
                        }
                    }
                    out.add(new Station(stations.mac(slot), stations.vlan(slot), pnics[stations.pnic(slot)].ifname, ips));
                }
            }
        });
        return out;
    }

    /** True while a frame is queued on a NIC's ring that the kernel has not taken, or a received frame waits. */
    public boolean busy() {
        boolean[] b = {false};
        agent.execute(() -> {
            b[0] = waitingPnic >= 0;
            for (Pnic p : pnics) {
                b[0] |= p.pending || (p.socket != null && p.socket.txPending());
            }
        });
        return b[0];
    }

    PacketSocket.Options options() {
        return options;
    }

    String pfName() {
        return pf;
    }

    /** Reads the kernel's drop counts of every open socket (the link watcher, about once a second). */
    void pollKernelStats() {
        for (Pnic p : pnics) {
            PacketSocket sock = p.socket;
            if (sock != null) {
                try {
                    sock.pollKernelStats();
                } catch (NativeException e) {
                    // a socket closed meanwhile: nothing to read
                }
            }
        }
    }

    /** Stops watching and closes every PNIC's socket (after the data path stopped). */
    public void close() {
        watcher.close();
        for (Pnic p : pnics) {
            if (p.socket != null) {
                p.socket.close();
                p.socket = null;
            }
            p.counters.close();
        }
        counters.close();
    }

    @Override
    public String toString() {
        return pf + " " + name;
    }
}
