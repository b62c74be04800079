package io.vnicd.virtio.net;

import io.vnicd.virtio.queue.SplitQueue;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;

import static io.vnicd.virtio.net.VirtioNetFeatures.HEADER_NUM_BUFFERS;
import static io.vnicd.virtio.net.VirtioNetFeatures.HEADER_SIZE;

/**
 * The frame-level data path of one RX/TX queue pair: takes frames out of TX chains (skipping the 12-byte
 * virtio_net_hdr) and writes frames into RX chains behind a header, merging buffers when the driver allows it.
 * <p>
 * A frame that lies in one TX buffer goes to the sink straight from guest memory, unless a private copy is asked
 * for (frames are judged); one spread over several buffers is gathered into a staging buffer first. Nothing is
 * allocated per frame. Every frame that is not delivered is counted under a reason.
 */
public final class NetQueuePair {
    /** Largest frame accepted from a driver: an IP datagram of 64 KiB plus Ethernet and VLAN headers. */
    public static final int MAX_FRAME = 65535 + 18;
    private static final int ETH_HEADER = 14;
    /** Counters of one queue pair (scope {@code queue} in the daemon's counter registry). */
    public enum Counter implements CounterType {
        TX_FRAMES("Frames taken from the TX queue and passed on"),
        TX_BYTES("Bytes of those frames"),
        TX_RUNTS("TX frames shorter than an Ethernet header, dropped", true),
        RX_FRAMES("Frames written into the RX queue"),
        RX_BYTES("Bytes of those frames"),
        RX_NO_BUFFERS("Frames that found no (or not enough) RX buffers posted: held in the PF's backlog, waited for, or dropped"),
        RX_TOO_BIG("Frames dropped: larger than the RX chain (buffers not mergeable)", true),
        TX_WAITS("Times a TX frame waited in its queue because its destination's quota was full"),
        RX_NOT_READY("Frames for the device while none of its RX queues was up, dropped", true);

        private final String description;
        private final boolean drop;

        Counter(String description) {
            this(description, false);
        }

        Counter(String description, boolean drop) {
            this.description = description;
            this.drop = drop;
        }

        @Override
        public String description() {
            return description;
        }

        @Override
        public boolean isDrop() {
            return drop;
        }
    }

    private final CounterBlock counters;
    /** The chain at the head of the TX queue waits for its destination ({@link FrameSink#onFrame} said BUSY). */
    private boolean waiting;
    private int waitTicket;
    private long waitSince;
    private int waitLength;
    /** Where the waiting frame is kept (allocated the first time a frame waits). */
    private MemorySegment waitBuffer;
    private final MemorySegment staging = Arena.ofAuto().allocate(MAX_FRAME, 64);
    private boolean mergeable;
    private boolean privateCopy;
    /** Sink of {@link SplitQueue#touchAhead} results. */
    private long touched;

    /** A queue pair counting in its own block of the process's registry (tests, benchmarks). */
    public NetQueuePair() {
        this(CounterRegistry.process().register("queue", Map.of(), Counter.values()));
    }

    /** @param counters a block of {@link Counter#values()} */
    public NetQueuePair(CounterBlock counters) {
        this.counters = counters;
    }

    /** The block this pair counts in. */
    public CounterBlock counters() {
        return counters;
    }

    public void setMergeableRxBuffers(boolean on) {
        mergeable = on;
    }

    private void count(Counter c, long delta) {
        counters.add(c.ordinal(), delta);
    }

    /** A counter's current value, from any thread. */
    public long counter(Counter c) {
        return counters.get(c.ordinal());
    }

    /** True while the frame at the head of the TX queue waits for its destination: poll again soon. */
    public boolean isWaiting() {
        return waiting;
    }

    public long txFrames() {
        return counter(Counter.TX_FRAMES);
    }

    public long rxFrames() {
        return counter(Counter.RX_FRAMES);
    }

    /**
     * Takes up to budget frames from txq and hands each to sink. Returns how many chains it completed. The used
     * entries are published and the driver signalled once per call.
     * <p>
     * A frame whose destination cannot take it yet (the sink answers a wait ticket) stays at the head of the
     * queue, its chain not completed, so the guest's queue fills and its sender waits (US8392565); the frame is
     * kept here as it was judged and offered again by the next calls ({@link FrameSink#onRetry}) until the sink
     * takes it or gives up on it.
     */
    public int transmit(SplitQueue txq, FrameSink sink, int budget) {
        int done = 0;
        if (waiting) {
            int head = txq.popAvail();
            if (head < 0) {
                waiting = false;
                return 0;
            }
            int r = sink.onRetry(waitBuffer, 0, waitLength, waitTicket, System.nanoTime() - waitSince);
            if (FrameSink.isBusy(r)) {
                txq.unpop(1);
                waitTicket = r;
                return 0;
            }
            waiting = false;
            count(Counter.TX_FRAMES, 1);
            count(Counter.TX_BYTES, waitLength);
            txq.addUsed(head, 0);
            done = 1;
        }
        int n = Math.min(budget, txq.available() + done);
        if (n > 1) {
            touched += txq.touchAhead(n, true);
        }
        for (; done < n; done++) {
            int head = txq.popAvail();
            if (head < 0) {
                break;
            }
            int r = transmitChain(txq, head, sink);
            if (r == BROKEN) {
                break;
            }
            if (FrameSink.isBusy(r)) {
                txq.unpop(1);
                break;
            }
            txq.addUsed(head, 0);
        }
        if (done > 0) {
            txq.publishUsed();
            txq.notifyIfNeeded();
        }
        return done;
    }

