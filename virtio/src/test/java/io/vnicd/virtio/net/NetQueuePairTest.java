package io.vnicd.virtio.net;

import io.vnicd.virtio.memory.GuestMemory;
import io.vnicd.virtio.queue.SplitQueue;
import io.vnicd.virtio.testing.DriverQueue;
import io.vnicd.virtio.testing.TestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.vnicd.virtio.queue.SplitRingLayout.DESC_SIZE;
import static io.vnicd.virtio.queue.SplitRingLayout.F_NEXT;
import static org.junit.jupiter.api.Assertions.*;

/** Frames in and out of virtqueues, below vhost-user: the driver side is the test driver's rings. */
class NetQueuePairTest {
    private static final int SIZE = 256;
    private TestDriver driver;
    private GuestMemory memory;
    private DriverQueue txd;
    private DriverQueue rxd;
    private SplitQueue tx;
    private SplitQueue rx;
    private final NetQueuePair pair = new NetQueuePair();
    private final List<byte[]> sent = new ArrayList<>();
    private final FrameSink recorder = (frame, offset, length) -> {
        sent.add(frame.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
        return FrameSink.SENT;
    };

    @BeforeEach
    void setUp() throws Exception {
        driver = new TestDriver(8 << 20);
        memory = driver.guestMemory();
        txd = driver.queue(SIZE);
        rxd = driver.queue(SIZE);
        tx = new SplitQueue(1);
        rx = new SplitQueue(0);
        tx.configure(SIZE, txd.descUser(), txd.availUser(), txd.usedUser(), memory);
        rx.configure(SIZE, rxd.descUser(), rxd.availUser(), rxd.usedUser(), memory);
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    private static byte[] frame(int length, int seed) {
        byte[] f = new byte[length];
        for (int i = 0; i < length; i++) {
            f[i] = (byte) (seed * 31 + i);
        }
        return f;
    }

    /** Header + frame in one buffer, as DPDK and Linux send them. */
    private long txBuffer(byte[] f) {
        long gpa = driver.alloc(VirtioNetFeatures.HEADER_SIZE + f.length, 8);
        MemorySegment.copy(f, 0, driver.at(gpa + VirtioNetFeatures.HEADER_SIZE, f.length), ValueLayout.JAVA_BYTE, 0, f.length);
        return gpa;
    }

    @Test
    void shouldPassTransmittedFramesToTheSinkIntact() {
        byte[] a = frame(60, 1);
        byte[] b = frame(1514, 2);
        txd.addBuffer(txBuffer(a), 12 + a.length, false);
        // Header alone in the first buffer, the frame split over two more.
        long hdr = driver.alloc(12, 8);
        long first = txBuffer(Arrays.copyOfRange(b, 0, 700));
        long second = txBuffer(Arrays.copyOfRange(b, 700, b.length));
        txd.addChain(new long[] {hdr, first + 12, second + 12}, new int[] {12, 700, b.length - 700}, false);
        assertEquals(2, pair.transmit(tx, recorder, 64));
        assertEquals(2, sent.size());
        assertArrayEquals(a, sent.get(0));
        assertArrayEquals(b, sent.get(1));
        assertEquals(2, txd.pendingUsed(), "both chains returned to the driver");
        assertEquals(2, pair.txFrames());
    }

    @Test
    void shouldKeepAWaitingFrameInItsQueueAndOfferTheJudgedBytesAgain() {
        byte[] a = frame(100, 4);
        byte[] b = frame(80, 5);
        long bufA = txBuffer(a);
        txd.addBuffer(bufA, 12 + a.length, false);
        txd.addBuffer(txBuffer(b), 12 + b.length, false);
        int[] busyFor = {2};
        List<byte[]> retried = new ArrayList<>();
        FrameSink sink = new FrameSink() {
            @Override
            public int onFrame(MemorySegment frame, long offset, int length) {
                return recorder.onFrame(frame, offset, length) + (sent.size() == 1 ? 7 : 0);
            }

            @Override
            public int onRetry(MemorySegment frame, long offset, int length, int ticket, long waitedNanos) {
                assertEquals(busyFor[0] == 2 ? 7 : 8, ticket, "the ticket last answered comes back");
                assertTrue(waitedNanos >= 0);
                retried.add(frame.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
                return --busyFor[0] > 0 ? 8 : FrameSink.SENT;
            }
        };
        assertEquals(0, pair.transmit(tx, sink, 64), "the first frame's destination is busy: nothing completes");
        assertTrue(pair.isWaiting());
        assertEquals(0, txd.pendingUsed(), "the waiting chain stays with the device");
        // The guest rewrites the buffer while the frame waits: what was judged is what goes.
        driver.at(bufA + 12, a.length).fill((byte) 0x55);
        assertEquals(0, pair.transmit(tx, sink, 64));
        assertEquals(2, pair.transmit(tx, sink, 64), "taken on the second retry, then the next frame follows");
        assertFalse(pair.isWaiting());
        assertEquals(2, retried.size());
        assertArrayEquals(a, retried.get(1));
        assertArrayEquals(b, sent.get(1));
        assertEquals(2, txd.pendingUsed());
        assertEquals(2, pair.txFrames(), "a frame that waited counts once");
        assertEquals(1, pair.counter(NetQueuePair.Counter.TX_WAITS));
    }

    @Test
    void shouldTakeFramesThroughIndirectTables() {
        byte[] f = frame(300, 3);
        long buf = txBuffer(f);
        long table = driver.alloc(2 * DESC_SIZE, 16);
        MemorySegment t = driver.at(table, 2 * DESC_SIZE);
        DriverQueue.writeDescriptor(t, 0, buf, 12, F_NEXT, 1);
        DriverQueue.writeDescriptor(t, 1, buf + 12, f.length, 0, 0);
        txd.addIndirect(table, 2);
        assertEquals(1, pair.transmit(tx, recorder, 64));
        assertArrayEquals(f, sent.get(0));
    }

    @Test
    void shouldCountRuntsAndStillReturnTheirBuffers() {
        txd.addBuffer(txBuffer(new byte[6]), 18, false);
        assertEquals(1, pair.transmit(tx, recorder, 64));
        assertTrue(sent.isEmpty());
        assertEquals(1, pair.counter(NetQueuePair.Counter.TX_RUNTS));
        assertEquals(1, txd.pendingUsed());
    }

    @Test
    void shouldWriteAFrameBehindAHeaderSayingOneBuffer() {
        long buf = driver.alloc(2048, 8);
        int head = rxd.addBuffer(buf, 2048, true);
        byte[] f = frame(1000, 4);
        assertTrue(pair.receive(rx, MemorySegment.ofArray(f), 0, f.length));
        assertEquals(0, rxd.pendingUsed(), "visible only after the flush");
        pair.flushReceive(rx);
        assertEquals(((long) head << 32) | (12 + f.length), rxd.takeUsed());
        MemorySegment got = driver.at(buf, 12 + f.length);
        assertEquals(1, got.get(ValueLayout.JAVA_SHORT_UNALIGNED, 10), "num_buffers");
        assertArrayEquals(f, got.asSlice(12).toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void shouldMergeReceiveBuffersForALargeFrame() {
        pair.setMergeableRxBuffers(true);
        long[] bufs = new long[8];
        for (int i = 0; i < bufs.length; i++) {
            bufs[i] = driver.alloc(256, 8);
            rxd.addBuffer(bufs[i], 256, true);
        }
        byte[] f = frame(1000, 5);
        assertTrue(pair.receive(rx, MemorySegment.ofArray(f), 0, f.length));
        pair.flushReceive(rx);
        int chains = rxd.pendingUsed();
        assertEquals(4, chains, "1012 bytes in 256-byte buffers");
        byte[] joined = new byte[12 + f.length];
        int at = 0;
        for (int i = 0; i < chains; i++) {
            long e = rxd.takeUsed();
            int len = (int) e;
            MemorySegment.copy(driver.at(bufs[(int) (e >>> 32)], len), ValueLayout.JAVA_BYTE, 0, joined, at, len);
            at += len;
        }
        assertEquals(joined.length, at);
        assertEquals(4, joined[10], "num_buffers");
        assertArrayEquals(f, Arrays.copyOfRange(joined, 12, joined.length));
    }

    @Test
    void shouldCountAFrameWithoutEnoughBuffersAndKeepThoseBuffers() {
        pair.setMergeableRxBuffers(true);
        rxd.addBuffer(driver.alloc(256, 8), 256, true);
        byte[] f = frame(1000, 6);
        assertFalse(pair.receive(rx, MemorySegment.ofArray(f), 0, f.length));
        assertEquals(1, pair.counter(NetQueuePair.Counter.RX_NO_BUFFERS));
        assertEquals(1, rx.available(), "the buffer was given back, not consumed");
        assertTrue(pair.receive(rx, MemorySegment.ofArray(f), 0, 100), "a small frame still fits");
    }

    @Test
    void shouldCountFramesTooBigForUnmergedBuffers() {
        rxd.addBuffer(driver.alloc(256, 8), 256, true);
        byte[] f = frame(1000, 7);
        assertFalse(pair.receive(rx, MemorySegment.ofArray(f), 0, f.length));
        assertEquals(1, pair.counter(NetQueuePair.Counter.RX_TOO_BIG));
        assertFalse(pair.receive(new SplitQueue(4), MemorySegment.ofArray(f), 0, 10), "unconfigured queue");
    }

    @Test
    void shouldRefuseADeviceReadableReceiveBufferByStoppingTheQueue() {
        rxd.addBuffer(driver.alloc(256, 8), 256, false);
        assertFalse(pair.receive(rx, MemorySegment.ofArray(frame(60, 8)), 0, 60));
        assertTrue(rx.isBroken());
    }

    /**
     * The steady-state data path allocates nothing: a million frames transmitted from one queue, switched by a
     * sink straight into another queue's receive buffers, with used rings published and notifications checked.
     */
    @Test
    void shouldNotAllocatePerFrame() {
        pair.setMergeableRxBuffers(true);
        NetQueuePair peer = new NetQueuePair();
        peer.setMergeableRxBuffers(true);
        byte[] f = frame(64, 9);
        long txBuf = txBuffer(f);
        long rxBuf = driver.alloc(2048, 8);
        FrameSink sink = (frame, offset, length) -> {
            peer.receive(rx, frame, offset, length);
            return FrameSink.SENT;
        };
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        int frames = 0;
        long before = 0;
        for (int round = 0; round < 2; round++) {
            // Round 0 warms up (class loading, JIT); round 1 is measured.
            if (round == 1) {
                before = mx.getThreadAllocatedBytes(tid);
            }
            for (int i = 0; i < 1_000_000 / 32; i++) {
                for (int b = 0; b < 32; b++) {
                    txd.addBuffer(txBuf, 12 + f.length, false);
                    rxd.addBuffer(rxBuf, 2048, true);
                }
                frames += pair.transmit(tx, sink, 64);
                peer.flushReceive(rx);
                while (txd.takeUsed() != -1) {
                    // the driver reclaims its TX buffers
                }
                while (rxd.takeUsed() != -1) {
                    // and its RX buffers
                }
            }
        }
        long allocated = mx.getThreadAllocatedBytes(tid) - before;
        assertEquals(2 * 1_000_000 / 32 * 32, frames);
        assertEquals(frames, peer.rxFrames());
        assertTrue(allocated < 64 * 1024, "the data path allocated " + allocated + " bytes over a million frames");
    }
}
