package io.vnicd.sriov.pf;

import io.vnicd.devmodel.numa.AllocationPolicy;
import io.vnicd.devmodel.numa.CurrentCpu;
import io.vnicd.devmodel.numa.NumaNode;
import io.vnicd.devmodel.numa.Topology;
import io.vnicd.devmodel.numa.TransmitBufferPlacement;
import io.vnicd.devmodel.pool.BufferPool;

import java.util.List;

/**
 * The PF's receive buffers: one buffer pool per NUMA node, with a quota per VF (US8392565), from which frames
 * that find no RX buffer posted are held in the VF's backlog; the node for each held frame is chosen by the
 * placement policy (US20110208873) from the data-path thread's CPU and the node of the PF's NIC.
 * Built at start from the VFs' quotas; {@link #holdNode} runs on the data-path thread, the rest anywhere.
 */
final class RxBuffers implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RxBuffers.class.getName());

    /** Backlog buffers hold a standard frame (1518 bytes and VLAN tags); larger frames are not held. */
    static final int BUFFER = 2048;

    private final BufferPool[] poolByNode;
    private final TransmitBufferPlacement placement;
    private final int nicNode;
    /** The data-path thread's CPU as last read, and when; see {@link #holdNode}. */
    private int senderCpu = -1;
    private long cpuReadAt;

    private RxBuffers(BufferPool[] poolByNode, TransmitBufferPlacement placement, int nicNode) {
        this.poolByNode = poolByNode;
        this.placement = placement;
        this.nicNode = nicNode;
    }

    /**
     * Pools for these VF quotas (bytes, by VF port) on topology (null: this machine's), or null when no VF has a
     * backlog.
     */
    static RxBuffers create(String pf, List<Long> quotas, Topology topology, AllocationPolicy policy, int nicNode)
            throws io.vnicd.nativeio.NativeException {
        int total = 0;
        for (long q : quotas) {
            total += (int) (q / BUFFER);
        }
        if (total == 0) {
            return null;
        }
        Topology t = topology != null ? topology : Topology.fromSysfs();
        BufferPool[] pools = new BufferPool[t.maxNodeId() + 1];
        for (NumaNode node : t.nodes()) {
            pools[node.id()] = BufferPool.createOnNode(pf + "-rx-node" + node.id(), BUFFER, total,
                    Math.max(1, quotas.size()), node.id());
            for (int port = 0; port < quotas.size(); port++) {
                pools[node.id()].setQuota(port, quotas.get(port) / BUFFER * BUFFER);
            }
        }
        LOG.log(System.Logger.Level.INFO, () -> pf + ": RX backlog pools on " + t + ", policy " + policy
                + ", NIC on node " + nicNode);
        return new RxBuffers(pools, new TransmitBufferPlacement(t, policy, pools), nicNode);
    }

    /** A backlog for the VF at port holding up to its quota in each node's pool, or null for a quota of 0. */
    RxBacklog backlogFor(int port, long quotaBytes, java.util.Map<String, String> labels) {
        int buffers = (int) (quotaBytes / BUFFER);
        return buffers == 0 ? null : new RxBacklog(port, poolByNode, buffers * placement.topology().nodeCount(),
                io.vnicd.devmodel.counter.CounterRegistry.process().register("backlog", labels,
                        RxBacklog.BacklogCounter.values()));
    }

    /**
     * Where a frame that must wait is held: the pool the placement policy picks. The thread's CPU is read (a file
     * read) at most about once a second, since the thread rarely moves.
     *
     * @param now the data-path round's clock
     */
    int holdNode(long now) {
        if (now - cpuReadAt > 1_000_000_000L || cpuReadAt == 0) {
            cpuReadAt = now;
            senderCpu = CurrentCpu.read();
        }
        return placement.chooseNode(nicNode, senderCpu);
    }

    TransmitBufferPlacement placement() {
        return placement;
    }

    /** The node each pool's memory is bound to (-1: the kernel refused, e.g. a described node), by node. */
    int[] binding() {
        int[] out = new int[poolByNode.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = poolByNode[i] == null ? -1 : poolByNode[i].boundNode();
        }
        return out;
    }

    /** A VF's quota and usage summed over the node pools, and its backlog's counters. */
    PhysicalFunction.BacklogStatus status(int port, RxBacklog b) {
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
        return new PhysicalFunction.BacklogStatus(quota, inUse, peak, b.depth(), b.held(), b.delivered(), b.flushed(), drops);
    }

    @Override
    public void close() {
        for (BufferPool p : poolByNode) {
            if (p != null) {
                p.close();
            }
        }
    }
}