    private static final int BROKEN = -1;

    /**
     * Hands the chain's frame to the sink: straight from guest memory when it lies in one buffer, else gathered
     * into the staging buffer. With a private copy (see {@link #setPrivateCopy}) every frame is copied first.
     * Returns the sink's answer, SENT for a runt, or {@link #BROKEN} when the chain was invalid (the queue is then
     * broken).
     */
    private int transmitChain(SplitQueue q, int head, FrameSink sink) {
        q.beginChain(head);
        int skip = HEADER_SIZE;
        int length = 0;
        MemorySegment first = null;
        long firstOff = 0;
        boolean staged = privateCopy;
        while (q.nextBuffer()) {
            if (q.bufferWritable()) {
                q.fail("device-writable buffer in a transmit chain");
                return BROKEN;
            }
            long off = q.bufferOffset();
            int len = q.bufferLength();
            if (skip > 0) {
                int s = Math.min(skip, len);
                skip -= s;
                off += s;
                len -= s;
            }
            if (len == 0) {
                continue;
            }
            if (len > MAX_FRAME - length) {
                q.fail("transmit chain carries a frame over " + MAX_FRAME + " bytes");
                return BROKEN;
            }
            if (!staged && first == null) {
                first = q.bufferSegment();
                firstOff = off;
            } else {
                if (!staged) {
                    copy(first, firstOff, staging, 0, length);
                    staged = true;
                }
                copy(q.bufferSegment(), off, staging, length, len);
            }
            length += len;
        }
        if (q.isBroken()) {
            return BROKEN;
        }
        if (length < ETH_HEADER) {
            count(Counter.TX_RUNTS, 1);
            return FrameSink.SENT;
        }
        MemorySegment seg = staged ? staging : first;
        long at = staged ? 0 : firstOff;
        int r = sink.onFrame(seg, at, length);
        if (FrameSink.isBusy(r)) {
            hold(seg, at, length, r);
        } else {
            count(Counter.TX_FRAMES, 1);
            count(Counter.TX_BYTES, length);
        }
        return r;
    }

    /** Keeps the frame that must wait, as it was judged: the guest may rewrite its buffer meanwhile. */
    private void hold(MemorySegment frame, long offset, int length, int ticket) {
        if (waitBuffer == null) {
            waitBuffer = Arena.ofAuto().allocate(MAX_FRAME, 64);
        }
        MemorySegment.copy(frame, offset, waitBuffer, 0, length);
        waitLength = length;
        waitTicket = ticket;
        waitSince = System.nanoTime();
        waiting = true;
        count(Counter.TX_WAITS, 1);
    }

    /** The queue stopped or was reset: a frame that waited is given up with it. */
    public void resetWait() {
        waiting = false;
    }

    /**
     * Copy every TX frame out of guest memory before the sink sees it (on while anything judges frames: rules,
     * containment, monitoring, spoofchk). The guest can rewrite its buffers at any moment, so what is judged
     * must be the very bytes that are delivered. Off, a frame in one buffer goes to the sink from guest memory
     * (one copy less), which only the switch's MAC lookup reads. Data-path thread.
     */
    public void setPrivateCopy(boolean on) {
        privateCopy = on;
    }

    /**
     * Writes one frame into rxq behind a virtio_net_hdr. The used entries become visible at
     * {@link #flushReceive}. Returns false (and counts why) when the frame was dropped.
     */
    public boolean receive(SplitQueue rxq, MemorySegment frame, long offset, int length) {
        return receive(rxq, frame, offset, length, true);
    }

