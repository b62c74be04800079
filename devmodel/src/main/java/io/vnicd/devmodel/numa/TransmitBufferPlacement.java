package io.vnicd.devmodel.numa;

import io.vnicd.devmodel.pool.BufferPool;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Picks the buffer pool that serves a transmit buffer from where the pools, the NIC and the sending thread
 * sit, by an {@link AllocationPolicy} (US20110208873). One pool per node; the caller then acquires from it
 * with its target id, so quotas still apply per target within each node's pool.
 *
 * <p>When the policy's preferred node is unknown (sender CPU not in the topology, NIC node -1) or has no
 * pool, the choice falls back to the other side's node, then to the lowest node with a pool; fallbacks are
 * counted. Allocation-free: the counters are preallocated.
 */
public final class TransmitBufferPlacement {
    private final Topology topology;
    private final AllocationPolicy policy;
    private final BufferPool[] poolByNode;
    private final int[] nodesWithPool;
    private final AtomicLong interleave = new AtomicLong();
    private final AtomicLongArray chosen;
    private final AtomicLong fallbacks = new AtomicLong();

    /** @param poolByNode pool for each node id (index = node id; null for a node without a pool) */
    public TransmitBufferPlacement(Topology topology, AllocationPolicy policy, BufferPool[] poolByNode) {
        this.topology = Objects.requireNonNull(topology);
        this.policy = Objects.requireNonNull(policy);
        this.poolByNode = poolByNode.clone();
        this.nodesWithPool = topology.nodes().stream().mapToInt(NumaNode::id)
                .filter(id -> id < this.poolByNode.length && this.poolByNode[id] != null).toArray();
        if (nodesWithPool.length == 0) {
            throw new IllegalArgumentException("no node of " + topology + " has a buffer pool");
        }
        this.chosen = new AtomicLongArray(topology.maxNodeId() + 1);
    }

    /** The node whose pool serves a buffer sent by a thread on senderCpu through a NIC on nicNode. */
    public int chooseNode(int nicNode, int senderCpu) {
        int senderNode = topology.nodeOfCpu(senderCpu);
        int node = switch (policy) {
            case LOCAL_TO_SENDER -> hasPool(senderNode) ? senderNode : fallback(nicNode);
            case LOCAL_TO_NIC -> hasPool(nicNode) ? nicNode : fallback(senderNode);
            case INTERLEAVE -> nodesWithPool[(int) Long.remainderUnsigned(interleave.getAndIncrement(), nodesWithPool.length)];
        };
        chosen.incrementAndGet(node);
        return node;
    }

    /** The pool for {@link #chooseNode}. */
    public BufferPool poolFor(int nicNode, int senderCpu) {
        return poolByNode[chooseNode(nicNode, senderCpu)];
    }

    private int fallback(int otherNode) {
        fallbacks.incrementAndGet();
        return hasPool(otherNode) ? otherNode : nodesWithPool[0];
    }

    private boolean hasPool(int node) {
        return node >= 0 && node < poolByNode.length && poolByNode[node] != null;
    }

    public AllocationPolicy policy() {
        return policy;
    }

    public Topology topology() {
        return topology;
    }

    /** How often node was chosen. */
    public long chosen(int node) {
        return node >= 0 && node < chosen.length() ? chosen.get(node) : 0;
    }

    /** How often the policy's preferred node was unknown or had no pool. */
    public long fallbacks() {
        return fallbacks.get();
    }
}
