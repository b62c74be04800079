package io.vnicd.sriov.pf;

import io.vnicd.devmodel.classify.Classifier;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.devmodel.dos.DosContainment;
import io.vnicd.devmodel.monitor.MonitorRing;
import io.vnicd.devmodel.numa.AllocationPolicy;
import io.vnicd.devmodel.numa.CurrentCpu;
import io.vnicd.devmodel.numa.NumaNode;
import io.vnicd.devmodel.numa.Topology;
import io.vnicd.devmodel.numa.TransmitBufferPlacement;
import io.vnicd.devmodel.pool.BufferPool;
import io.vnicd.devmodel.port.Port;
import io.vnicd.virtio.datapath.Pollable;
import io.vnicd.devmodel.vswitch.VSwitch;
import io.vnicd.nativeio.NativeException;
import io.vnicd.virtio.datapath.DataPathAgent;
import io.vnicd.virtio.net.VirtioNetBackend;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * An emulated physical function: one data-path thread serving all its VFs' queues, and an embedded switch
 * (the vswitch of devmodel) joining them. A frame a VF transmits enters the switch at that VF's port and
 * leaves at the port(s) the switch picks, straight into those VFs' RX queues, on the same thread.
 */
public final class PhysicalFunction implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PhysicalFunction.class.getName());

    private final String name;
    private final DataPathAgent agent;
    private final VSwitch vswitch;
    private final MonitorRing monitor;
    private final PfIngress ingress;
    private final List<VirtualFunction> vfs = new ArrayList<>();
    /** The switch's ports by number: the VFs first (in the order they were added), then the uplink. */
    private Port[] ports = new Port[0];
    private VfPort[] vfPorts = new VfPort[0];
    private final List<Long> rxQuota = new ArrayList<>();
    private BufferPool[] poolByNode = new BufferPool[0];
    private Topology topology;
    private AllocationPolicy allocPolicy = AllocationPolicy.LOCAL_TO_NIC;
    private int nicNode;
    private TransmitBufferPlacement placement;
    /** The clock of the current data-path round (read once per round, for the switch's ageing and below). */
    private long roundNanos;
    /** The data-path thread's CPU as last read, and when; see {@link #senderCpu()}. */
    private int senderCpu = -1;
    private long cpuReadAt;

    /** Monitor ring geometry: slots of this many captured bytes. */
    public static final int MONITOR_SLOTS = 4096;
    public static final int MONITOR_SNAP = 2048;
    /** Default budget of the standby ring that contained (DoS) traffic shares. */
    public static final long DEFAULT_STANDBY_FPS = 1000;
    /** Backlog buffers hold a standard frame (1518 bytes and VLAN tags); larger frames are not held. */
    public static final int RX_BUFFER = 2048;
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
        this.vswitch = new VSwitch(this::deliver);
        // In /dev/shm so that `vnicctl capture` (another process) reads it; per process, so that two
        // daemons (or a test next to a running daemon) never share one.
        this.monitor = MonitorRing.create(MonitorRing.pathFor(name + "-" + ProcessHandle.current().pid()),
                MONITOR_SLOTS, MONITOR_SNAP);
        this.ingress = new PfIngress(vswitch, standbyFramesPerSecond, monitor);
    }

    /** Called by the switch on the data-path thread: hands the frame to the port (a VF, the uplink). */
    private boolean deliver(int port, MemorySegment frame, long offset, int length) {
        Port[] ps = ports;
        return port < ps.length && ps[port].send(frame, offset, length);
    }

    /** Where a VF's frame that must wait is held: the pool the placement policy picks. */
    private int holdNode() {
        return placement.chooseNode(nicNode, senderCpu());
    }

    /**
     * The data-path thread's CPU for the placement policy: read (a file read) only when a frame is held, and
     * at most about once a second, since the thread rarely moves.
     */
    private int senderCpu() {
        if (roundNanos - cpuReadAt > 1_000_000_000L || cpuReadAt == 0) {
            cpuReadAt = roundNanos;
            senderCpu = CurrentCpu.read();
        }
        return senderCpu;
    }

    /** Each data-path round: the switch's clock, then held frames into RX queues that have buffers again. */
    private final class Poller implements Pollable {
        @Override
        public int poll() {
            roundNanos = System.nanoTime();
            vswitch.tick(roundNanos);
            int work = 0;
            for (VfPort p : vfPorts) {
                RxBacklog b = p.backlog();
                if (b != null && !b.isEmpty()) {
                    VirtioNetBackend device = p.vf().device();
                    if (device.isLinkReady()) {
                        work += b.drain(device);
                    } else {
                        b.flush();
                    }
                }
            }
            return work;
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
            for (VfPort p : vfPorts) {
                RxBacklog b = p.backlog();
                if (b != null && !b.isEmpty() && p.vf().device().armReceiveKick()) {
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
     * Adds a VF before {@link #start()}.
     *
     * @param mac  pinned to the VF in the switch, or -1 to learn it
     * @param vlan the VF's port VLAN (0 untagged): it switches only with VFs of the same VLAN
     */
    public synchronized VirtualFunction addVirtualFunction(String vfName, Path socket, VhostUserEndpoint.Mode mode,
                                                           int queuePairs, long mac, int vlan, Duration reconnect) {
        int port = vfs.size();
        int swPort = vswitch.addPort(vfName, vlan);
        if (swPort != port) {
            throw new IllegalStateException("switch port " + swPort + " for VF port " + port);
        }
        VirtioNetBackend device = new VirtioNetBackend(vfName, agent, queuePairs,
                (frame, offset, length) -> ingress.onFrame(port, frame, offset, length));
        VirtualFunction vf = new VirtualFunction(vfName, port, mac,
                device, new VhostUserEndpoint(socket, mode, device, reconnect));
        if (mac >= 0) {
            vswitch.addStaticEntry(mac, vlan, port);
            // spoofchk on by default for a VF with an assigned address, as SR-IOV NICs do
            ingress.setAllowedSource(port, mac);
        }
        vfs.add(vf);
        rxQuota.add(DEFAULT_RX_QUOTA);
        VfPort p = new VfPort(vf, this::holdNode);
        vfPorts = java.util.Arrays.copyOf(vfPorts, vfPorts.length + 1);
        vfPorts[port] = p;
        ports = java.util.Arrays.copyOf(ports, ports.length + 1);
        ports[port] = p;
        return vf;
    }

    /** Starts the data path, then every VF's endpoint; a VF whose socket cannot be bound fails the start. */
    public synchronized void start() throws IOException {
        agent.start();
        int totalBuffers = 0;
        for (long q : rxQuota) {
            totalBuffers += (int) (q / RX_BUFFER);
        }
        if (totalBuffers > 0) {
            Topology t = topology != null ? topology : Topology.fromSysfs();
            BufferPool[] pools = new BufferPool[t.maxNodeId() + 1];
            for (NumaNode node : t.nodes()) {
                pools[node.id()] = BufferPool.createOnNode(name + "-rx-node" + node.id(), RX_BUFFER, totalBuffers,
                        Math.max(1, vfs.size()), node.id());
                for (int port = 0; port < vfs.size(); port++) {
                    pools[node.id()].setQuota(port, rxQuota.get(port) / RX_BUFFER * RX_BUFFER);
                }
            }
            poolByNode = pools;
            placement = new TransmitBufferPlacement(t, allocPolicy, pools);
            for (int port = 0; port < vfPorts.length; port++) {
                int buffers = (int) (rxQuota.get(port) / RX_BUFFER);
                if (buffers > 0) {
                    vfPorts[port].attach(new RxBacklog(port, pools, buffers * t.nodeCount()));
                }
            }
            LOG.log(System.Logger.Level.INFO, () -> name + ": RX backlog pools on " + t + ", policy " + allocPolicy
                    + ", NIC on node " + nicNode);
        }
        privateCopies();
        // The switch ages entries by a clock read once per data-path round, not per frame.
        agent.add(new Poller());
        for (VirtualFunction vf : vfs) {
            agent.add(vf.device());
            vf.start();
        }
        LOG.log(System.Logger.Level.INFO, () -> name + ": started with " + vfs.size() + " VF(s)");
    }

    /** Sets a VF's RX backlog quota in bytes (0: no backlog, frames without RX buffers are dropped); before start. */
    public synchronized void setRxQuota(int port, long bytes) {
        if (bytes < 0 || bytes > (64L << 20)) {
            throw new IllegalArgumentException("RX quota " + bytes + " is outside 0..64 MiB");
        }
        rxQuota.set(port, bytes);
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

    /** The placement in force after start (null when no VF has a backlog). */
    public TransmitBufferPlacement placement() {
        return placement;
    }

    /** The node each backlog pool's memory is bound to (-1: the kernel refused, e.g. a described node), by node. */
    public int[] poolBinding() {
        int[] out = new int[poolByNode.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = poolByNode[i] == null ? -1 : poolByNode[i].boundNode();
        }
        return out;
    }

    /** A VF's backlog and quota counters, summed over the node pools, for status (zeros when it has no backlog). */
    public BacklogStatus backlog(int port) {
        RxBacklog b = port < vfPorts.length ? vfPorts[port].backlog() : null;
        if (b == null) {
            return new BacklogStatus(0, 0, 0, 0, 0, 0, 0, 0);
        }
        long quota = 0;
        long inUse = 0;
        long peak = 0;
        long drops = 0;
        for (BufferPool p : poolByNode) {
            if (p != null) {
                quota = Math.max(quota, p.quota(port));
                inUse += p.bytesInUse(port);
                peak = Math.max(peak, p.peakBytes(port));
                drops += p.drops(port);
            }
        }
        return new BacklogStatus(quota, inUse, peak, b.depth(), b.held(), b.delivered(), b.flushed(), drops);
    }

    /**
     * @param quotaBytes  what the VF may hold
     * @param overQuota   frames dropped because the VF's backlog was at its quota
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

    /**
     * Replaces the PF's flow rules; actions name VFs ({@code vf:NAME}). A bad set is refused as a whole,
     * every problem named, and the rules in force stay.
     */
    public void installRules(List<TableSpec> tables, List<RuleSpec> rules) throws RuleSetException {
        ingress.installRules(tables, rules, this::portOf);
        privateCopies();
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

    private int portOf(String vfName) {
        for (VirtualFunction vf : vfs) {
            if (vf.name().equals(vfName)) {
                return vf.port();
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

    /** Frames VFs sent from an address not their own (spoofchk), dropped. */
    public long spoofDrops() {
        return ingress.spoofed();
    }

    /** Frames dropped by rules or by the standby budget. */
    public long ruleDrops() {
        return ingress.dropped();
    }

    /** Frames steered to a VF by a rule. */
    public long ruleSteered() {
        return ingress.steered();
    }

    /** Frames copied (or taken) to the monitor ring by a rule. */
    public long ruleMonitored() {
        return ingress.monitored();
    }

    public VSwitch vswitch() {
        return vswitch;
    }

    public DataPathAgent agent() {
        return agent;
    }

    @Override
    public synchronized void close() {
        for (VirtualFunction vf : vfs) {
            vf.endpoint().close();
        }
        agent.close();
        monitor.unlink();
        monitor.close();
        for (BufferPool p : poolByNode) {
            if (p != null) {
                p.close();
            }
        }
        LOG.log(System.Logger.Level.INFO, () -> name + ": stopped");
    }
}
