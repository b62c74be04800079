package io.vnicd.sriov.pf;

import io.vnicd.devmodel.classify.Classifier;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.devmodel.dos.DosContainment;
import io.vnicd.devmodel.monitor.MonitorRing;
import io.vnicd.devmodel.numa.AllocationPolicy;
import io.vnicd.devmodel.numa.Topology;
import io.vnicd.devmodel.numa.TransmitBufferPlacement;
import io.vnicd.devmodel.port.Pollable;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.vswitch.VSwitch;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.PacketSocket;
import io.vnicd.devmodel.proxy.FrameChannel;
import io.vnicd.nativeio.EventFd;
import io.vnicd.sriov.peer.PeerHost;
import io.vnicd.sriov.peer.PeerLink;
import io.vnicd.sriov.peer.PeerAddress;
import io.vnicd.sriov.peer.ProxyCounter;
import io.vnicd.sriov.peer.ProxyPort;
import io.vnicd.sriov.tunnel.VxlanPort;
import io.vnicd.sriov.tunnel.VxlanSegment;
import io.vnicd.nativeio.XdpSocket;
import io.vnicd.sriov.router.Ipv4Subnet;
import io.vnicd.sriov.router.RouterPort;
import io.vnicd.sriov.router.VirtualRouter;
import io.vnicd.sriov.uplink.AggregationPolicy;
import io.vnicd.sriov.uplink.Transport;
import io.vnicd.sriov.uplink.Uplink;
import io.vnicd.virtio.datapath.DataPathAgent;
import io.vnicd.virtio.net.FrameSink;
import io.vnicd.virtio.net.VirtioNetBackend;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * An emulated physical function: one data-path thread polling all its ports, and an embedded switch (the vswitch
 * of devmodel) joining them. A frame entering at a port (a VF transmits it) goes through the PF's ingress
 * (spoofchk, classifier, DoS containment) into the switch and leaves at the port(s) the switch picks, on the same
 * thread. The pieces: {@link PfIngress} judges and switches, {@link RxBuffers} holds frames for VFs without RX
 * buffers (pools, quotas, placement), {@link VfPort} is a VF as a port; this class builds them and owns their
 * lifecycle.
 */
public final class PhysicalFunction implements AutoCloseable, PeerHost {
    private static final System.Logger LOG = System.getLogger(PhysicalFunction.class.getName());