    /** As {@link #receive(SplitQueue, MemorySegment, long, int)}; countNoBuffers false for a retry of a held frame. */
    public boolean receive(SplitQueue rxq, MemorySegment frame, long offset, int length, boolean countNoBuffers) {
        int need = length + HEADER_SIZE;
        int avail = rxq.available();
        if (avail == 0) {
            if (countNoBuffers) {
                count(Counter.RX_NO_BUFFERS, 1);
            }
            return false;
        }
        if (receiveIntoOneBuffer(rxq, frame, offset, length)) {
            return true;
        }
        if (rxq.isBroken()) {
            return false;
        }
        int written = 0;
        int chains = 0;
        MemorySegment numSeg = null;
        long numOff = 0;
        long numGpa = 0;
        boolean numWhole = true;
        while (written < need) {
            if (chains == avail && mergeable) {
                // The driver may have posted more since the index was last read.
                avail += rxq.available();
            }
            if (chains == avail || (!mergeable && chains == 1)) {
                rxq.rollbackUsed(chains);
                rxq.unpop(chains);
                if (!mergeable || countNoBuffers) {
                    count(mergeable ? Counter.RX_NO_BUFFERS : Counter.RX_TOO_BIG, 1);
                }
                return false;
            }
            int head = rxq.popAvail();
            if (head < 0) {
                rxq.rollbackUsed(chains);
                return false;
            }
            chains++;
            rxq.beginChain(head);
            int inChain = 0;
            while (written < need && rxq.nextBuffer()) {
                if (!rxq.bufferWritable()) {
                    rxq.fail("device-readable buffer in a receive chain");
                    return false;
                }
                MemorySegment dst = rxq.bufferSegment();
                long dOff = rxq.bufferOffset();
                int room = rxq.bufferLength();
                int before = written;
                while (room > 0 && written < need) {
                    int n;
                    if (written < HEADER_SIZE) {
                        // The header: zero (no offloads negotiated), num_buffers filled in at the end.
                        n = Math.min(room, HEADER_SIZE - written);
                        clearHeader(dst, dOff, n);
                        if (written <= HEADER_NUM_BUFFERS && HEADER_NUM_BUFFERS < written + n) {
                            numSeg = dst;
                            numOff = dOff + HEADER_NUM_BUFFERS - written;
                            numGpa = rxq.bufferGpa() + (numOff - rxq.bufferOffset());
                            numWhole = written + n - HEADER_NUM_BUFFERS >= 2;
                        }
                    } else {
                        n = Math.min(room, need - written);
                        MemorySegment.copy(frame, offset + written - HEADER_SIZE, dst, dOff, n);
                    }
                    written += n;
                    inChain += n;
                    dOff += n;
                    room -= n;
                }
                rxq.logBufferWrite(0, written - before);
            }
            if (rxq.isBroken()) {
                return false;
            }
            rxq.addUsed(head, inChain);
        }
        if (numSeg != null) {
            // num_buffers straddles two buffers only in a pathological layout: its high byte stays 0 then.
            if (numWhole) {
                numSeg.set(ValueLayout.JAVA_SHORT_UNALIGNED, numOff, (short) chains);
            } else {
                numSeg.set(ValueLayout.JAVA_BYTE, numOff, (byte) chains);
            }
            rxq.logWrite(numGpa, 2);
        }
        count(Counter.RX_FRAMES, 1);
        count(Counter.RX_BYTES, length);
        return true;
    }

    /**
     * The common case, kept small so that it compiles well: the next chain's first buffer holds header and
     * frame. Returns false, taking nothing, when it does not (the general path then handles the frame).
     */
    private boolean receiveIntoOneBuffer(SplitQueue rxq, MemorySegment frame, long offset, int length) {
        int head = rxq.popAvail();
        if (head < 0) {
            return false;
        }
        rxq.beginChain(head);
        if (!rxq.nextBuffer() || !rxq.bufferWritable() || rxq.bufferLength() < length + HEADER_SIZE) {
            rxq.unpop(1);
            return false;
        }
        MemorySegment dst = rxq.bufferSegment();
        long at = rxq.bufferOffset();
        // virtio_net_hdr: no offloads negotiated, so all zero but num_buffers = 1
        dst.set(ValueLayout.JAVA_LONG_UNALIGNED, at, 0L);
        dst.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, 1 << 16);
        copy(frame, offset, dst, at + HEADER_SIZE, length);
        rxq.logBufferWrite(0, length + HEADER_SIZE);
        rxq.addUsed(head, length + HEADER_SIZE);
        counters.increment(Counter.RX_FRAMES.ordinal());
        counters.add(Counter.RX_BYTES.ordinal(), length);
        return true;
    }

    /** Small frames are copied with 8-byte moves: cheaper than a bulk copy's fixed cost. */
    static void copy(MemorySegment src, long from, MemorySegment dst, long to, int n) {
        if (n > 256) {
            MemorySegment.copy(src, from, dst, to, n);
            return;
        }
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            dst.set(ValueLayout.JAVA_LONG_UNALIGNED, to + i, src.get(ValueLayout.JAVA_LONG_UNALIGNED, from + i));
        }
        for (; i < n; i++) {
            dst.set(ValueLayout.JAVA_BYTE, to + i, src.get(ValueLayout.JAVA_BYTE, from + i));
        }
    }

    private static void clearHeader(MemorySegment dst, long at, int n) {
        if (n == HEADER_SIZE) {
            dst.set(ValueLayout.JAVA_LONG_UNALIGNED, at, 0L);
            dst.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, 0);
            return;
        }
        for (int i = 0; i < n; i++) {
            dst.set(ValueLayout.JAVA_BYTE, at + i, (byte) 0);
        }
    }

    /** Reads ahead the RX descriptors frames will go to in this round (see {@link SplitQueue#touchAhead}). */
    public void prepareReceive(SplitQueue rxq) {
        if (rxq.available() > 1) {
            touched += rxq.touchAhead(32, false);
        }
    }

    /** Publishes the RX chains written since the last flush and signals the driver if it wants to know. */
    public void flushReceive(SplitQueue rxq) {
        rxq.publishUsed();
        rxq.notifyIfNeeded();
    }
}
