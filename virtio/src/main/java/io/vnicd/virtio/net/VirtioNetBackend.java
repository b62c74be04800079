package io.vnicd.virtio.net;

import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.nativeio.EventFd;
import io.vnicd.virtio.datapath.DataPathAgent;
import io.vnicd.devmodel.port.Pollable;
import io.vnicd.devmodel.packet.Announcements;
import io.vnicd.virtio.memory.DirtyLog;
import io.vnicd.virtio.memory.GuestMemory;
import io.vnicd.virtio.queue.InvalidQueueException;
import io.vnicd.virtio.queue.SplitQueue;
import io.vnicd.virtio.vhostuser.ProtocolFeatures;
import io.vnicd.virtio.vhostuser.VhostUserBackend;
import io.vnicd.virtio.vhostuser.VhostUserException;
import io.vnicd.virtio.vhostuser.VringConfig;

import java.lang.foreign.MemorySegment;
import java.util.Map;

import static io.vnicd.virtio.vhostuser.ProtocolFeatures.bit;

/**
 * A virtio-net device served over vhost-user: the session's requests become commands on the data-path
 * thread, which then polls this device's TX queues (frames go to the {@link FrameSink}) and fills its RX
 * queues from {@link #receive}. All queue state is touched by the data-path thread only.
 */
public final class VirtioNetBackend implements VhostUserBackend, Pollable {
    /** Chains taken from one TX queue per round: bounds latency for the other queues and devices. */
    private static final int TX_BURST = 64;

    private final String name;
    private final DataPathAgent agent;
    private final int pairs;
    private final SplitQueue[] queues;
    private final NetQueuePair[] paths;
    private final boolean[] started;
    private final boolean[] enabled;
    private final EventFd[] kicks;
    private final boolean[] rxPending;
    private FrameSink sink;
    private GuestMemory memory = GuestMemory.empty();
    private boolean eventIdx;
    /** A live migration's dirty log (null: none), and whether VHOST_F_LOG_ALL is acked. Data-path thread. */
    private DirtyLog log;
    private boolean logging;
    private final long[] logAddr;
    private final MemorySegment announcement = java.lang.foreign.Arena.ofAuto().allocate(Announcements.LENGTH, 8);
    private static final System.Logger LOG = System.getLogger(VirtioNetBackend.class.getName());
    private volatile long acked;
    private volatile boolean rxReady;
    /** The TX rate limit (null: none), and whether the last poll left the TX queues for lack of tokens. */
    private TxShaper shaper;
    private boolean throttled;
    private volatile long txRate;

    /**
     * @param pairs queue pairs offered (1 to 8); more than one offers VIRTIO_NET_F_MQ
     * @param sink  where transmitted frames go (called on the data-path thread)
     */
    public VirtioNetBackend(String name, DataPathAgent agent, int pairs, FrameSink sink) {
        this(name, agent, pairs, sink, Map.of("vf", name));
    }

    /**
     * @param labels what the device's queue counters are labelled with in the daemon's registry (each pair adds
     *               {@code queue=N})
     */
    public VirtioNetBackend(String name, DataPathAgent agent, int pairs, FrameSink sink, Map<String, String> labels) {
        this.name = name;
        this.agent = agent;
        this.pairs = pairs;
        this.sink = sink;
        this.queues = new SplitQueue[2 * pairs];
        this.started = new boolean[2 * pairs];
        this.enabled = new boolean[2 * pairs];
        this.kicks = new EventFd[2 * pairs];
        this.rxPending = new boolean[pairs];
        this.logAddr = new long[2 * pairs];
        java.util.Arrays.fill(logAddr, -1);
        this.paths = new NetQueuePair[pairs];
        for (int i = 0; i < queues.length; i++) {
            queues[i] = new SplitQueue(i);
            queues[i].setNotifier(agent::signalPeer);
        }
        for (int p = 0; p < pairs; p++) {
            Map<String, String> l = new java.util.LinkedHashMap<>(labels);
            l.put("queue", Integer.toString(p));
            paths[p] = new NetQueuePair(CounterRegistry.process().register("queue", l, NetQueuePair.Counter.values()));
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long features() {
        long f = VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1) | VirtioNetFeatures.bit(VirtioNetFeatures.MRG_RXBUF)
                | VirtioNetFeatures.bit(VirtioNetFeatures.EVENT_IDX) | VirtioNetFeatures.bit(VirtioNetFeatures.INDIRECT_DESC)
                | VirtioNetFeatures.bit(VirtioNetFeatures.STATUS) | VirtioNetFeatures.bit(VirtioNetFeatures.LOG_ALL)
                | VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_ANNOUNCE);
        return pairs > 1 ? f | VirtioNetFeatures.bit(VirtioNetFeatures.MQ) : f;
    }