    private final String name;
    private final DataPathAgent agent;
    private final VSwitch vswitch;
    private final MonitorRing monitor;
    private final PfIngress ingress;
    private final CounterBlock counters;
    private final List<VirtualFunction> vfs = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Ports of VFs removed at run time: their counters and devices are released when the PF closes. */
    private final List<VfPort> removed = new ArrayList<>();
    /** Per VF set by hand: {spoofchk, trust} (absent: spoofchk on, trust off). */
    private final java.util.Map<String, boolean[]> sourceChecks = new java.util.HashMap<>();
    private List<TableSpec> installedTables = List.of();
    private List<RuleSpec> installedRules = List.of();
    /** Link states set by hand (absent: auto), and whether the wire is reachable; guarded by linkStates. */
    private final java.util.Map<String, LinkState> linkStates = new java.util.HashMap<>();
    private boolean wireUp = true;
    private VfPort[] vfPorts = new VfPort[0];
    private final List<Long> rxQuota = new ArrayList<>();
    private boolean started;
    private Topology topology;
    private AllocationPolicy allocPolicy = AllocationPolicy.LOCAL_TO_NIC;
    private int nicNode;
    private RxBuffers buffers;
    private Uplink uplink;
    private final List<PeerLink> peerLinks = new ArrayList<>();
    private VxlanPort vxlan;
    private RouterPort routerPort;
    private final List<ProxyPort> proxies = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The clock of the current data-path round (read once per round, for the switch's ageing and below). */
    private long roundNanos;

    /** Monitor ring geometry: slots of this many captured bytes. */
    public static final int MONITOR_SLOTS = 4096;
    public static final int MONITOR_SNAP = 2048;
    /** Default budget of the standby ring that contained traffic shares. */
    public static final long DEFAULT_STANDBY_FPS = 1000;
    /** Backlog buffers hold a standard frame (1518 bytes and VLAN tags); larger frames are not held. */
    public static final int RX_BUFFER = RxBuffers.BUFFER;
    /** Default RX backlog quota per VF: 128 frames. */
    public static final long DEFAULT_RX_QUOTA = 128L * RX_BUFFER;

    public PhysicalFunction(String name) throws NativeException {
        this(name, DEFAULT_STANDBY_FPS);
    }

    /**
     * @param standbyFramesPerSecond frames per second the standby ring admits from contained attacks
     */
    public PhysicalFunction(String name, long standbyFramesPerSecond) throws NativeException {
        this.name = name;
        this.agent = new DataPathAgent(name);
        this.vswitch = new VSwitch();
        // In /dev/shm so that `vnicctl capture` (another process) reads it; per process, so that two
        // daemons (or a test next to a running daemon) never share one.
        this.monitor = MonitorRing.create(MonitorRing.pathFor(name + "-" + ProcessHandle.current().pid()),
                MONITOR_SLOTS, MONITOR_SNAP);
        this.counters = CounterRegistry.process().register("pf", Map.of("pf", name), PfCounter.values());
        this.ingress = new PfIngress(vswitch, standbyFramesPerSecond, monitor, counters, Map.of("pf", name),
                this::portOf, PfIngress.DEFAULT_MAX_WAIT_NANOS);
    }

    /** Each data-path round: the switch's clock and held frames first, the standby ring after every port. */
    private final class Poller implements Pollable {
        @Override
        public int poll() {
            roundNanos = System.nanoTime();
            vswitch.tick(roundNanos);
            int work = 0;
            for (VfPort p : vfPorts) {
                RxBacklog b = p.backlog();
                if (b != null && !b.isEmpty()) {
                    VirtioNetBackend device = p.device();
                    if (device.isLinkReady()) {
                        work += b.drain(device);
                    } else {
                        b.flush();
                    }
                }
            }
            return work;
        }

        /** After every port's poll of the round: what waits on the standby ring, a bounded number. */
        @Override
        public void flush() {
            ingress.serveStandby();
        }

        /** The backlog walk failed (a bug): drop what is held, counted as flushed, so that the next round starts clean. */
        @Override
        public void failed(Throwable cause) {
            for (VfPort p : vfPorts) {
                if (p.backlog() != null) {
                    p.backlog().flush();
                }
            }
        }

        @Override
        public String toString() {
            return name + " backlog";
        }

        @Override
        public boolean prepareToSleep() {
            if (ingress.standbyDepth() > 0) {
                return false;
            }
            for (VfPort p : vfPorts) {
                RxBacklog b = p.backlog();
                if (b != null && !b.isEmpty() && p.device().armReceiveKick()) {
                    return false;
                }
            }
            return true;
        }
    }

    /** Adds an untagged VF before {@link #start()}. */
    public VirtualFunction addVirtualFunction(String vfName, Path socket, VhostUserEndpoint.Mode mode,
                                              int queuePairs, long mac, Duration reconnect) {
        return addVirtualFunction(vfName, socket, mode, queuePairs, mac, 0, reconnect);
    }

    /**
     * Adds a VF, before {@link #start()} or while the PF runs (as {@code echo N > sriov_numvfs} does on a NIC): at
     * run time it joins the switch on the data path and starts serving its socket at once, nothing else disturbed;
     * it has no RX backlog then (the pools are sized at start).
     *
     * @param mac  pinned to the VF in the switch, or -1 to learn it
     * @param vlan the VF's port VLAN (0 untagged): it switches only with VFs of the same VLAN
     */
    public VirtualFunction addVirtualFunction(String vfName, Path socket, VhostUserEndpoint.Mode mode,
                                              int queuePairs, long mac, int vlan, Duration reconnect) {
        return addVirtualFunction(vfName, socket, mode, queuePairs, mac, vlan, reconnect, vf -> { });
    }

    /**
     * As {@link #addVirtualFunction(String, Path, VhostUserEndpoint.Mode, int, long, int, Duration)}; prepare runs
     * on the new VF before it serves its socket (e.g. to set what is done once the socket is bound).
     */
    public synchronized VirtualFunction addVirtualFunction(String vfName, Path socket, VhostUserEndpoint.Mode mode,
                                                           int queuePairs, long mac, int vlan, Duration reconnect,
                                                           java.util.function.Consumer<VirtualFunction> prepare) {
        if (portOf(vfName) >= 0) {
            throw new IllegalArgumentException(name + ": a port named " + vfName + " exists already");
        }
        if (vlan < 0 || vlan > 4094) {
            throw new IllegalArgumentException(name + " " + vfName + ": VLAN " + vlan + " is not in 0..4094");
        }
        int[] self = {-1};
        FrameSink sink = new FrameSink() {
            @Override
            public int onFrame(MemorySegment frame, long offset, int length) {
                return ingress.onFrame(self[0], 0, frame, offset, length);
            }

            @Override
            public int onRetry(MemorySegment frame, long offset, int length, int ticket, long waitedNanos) {
                return ingress.onRetry(frame, offset, length, ticket, waitedNanos);
            }
        };
        Map<String, String> labels = Map.of("pf", name, "vf", vfName);
        VirtioNetBackend device = new VirtioNetBackend(vfName, agent, queuePairs, sink, labels);
        CounterBlock portCounters = CounterRegistry.process().register("port",
                Map.of("pf", name, "port", vfName, "kind", "vf"), PortCounter.values());
        VfPort p = new VfPort(vfName, device, portCounters, () -> buffers.holdNode(roundNanos));
        // the switch is the data path's: at run time the VF joins it there
        Runnable join = () -> {
            self[0] = vswitch.addPort(p, vlan);
            if (mac >= 0) {
                vswitch.addStaticEntry(mac, vlan, self[0]);
                // spoofchk on by default for a VF with an assigned address, as SR-IOV NICs do
                ingress.setAllowedSource(self[0], mac);
            }
        };
        if (started) {
            agent.execute(join);
        } else {
            join.run();
        }
        VirtualFunction vf = new VirtualFunction(vfName, self[0], mac,
                device, new VhostUserEndpoint(socket, mode, device, reconnect));
        vfs.add(vf);
        rxQuota.add(DEFAULT_RX_QUOTA);
        vfPorts = java.util.Arrays.copyOf(vfPorts, vfPorts.length + 1);
        vfPorts[vfPorts.length - 1] = p;
        prepare.accept(vf);
        if (started) {
            // the RX backlog pools were sized for the VFs of the start: a VF added later has no backlog (a frame
            // that finds no RX buffer posted is dropped and counted, as for a VF with a quota of 0)
            rxQuota.set(rxQuota.size() - 1, 0L);
            agent.add(p);
            privateCopies();
            try {
                vf.start();
            } catch (IOException e) {
                removeVirtualFunction(vfName);
                throw new IllegalStateException(name + " " + vfName + ": cannot serve " + socket + ": " + e.getMessage(), e);
            }
            LOG.log(System.Logger.Level.INFO, () -> name + ": VF " + vfName + " added on " + socket);
        }
        return vf;
    }

    /**
     * Removes a VF while the PF runs: its frontend is disconnected (the guest sees its link go down, then the
     * device goes), its switch port stops taking frames and its addresses are flushed; no other VF is disturbed.
     * The switch keeps the port's number, answering for nothing.
     */
    public synchronized void removeVirtualFunction(String vfName) {
        VirtualFunction vf = virtualFunction(vfName);
        int i = vfs.indexOf(vf);
        VfPort p = vfPorts[i];
        vf.endpoint().close();
        if (started) {
            agent.remove(p);
        }
        int port = vf.port();
        Runnable leave = () -> {
            vswitch.replacePort(port, new RemovedPort(vfName, p.counters()));
            vswitch.flushPort(port);
            ingress.setAllowedSource(port, -1);
        };
        if (started) {
            agent.execute(leave);
        } else {
            leave.run();
        }
        vfs.remove(i);
        rxQuota.remove(i);
        VfPort[] rest = new VfPort[vfPorts.length - 1];
        System.arraycopy(vfPorts, 0, rest, 0, i);
        System.arraycopy(vfPorts, i + 1, rest, i, rest.length - i);
        vfPorts = rest;
        synchronized (linkStates) {
            linkStates.remove(vfName);
        }
        sourceChecks.remove(vfName);
        removed.add(p);
        LOG.log(System.Logger.Level.INFO, () -> name + ": VF " + vfName + " removed");
    }

    /**
     * Gives the PF its way to the wire, before {@link #start()}: the backing interfaces in order of preference, as
     * one uplink port of the switch (a trunk: VLANs tagged). Frames for destinations not on the PF leave by the
     * PNIC the policy picks; frames from the wire enter through the classifier like any port's.
     */
    public synchronized Uplink addUplink(List<String> ifnames, AggregationPolicy policy, boolean failback) {
        return addUplink(ifnames, policy, failback, Transport.AF_PACKET);
    }

    /** {@link #addUplink(List, AggregationPolicy, boolean)} with the transport each backing NIC is opened with. */
    public synchronized Uplink addUplink(List<String> ifnames, AggregationPolicy policy, boolean failback,
                                         Transport transport) {
        if (uplink != null) {
            throw new IllegalStateException(name + " has an uplink already");
        }
        if (portOf(UPLINK) >= 0) {
            throw new IllegalArgumentException(name + ": a VF is called " + UPLINK);
        }
        // Promiscuous: frames for the VFs' MACs, which a physical NIC's filter would drop; qdisc bypass: the uplink
        // queues in its own ring, and the kernel's qdisc would only add a lock and a copy of the decision (AF_XDP
        // has none to bypass)
        Uplink u = new Uplink(name, UPLINK, ifnames, policy, failback, transport,
                PacketSocket.Options.defaults().withPromiscuous(true).withQdiscBypass(true),
                XdpSocket.Options.defaults().withPromiscuous(true), agent, vswitch);
        u.attach(vswitch.addPort(u, VSwitch.TRUNK), ingress);
        u.onCarrier(this::wireReachable);
        uplink = u;
        return u;
    }

    /**
     * The wire became unreachable (no backing NIC healthy) or reachable again: the VFs' links follow it, as an SR-IOV
     * NIC's VFs follow their PF's link (link state auto), so that a guest's bond over VFs of several PFs fails over.
     */
    private void wireReachable(boolean up) {
        LOG.log(up ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                () -> name + ": the wire is " + (up ? "reachable again: VF links up" : "unreachable, no backing NIC is healthy: VF links down"));
        synchronized (linkStates) {
            wireUp = up;
            for (VirtualFunction vf : vfs) {
                if (linkState(vf.name()) == LinkState.AUTO) {
                    vf.endpoint().setCarrier(up);
                }
            }
        }
    }

    /** A VF's link state as {@code ip link set DEV vf N state} sets it. */
    public enum LinkState {
        /** The VF's link follows the wire (its PF's healthy NICs; up when the PF has no uplink). */
        AUTO,
        /** Up whatever the wire does. */
        ENABLE,
        /** Down: its frontend is disconnected and its guest sees the link down. */
        DISABLE;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The link state of the VF named vf. */
    public LinkState linkState(String vf) {
        synchronized (linkStates) {
            return linkStates.getOrDefault(vf, LinkState.AUTO);
        }
    }

    /**
     * Sets a VF's link state at run time: disable takes its link down (the guest sees it), enable brings it up
     * whatever the wire does, auto makes it follow the wire again. Nothing else is disturbed. Any thread.
     */
    public void setLinkState(String vf, LinkState state) {
        VirtualFunction v = virtualFunction(vf);
        synchronized (linkStates) {
            linkStates.put(vf, state);
            v.endpoint().setCarrier(switch (state) {
                case AUTO -> wireUp;
                case ENABLE -> true;
                case DISABLE -> false;
            });
        }
        LOG.log(System.Logger.Level.INFO, () -> name + " " + vf + ": link state " + state.word());
    }

    /**
     * Shapes what the VF named vf transmits to bitsPerSecond (0: no limit) at run time; frames over the rate wait in
     * the guest's ring. Waits until the data path applied it.
     */
    public void setTxRate(String vf, long bitsPerSecond) {
        VirtualFunction v = virtualFunction(vf);
        agent.execute(() -> v.device().setTxRate(bitsPerSecond));
        LOG.log(System.Logger.Level.INFO, () -> name + " " + vf + ": TX rate " + (bitsPerSecond == 0 ? "unlimited"
                : bitsPerSecond + " bit/s"));
    }

    /** The VF named name, or IllegalArgumentException naming the PF's VFs. */
    public VirtualFunction virtualFunction(String vfName) {
        for (VirtualFunction vf : virtualFunctions()) {
            if (vf.name().equals(vfName)) {
                return vf;
            }
        }
        throw new IllegalArgumentException(name + " has no VF '" + vfName + "' (it has "
                + virtualFunctions().stream().map(VirtualFunction::name).toList() + ")");
    }

    /**
     * Joins this PF to the other daemons that name socket (US20110090915): the first to come listens there, the
     * rest connect; each peer's VNICs are then reached through a proxy port and a shared-memory channel. Before or
     * after start.
     */
    public synchronized PeerLink addPeer(Path socket) throws IOException {
        PeerLink link = new PeerLink(socket, this);
        peerLinks.add(link);
        if (started) {
            link.start();
        }
        return link;
    }

    /**
     * Joins VXLAN segments (RFC 7348), before {@link #start()}: one tunnel port of the switch carrying each segment's
     * VLAN to its remote VTEPs over UDP.
     *
     * @param mtu       the path MTU toward the VTEPs (1500 on most networks: guests then need 1450)
     * @param localIp   the IPv4 address to listen on, 0 for any
     * @param localPort the UDP port, usually 4789
     */
    public synchronized VxlanPort addVxlan(List<VxlanSegment> segments, int mtu, int localIp, int localPort) {
        if (vxlan != null) {
            throw new IllegalStateException(name + " has its VXLAN port already");
        }
        VxlanPort v = new VxlanPort(name, VXLAN, segments, mtu, localIp, localPort, agent);
        v.attach(vswitch.addPort(v, VSwitch.TRUNK), ingress);
        vxlan = v;
        return v;
    }

    /**
     * Gives the PF its VNIC of the daemon's virtual router (US7941539), before {@link #start()}: the PF serves
     * subnet, whose gateway address the router holds once some host is away from home (see {@link VirtualRouter}).
     */
    public synchronized RouterPort joinRouter(VirtualRouter r, Ipv4Subnet subnet, int gateway) {
        if (routerPort != null) {
            throw new IllegalStateException(name + " has its router VNIC already");
        }
        RouterPort p = r.join(name, subnet, gateway, agent);
        routerPort = p;
        return p;
    }

    /** The PF's VNIC of the virtual router, or null. */
    public RouterPort routerPort() {
        return routerPort;
    }

    /** The name of the switch port to VXLAN segments. */
    public static final String VXLAN = "vxlan";

    /** The PF's VXLAN port, or null. */
    public VxlanPort vxlan() {
        return vxlan;
    }

    public List<PeerLink> peerLinks() {
        return List.copyOf(peerLinks);
    }

    /** Every proxy port (one per peer this PF had at once), attached or not. */
    public List<ProxyPort> proxies() {
        return List.copyOf(proxies);
    }

    /** Most addresses one peer may map to its proxy. */
    static final int MAX_PEER_ADDRESSES = 4096;

    @Override
    public String peerName() {
        return name + "@" + ProcessHandle.current().pid();
    }

    @Override
    public synchronized ProxyPort proxyFor(PeerLink link, String peer) {
        ProxyPort free = null;
        for (ProxyPort p : link.proxies()) {
            if (!p.linkUp() && (free == null || p.peer().startsWith(peer + "("))) {
                free = p;
            }
        }
        if (free != null) {
            return free;
        }
        ProxyPort p = new ProxyPort(name, "proxy" + proxies.size(), agent);
        agent.execute(() -> p.attachTo(vswitch.addPort(p, VSwitch.TRUNK), ingress));
        agent.add(p);
        proxies.add(p);
        link.made(p);
        return p;
    }

    @Override
    public void attach(ProxyPort proxy, String peer, FrameChannel channel, EventFd wakeMe, EventFd wakePeer,
                       Runnable onBroken) {
        agent.execute(() -> proxy.attach(peer, channel, wakeMe, wakePeer, onBroken));
    }

    @Override
    public void detach(ProxyPort proxy) {
        agent.execute(() -> {
            proxy.detach();
            vswitch.flushPort(proxy.switchPort());
            proxy.proxyStatus().set(ProxyCounter.ADDRESSES.ordinal(), 0);
        });
    }

    @Override
    public List<PeerAddress> addresses(ProxyPort toward) {
        List<PeerAddress> out = new ArrayList<>();
        for (VSwitch.Entry e : vswitch.entries()) {
            if (e.port() < 0 || e.port() >= vswitch.portCount() || e.port() == toward.switchPort()) {
                continue;
            }
            Port.Kind k = vswitch.port(e.port()).kind();
            if (k == Port.Kind.VF || k == Port.Kind.PROXY) {
                out.add(new PeerAddress(true, e.mac(), e.vlan()));
            }
        }
        return out;
    }

    /**
     * Maps what the peer announced to its proxy. Addresses this PF's own VNICs have (and those behind another
     * proxy) stay where they are: a peer cannot take over a local station's traffic by claiming its MAC.
     */
    @Override
    public int apply(ProxyPort proxy, List<PeerAddress> changes) {
        int[] held = {0};
        agent.execute(() -> {
            int port = proxy.switchPort();
            int count = (int) proxy.proxyStatus().get(ProxyCounter.ADDRESSES.ordinal());
            for (PeerAddress m : changes) {
                int at = vswitch.entryPort(m.mac(), m.vlan());
                if (m.add()) {
                    if (at == port || count >= MAX_PEER_ADDRESSES
                            || (at >= 0 && vswitch.port(at).kind() != Port.Kind.UPLINK && vswitch.port(at).kind() != Port.Kind.TUNNEL)) {
                        continue;
                    }
                    try {
                        vswitch.addStaticEntry(m.mac(), m.vlan(), port);
                        count++;
                    } catch (IllegalStateException full) {
                        LOG.log(System.Logger.Level.WARNING, () -> name + ": " + full.getMessage());
                    }
                } else if (at == port) {
                    vswitch.removeEntry(m.mac(), m.vlan());
                    count--;
                }
            }
            proxy.proxyStatus().set(ProxyCounter.ADDRESSES.ordinal(), count);
            held[0] = count;
        });
        return held[0];
    }

    /** The name of the switch port to the wire. */
    public static final String UPLINK = "uplink";

    /** The PF's uplink, or null when it has no backing NIC. */
    public Uplink uplink() {
        return uplink;
    }

    /** Starts the data path, then every VF's endpoint; a VF whose socket cannot be bound fails the start. */
    public synchronized void start() throws IOException {
        agent.start();
        buffers = RxBuffers.create(name, rxQuota, topology, allocPolicy, nicNode);
        if (buffers != null) {
            for (int i = 0; i < vfPorts.length; i++) {
                VirtualFunction vf = vfs.get(i);
                RxBacklog b = buffers.backlogFor(vf.port(), rxQuota.get(i), Map.of("pf", name, "vf", vf.name()));
                if (b != null) {
                    vfPorts[i].attach(b);
                }
            }
        }
        privateCopies();
        // The switch ages entries by a clock read once per data-path round, not per frame.
        agent.add(new Poller());
        for (VfPort p : vfPorts) {
            agent.add(p);
        }
        if (uplink != null) {
            agent.add(uplink);
            uplink.start();
        }
        if (vxlan != null) {
            agent.add(vxlan);
            vxlan.start();
        }
        if (routerPort != null) {
            RouterPort rp = routerPort;
            agent.execute(() -> rp.attach(vswitch.addPort(rp, 0), ingress));
            agent.add(rp);
        }
        for (VirtualFunction vf : vfs) {
            vf.start();
        }
        started = true;
        for (PeerLink link : peerLinks) {
            link.start();
        }
        LOG.log(System.Logger.Level.INFO, () -> name + ": started with " + vfs.size() + " VF(s)");
    }

    /** Sets a VF's RX backlog quota in bytes (0: no backlog, frames without RX buffers are dropped); before start. */
    public synchronized void setRxQuota(int port, long bytes) {
        if (bytes < 0 || bytes > (64L << 20)) {
            throw new IllegalArgumentException("RX quota " + bytes + " is outside 0..64 MiB");
        }
        rxQuota.set(indexOfVf(port), bytes);
    }

    private int indexOfVf(int port) {
        for (int i = 0; i < vfs.size(); i++) {
            if (vfs.get(i).port() == port) {
                return i;
            }
        }
        throw new IllegalArgumentException(name + ": no VF at port " + port);
    }

    /**
     * Where the PF's backlog buffers (what it writes into VFs' RX queues) come from: one pool per NUMA node of
     * topology (null: this machine's, from /sys), chosen per frame by policy from the data-path thread's CPU and
     * the node of the PF's NIC. Before start.
     */
    public synchronized void setPlacement(Topology topology, AllocationPolicy policy, int nicNode) {
        this.topology = topology;
        this.allocPolicy = policy;
        this.nicNode = nicNode;
    }

    /**
     * How long a sender (a VF's TX queue, the uplink) waits for a destination whose quota is full before the frame
     * is dropped and counted (default 5 ms); 0 drops at once. A destination a sender gave up on is not waited for
     * during the next 100 ms.
     */
    public void setMaxQuotaWait(Duration wait) {
        ingress.setMaxWait(wait.toNanos());
    }

    /** The placement in force after start (null when no VF has a backlog). */
    public TransmitBufferPlacement placement() {
        return buffers == null ? null : buffers.placement();
    }

    /** The node each backlog pool's memory is bound to (-1: the kernel refused, e.g. a described node), by node. */
    public int[] poolBinding() {
        return buffers == null ? new int[0] : buffers.binding();
    }

    /** A VF's backlog and quota counters, summed over the node pools, for status (zeros when it has no backlog). */
    public BacklogStatus backlog(int port) {
        RxBacklog b = null;
        for (VfPort p : vfPorts) {
            if (vswitch.port(port) == p) {
                b = p.backlog();
            }
        }
        if (b == null || buffers == null) {
            return new BacklogStatus(0, 0, 0, 0, 0, 0, 0, 0);
        }
        return buffers.status(port, b);
    }

    /**
     * @param quotaBytes  what the VF may hold
     * @param overQuota   frames the pool refused because the VF's backlog was at its quota
     * @param flushed     frames dropped because the VF's driver went away while they were held
     */
    public record BacklogStatus(long quotaBytes, long bytesInUse, long peakBytes, int depth, long held, long delivered,
                                long flushed, long overQuota) {
    }

    public String name() {
        return name;
    }

    public List<VirtualFunction> virtualFunctions() {
        return Collections.unmodifiableList(vfs);
    }

    /** The switch's ports (VFs and, with backing NICs, the uplink), by number. */
    public List<Port> ports() {
        List<Port> out = new ArrayList<>();
        for (int i = 0; i < vswitch.portCount(); i++) {
            out.add(vswitch.port(i));
        }
        return out;
    }

    /** The PF's own counters (scope pf). */
    public CounterBlock counters() {
        return counters;
    }

    /**
     * Replaces the PF's flow rules; actions name ports ({@code vf:NAME}). A bad set is refused as a whole,
     * every problem named, and the rules in force stay.
     */
    public synchronized void installRules(List<TableSpec> tables, List<RuleSpec> rules) throws RuleSetException {
        ingress.installRules(tables, rules);
        installedTables = List.copyOf(tables);
        installedRules = List.copyOf(rules);
        privateCopies();
    }

    /** The flow tables and rules in force, as they were given. */
    public synchronized List<RuleSpec> rules() {
        return installedRules;
    }

    public synchronized List<TableSpec> tables() {
        return installedTables;
    }

    /**
     * Adds one flow rule to those in force (flowadm add-flow): the whole set is compiled again and, if refused, the
     * rules in force stay. A rule of the same name is refused.
     */
    public synchronized void addFlow(RuleSpec rule) throws RuleSetException {
        for (RuleSpec r : installedRules) {
            if (r.name().equals(rule.name())) {
                throw new RuleSetException(List.of("a flow named '" + rule.name() + "' exists already"));
            }
        }
        List<RuleSpec> next = new ArrayList<>(installedRules);
        next.add(rule);
        installRules(installedTables, next);
    }

    /** Removes the flow rule named name (flowadm remove-flow); false when there is none. */
    public synchronized boolean removeFlow(String flowName) throws RuleSetException {
        List<RuleSpec> next = new ArrayList<>(installedRules);
        if (!next.removeIf(r -> r.name().equals(flowName))) {
            return false;
        }
        installRules(installedTables, next);
        return true;
    }

    /**
     * A VF whose frames are judged (rules, containment, monitoring, spoofchk) hands the PF private copies of
     * them, so that the guest cannot change a frame between judgement and delivery; the others are switched
     * straight from guest memory.
     */
    private synchronized void privateCopies() {
        for (VirtualFunction vf : vfs) {
            vf.device().setPrivateTransmitCopy(ingress.judges(vf.port()));
        }
    }

    /** Steers these attacks to the standby ring and its budget (an empty list releases them). */
    public void contain(List<AttackDescriptor> attacks) throws RuleSetException {
        ingress.contain(attacks);
        privateCopies();
    }

    /** The switch port of the port called portName, or -1. */
    private int portOf(String portName) {
        for (int i = 0; i < vswitch.portCount(); i++) {
            if (vswitch.portName(i).equals(portName)) {
                return i;
            }
        }
        return -1;
    }

    public Classifier classifier() {
        return ingress.classifier();
    }

    public DosContainment dos() {
        return ingress.dos();
    }

    public MonitorRing monitor() {
        return monitor;
    }

    /**
     * Trust (ip link set DEV vf N trust on): a trusted VF may send from any source address; an untrusted one with
     * an assigned MAC only from it (spoofchk), the rest dropped and counted ({@link #spoofDrops()}).
     */
    public void setTrusted(VirtualFunction vf, boolean trusted) {
        ingress.setAllowedSource(vf.port(), trusted || vf.mac() < 0 ? -1 : vf.mac());
        privateCopies();
    }

    /**
     * spoofchk and trust of the VF named vfName at run time (ip link set DEV vf N spoofchk on|off, trust on|off):
     * its assigned MAC is enforced as the source of what it sends while spoofchk is on and it is not trusted.
     * Either may be null (left as it is). A VF without an assigned MAC has nothing to enforce.
     */
    public synchronized void setSourceChecks(String vfName, Boolean spoofchk, Boolean trust) {
        VirtualFunction vf = virtualFunction(vfName);
        boolean[] f = sourceChecks.computeIfAbsent(vfName, n -> new boolean[] {true, false});
        if (spoofchk != null) {
            f[0] = spoofchk;
        }
        if (trust != null) {
            f[1] = trust;
        }
        setTrusted(vf, f[1] || !f[0]);
        LOG.log(System.Logger.Level.INFO, () -> name + " " + vfName + ": spoofchk " + (f[0] ? "on" : "off") + ", trust "
                + (f[1] ? "on" : "off"));
    }

    /**
     * Gives the VF named vfName another assigned MAC (-1: learn it) and port VLAN at run time (ip link set DEV vf N
     * mac M vlan V): the switch pins the new address in the new VLAN, forgets the old, and spoofchk follows. The
     * guest's own MAC is its frontend's (QEMU's {@code mac=}): set both.
     */
    public synchronized void setAddress(String vfName, long mac, int vlan) {
        VirtualFunction vf = virtualFunction(vfName);
        int i = vfs.indexOf(vf);
        int port = vf.port();
        long old = vf.mac();
        agent.execute(() -> {
            int oldVlan = vswitch.portVlan(port);
            if (old >= 0) {
                vswitch.removeEntry(old, oldVlan);
            }
            if (vlan != oldVlan) {
                vswitch.setPortVlan(port, vlan);
            }
            if (mac >= 0) {
                vswitch.addStaticEntry(mac, vlan, port);
            }
        });
        vfs.set(i, new VirtualFunction(vf.name(), port, mac, vf.device(), vf.endpoint()));
        setSourceChecks(vfName, null, null);
    }

    /** The VF's spoofchk and trust: {spoofchk, trust}. */
    public synchronized boolean[] sourceChecks(String vfName) {
        return sourceChecks.getOrDefault(vfName, new boolean[] {true, false}).clone();
    }

    /** Frames VFs sent from an address not their own (spoofchk), dropped. */
    public long spoofDrops() {
        return counters.get(PfCounter.SPOOFED);
    }

    /** Frames dropped by rules or by the standby budget. */
    public long ruleDrops() {
        return counters.get(PfCounter.RULE_DROPS);
    }

    /** Frames steered to a port by a rule. */
    public long ruleSteered() {
        return counters.get(PfCounter.STEERED);
    }

    /** Frames copied (or taken) to the monitor ring by a rule. */
    public long ruleMonitored() {
        return counters.get(PfCounter.MONITORED);
    }

    public VSwitch vswitch() {
        return vswitch;
    }

    public DataPathAgent agent() {
        return agent;
    }

    @Override
    public synchronized void close() {
        for (PeerLink link : peerLinks) {
            link.close();
        }
        for (VirtualFunction vf : vfs) {
            vf.endpoint().close();
        }
        agent.close();
        if (uplink != null) {
            uplink.close();
        }
        if (vxlan != null) {
            vxlan.close();
        }
        ingress.close();
        monitor.unlink();
        monitor.close();
        if (buffers != null) {
            buffers.close();
        }
        for (ProxyPort p : proxies) {
            p.close();
        }
        for (VfPort p : removed) {
            p.counters().close();
            p.device().close();
        }
        for (VfPort p : vfPorts) {
            p.counters().close();
            p.device().close();
            if (p.backlog() != null) {
                p.backlog().counters().close();
            }
        }
        counters.close();
        LOG.log(System.Logger.Level.INFO, () -> name + ": stopped");
    }
}