    @Override
    public long protocolFeatures() {
        return bit(ProtocolFeatures.MQ) | bit(ProtocolFeatures.REPLY_ACK) | bit(ProtocolFeatures.BACKEND_REQ)
                | bit(ProtocolFeatures.STATUS) | bit(ProtocolFeatures.LOG_SHMFD) | bit(ProtocolFeatures.RARP)
                | bit(ProtocolFeatures.CONFIGURE_MEM_SLOTS);
    }

    @Override
    public int maxQueuePairs() {
        return pairs;
    }

    @Override
    public int queueCount() {
        return queues.length;
    }

    @Override
    public void setFeatures(long features) throws VhostUserException {
        if ((features & VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1)) == 0) {
            // Legacy (pre-1.0) layouts are not implemented: refuse clearly rather than mis-read headers.
            throw new VhostUserException("VIRTIO_F_VERSION_1 was not acknowledged; vnicd serves virtio 1.0+ drivers only");
        }
        boolean idx = (features & VirtioNetFeatures.bit(VirtioNetFeatures.EVENT_IDX)) != 0;
        boolean mrg = (features & VirtioNetFeatures.bit(VirtioNetFeatures.MRG_RXBUF)) != 0;
        boolean logAll = (features & VirtioNetFeatures.bit(VirtioNetFeatures.LOG_ALL)) != 0;
        acked = features;
        agent.execute(() -> {
            eventIdx = idx;
            for (SplitQueue q : queues) {
                q.setEventIdx(idx);
            }
            for (NetQueuePair p : paths) {
                p.setMergeableRxBuffers(mrg);
            }
            logging = logAll;
            applyLog();
        });
    }

    @Override
    public void setMemory(GuestMemory newMemory) throws VhostUserException {
        GuestMemory[] old = new GuestMemory[1];
        agent.execute(() -> {
            old[0] = memory;
            memory = newMemory;
            for (int i = 0; i < queues.length; i++) {
                if (started[i]) {
                    queues[i].setMemory(newMemory);
                }
            }
        });
        // The data path switched to the new table: nothing reads the old mappings any more.
        old[0].close();
    }

    /** Data path: every started queue logs dirty pages while logging is on and a log is set, and stops otherwise. */
    private void applyLog() {
        for (int i = 0; i < queues.length; i++) {
            if (started[i]) {
                queues[i].setLog(logging ? log : null, logAddr[i]);
            }
        }
    }

    @Override
    public void setLogBase(DirtyLog newLog) {
        DirtyLog[] old = new DirtyLog[1];
        agent.execute(() -> {
            old[0] = log;
            log = newLog;
            applyLog();
        });
        if (old[0] != null && old[0] != newLog) {
            old[0].close();
        }
    }

    /**
     * Announces mac after a migration (SEND_RARP): a RARP from it enters the PF as this VF's frame, so the switch
     * learns where the guest now is and floods the news to every port, the wire's included.
     */
    @Override
    public void sendRarp(long mac) {
        agent.execute(() -> {
            Announcements.rarp(announcement, mac);
            sink.onFrame(announcement, 0, Announcements.LENGTH);
        });
    }

    /** The dirty log's marks that fell beyond it (a log too small for guest memory), for status. */
    public long logBeyond() {
        DirtyLog l = log;
        return l == null ? 0 : l.beyond();
    }

    /** One region of guest memory as the device sees it, and how many RX chains the driver posted in it. */
    public record MemoryRegion(long guestPhysAddr, long size, int rxChains) {
    }

    /** The guest memory table in force, region by region in address order, with the RX chains posted in each. */
    public java.util.List<MemoryRegion> memoryRegions() {
        java.util.List<MemoryRegion> out = new java.util.ArrayList<>();
        agent.execute(() -> {
            int[] chains = new int[memory.regionCount()];
            for (int i = 0; i < queues.length; i += 2) {
                if (started[i]) {
                    int[] c = queues[i].availableByRegion();
                    for (int r = 0; r < Math.min(c.length, chains.length); r++) {
                        chains[r] += c[r];
                    }
                }
            }
            for (int r = 0; r < memory.regionCount(); r++) {
                out.add(new MemoryRegion(memory.regionStart(r), memory.regionSize(r), chains[r]));
            }
        });
        return out;
    }

    /** True while the device logs the pages it writes (a migration is under way). */
    public boolean isLogging() {
        return logging && log != null;
    }

    @Override
    public void startQueue(VringConfig c) throws VhostUserException {
        InvalidQueueException[] failed = new InvalidQueueException[1];
        agent.execute(() -> {
            SplitQueue q = queues[c.index()];
            try {
                q.configure(c.size(), c.descAddr(), c.availAddr(), c.usedAddr(), memory);
            } catch (InvalidQueueException e) {
                failed[0] = e;
                return;
            }
            q.setNextAvail(c.base());
            int inMemory = q.usedIndexInMemory();
            if (inMemory != c.base()) {
                LOG.log(System.Logger.Level.WARNING, "queue " + c.index()
                        + " starts at " + c.base() + " but its used index in memory is " + inMemory);
            }
            q.setEventIdx(eventIdx);
            q.setCallFd(c.call());
            logAddr[c.index()] = c.logGuestAddr();
            q.setLog(logging ? log : null, c.logGuestAddr());
            // The thread is polling now: drivers need not kick until it prepares to sleep.
            q.disableNotifications();
            started[c.index()] = true;
            if (c.kick() != null) {
                kicks[c.index()] = c.kick();
                agent.watch(c.kick());
            }
            updateRxReady();
        });
        if (failed[0] != null) {
            throw new VhostUserException("queue " + c.index() + ": " + failed[0].getMessage(), failed[0]);
        }
    }

    @Override
    public int stopQueue(int index) {
        int[] base = new int[1];
        agent.execute(() -> {
            base[0] = stop(index);
            updateRxReady();
        });
        return base[0];
    }

    private int stop(int index) {
        SplitQueue q = queues[index];
        if (!started[index]) {
            return q.nextAvail();
        }
        if (index % 2 == 0 && rxPending[index / 2]) {
            paths[index / 2].flushReceive(q);
            rxPending[index / 2] = false;
        }
        started[index] = false;
        if (index % 2 == 1) {
            paths[index / 2].resetWait();
        }
        if (kicks[index] != null) {
            agent.unwatch(kicks[index]);
            kicks[index] = null;
        }
        int base = q.nextAvail();
        q.reset();
        return base;
    }

    @Override
    public void enableQueue(int index, boolean enable) {
        agent.execute(() -> {
            enabled[index] = enable;
            updateRxReady();
        });
    }

    @Override
    public void setCall(int index, EventFd call) {
        agent.execute(() -> queues[index].setCallFd(call));
    }

    @Override
    public void reset() {
        GuestMemory[] old = new GuestMemory[1];
        DirtyLog[] oldLog = new DirtyLog[1];
        agent.execute(() -> {
            for (int i = 0; i < queues.length; i++) {
                stop(i);
                enabled[i] = false;
            }
            old[0] = memory;
            memory = GuestMemory.empty();
            updateRxReady();
            oldLog[0] = log;
            log = null;
            logging = false;
        });
        acked = 0;
        old[0].close();
        if (oldLog[0] != null) {
            oldLog[0].close();
        }
    }

    private void updateRxReady() {
        boolean ready = false;
        for (int p = 0; p < pairs; p++) {
            ready |= started[2 * p] && enabled[2 * p];
        }
        rxReady = ready;
    }

    /** True when the driver has an RX queue up: frames for this device can be delivered. */
    public boolean isLinkReady() {
        return rxReady;
    }

    /** The virtio features the frontend acknowledged (0 while none are). */
    public long negotiatedFeatures() {
        return acked;
    }

    /**
     * Delivers a frame to the driver (data-path thread only). Returns false when it was dropped — no RX queue
     * up, or no buffers posted — and counts why.
     */
    public boolean receive(MemorySegment frame, long offset, int length) {
        return receiveOn(pairs == 1 ? 0 : rxPair(frame, offset, length), frame, offset, length, true);
    }

    /**
     * Delivers a frame held back earlier (the PF's RX backlog) to the first RX queue: returns false, without
     * counting a drop, while the driver still has no buffers.
     */
    public boolean receiveHeld(MemorySegment frame, long offset, int length) {
        return receiveOn(0, frame, offset, length, false);
    }

    /** counted: a failure is a drop to count (false when the caller keeps the frame to try again). */
    private boolean receiveOn(int pair, MemorySegment frame, long offset, int length, boolean counted) {
        int rx = 2 * pair;
        if (!started[rx] || !enabled[rx] || queues[rx].isBroken()) {
            if (counted) {
                paths[0].counters().increment(NetQueuePair.Counter.RX_NOT_READY.ordinal());
            }
            return false;
        }
        boolean ok;
        try {
            ok = paths[pair].receive(queues[rx], frame, offset, length, counted);
        } catch (InternalError e) {
            // A fault in this device's guest memory (its frontend shrank the file under the mapping; the JVM turns
            // the SIGBUS into this error): this device stops, not the one whose frame it was.
            failed(e);
            return false;
        }
        rxPending[pair] |= ok;
        return ok;
    }

    /**
     * Frames are waiting for RX buffers: asks the driver to kick when it posts some. Returns true when buffers
     * are there already (the caller must not sleep).
     */
    public boolean armReceiveKick() {
        return started[0] && enabled[0] && queues[0].enableNotifications();
    }

    /** Picks the RX queue pair by a hash of the frame's addresses, among the pairs the driver enabled. */
    private int rxPair(MemorySegment frame, long offset, int length) {
        int h = 0;
        int n = Math.min(length, 34);
        for (int i = 0; i < n; i += 4) {
            h = 31 * h + (i + 4 <= n ? frame.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, offset + i) : 0);
        }
        h ^= h >>> 16;
        for (int tries = 0; tries < pairs; tries++) {
            int p = Math.floorMod(h + tries, pairs);
            if (started[2 * p] && enabled[2 * p]) {
                return p;
            }
        }
        return 0;
    }

    /** See {@link NetQueuePair#setPrivateCopy}: on while the PF judges this VF's frames. Any thread. */
    public void setPrivateTransmitCopy(boolean on) {
        agent.execute(() -> {
            for (NetQueuePair p : paths) {
                p.setPrivateCopy(on);
            }
        });
    }

    public void setSink(FrameSink sink) {
        agent.execute(() -> this.sink = sink);
    }

    @Override
    public void beforePoll() {
        for (int p = 0; p < pairs; p++) {
            if (started[2 * p] && enabled[2 * p]) {
                paths[p].prepareReceive(queues[2 * p]);
            }
        }
    }

    @Override
    public int poll() {
        TxShaper shaper = this.shaper;
        long sentBefore = 0;
        if (shaper != null) {
            if (!shaper.admit(System.nanoTime())) {
                throttled = true;
                return 0;
            }
            throttled = false;
            for (int p = 0; p < pairs; p++) {
                sentBefore += paths[p].counter(NetQueuePair.Counter.TX_BYTES);
            }
        }
        int work = 0;
        for (int p = 0; p < pairs; p++) {
            int tx = 2 * p + 1;
            if (started[tx] && enabled[tx]) {
                work += paths[p].transmit(queues[tx], sink, TX_BURST);
            }
        }
        if (shaper != null && work > 0) {
            long sent = 0;
            for (int p = 0; p < pairs; p++) {
                sent += paths[p].counter(NetQueuePair.Counter.TX_BYTES);
            }
            shaper.consume(sent - sentBefore);
        }
        return work;
    }

    /**
     * Shapes what the VF transmits to bitsPerSecond (0: no limit), from now on. Data-path thread (post it with
     * {@link DataPathAgent#execute}).
     */
    public void setTxRate(long bitsPerSecond) {
        shaper = bitsPerSecond == 0 ? null : new TxShaper(bitsPerSecond, System.nanoTime());
        throttled = false;
        txRate = bitsPerSecond;
    }

    /** The TX rate limit in bits per second, 0 for none. Any thread. */
    public long txRate() {
        return txRate;
    }

    @Override
    public void flush() {
        for (int p = 0; p < pairs; p++) {
            if (rxPending[p]) {
                rxPending[p] = false;
                paths[p].flushReceive(queues[2 * p]);
            }
        }
    }

    @Override
    public boolean prepareToSleep() {
        if (throttled) {
            // frames wait in the guest's TX ring for tokens: no kick will come for them, keep polling
            return false;
        }
        boolean quiet = true;
        for (int p = 0; p < pairs; p++) {
            int tx = 2 * p + 1;
            if (paths[p].isWaiting()) {
                // a frame waits for its destination's quota: keep polling (the wait is bounded)
                quiet = false;
            }
            if (started[tx] && enabled[tx] && queues[tx].enableNotifications()) {
                quiet = false;
            }
        }
        return quiet;
    }

    @Override
    public void wokeUp() {
        for (int p = 0; p < pairs; p++) {
            int tx = 2 * p + 1;
            if (started[tx]) {
                queues[tx].disableNotifications();
            }
            if (started[2 * p]) {
                queues[2 * p].disableNotifications();
            }
        }
    }

    /**
     * The data path caught a failure in this device (see {@link Pollable#failed}): every running queue is marked
     * broken, so that the device does nothing more and reports NEEDS_RESET until its frontend resets it or
     * reconnects.
     */
    @Override
    public void failed(Throwable cause) {
        String reason = "data path failure: " + cause;
        for (int i = 0; i < queues.length; i++) {
            if (started[i]) {
                queues[i].fail(reason);
            }
        }
    }

    @Override
    public String toString() {
        return "VF " + name;
    }

    /** Gives the queue pairs' counters back to the registry (the VF is gone). */
    public void close() {
        for (NetQueuePair p : paths) {
            p.counters().close();
        }
    }

    /** Frames that found no RX queue up. */
    public long rxNotReady() {
        return paths[0].counter(NetQueuePair.Counter.RX_NOT_READY);
    }

    /** Per queue pair data-path counters (read from any thread). */
    public NetQueuePair queuePair(int pair) {
        return paths[pair];
    }

    public int queuePairs() {
        return pairs;
    }

    /** Errors counted by the queues (broken chains), summed. */
    public long queueErrors() {
        long n = 0;
        for (SplitQueue q : queues) {
            n += q.errors();
        }
        return n;
    }

    @Override
    public boolean needsReset() {
        for (SplitQueue q : queues) {
            if (q.isBroken()) {
                return true;
            }
        }
        return false;
    }

    /** A human-readable reason for each broken queue, or empty. */
    public String brokenQueues() {
        StringBuilder b = new StringBuilder();
        for (SplitQueue q : queues) {
            if (q.isBroken()) {
                b.append("queue ").append(q.index()).append(": ").append(q.brokenReason()).append("; ");
            }
        }
        return b.toString();
    }

}
