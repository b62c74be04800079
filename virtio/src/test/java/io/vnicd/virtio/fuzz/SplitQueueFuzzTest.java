package io.vnicd.virtio.fuzz;

import static io.vnicd.virtio.queue.SplitRingLayout.DESC_SIZE;
import static io.vnicd.virtio.queue.SplitRingLayout.MAX_SIZE;
import static io.vnicd.virtio.queue.SplitRingLayout.availBytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.virtio.memory.GuestMemory;
import io.vnicd.virtio.net.NetQueuePair;
import io.vnicd.virtio.queue.InvalidQueueException;
import io.vnicd.virtio.queue.SplitQueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing (Jazzer) of the split-ring walk over guest memory the fuzzer owns: descriptor table,
 * available ring, indices, indirect tables and buffers are the fuzzer's bytes, in a guest memory of two regions
 * (so that ranges can straddle or miss them). The chains are walked directly, through the TX path and through the
 * RX path (mergeable or not) of {@link NetQueuePair}, and the memory table may change under the running queue.
 *
 * <p>Invariants: nothing throws (a bad ring only breaks the queue, counted); every buffer handed out lies inside
 * its region's mapping; a chain ends within its TTL (no endless walk). Memory, eventfd and queue pair are made
 * once and reused, so an execution costs microseconds.
 */
class SplitQueueFuzzTest {
    private static final long REGION = 32 * 1024;
    /** Region 0 at guest physical 0, region 1 right after a hole: small numbers the fuzzer finds easily. */
    private static final long GPA1 = 0x10000;
    private static final long UVA0 = 0x100000;
    private static final long UVA1 = 0x110000;
    private static final long DESC = 0x0;
    private static final long AVAIL = 0x1000;
    private static final long USED = 0x2000;
    private static final long DATA = 0x3000;
    private static final int MAX_QUEUE = 64;

    private static final SharedMemory SHARED = create();
    private static final MemorySegment ALL = SHARED.segment();
    private static final GuestMemory TWO_REGIONS = new GuestMemory(List.of(
            new GuestMemory.Region(0, REGION, UVA0, ALL.asSlice(0, REGION)),
            new GuestMemory.Region(GPA1, REGION, UVA1, ALL.asSlice(REGION, REGION))), () -> { });
    /** What a later SET_MEM_TABLE may leave: only the second region. */
    private static final GuestMemory SECOND_ONLY = new GuestMemory(List.of(
            new GuestMemory.Region(GPA1, REGION, UVA1, ALL.asSlice(REGION, REGION))), () -> { });
    private static final EventFd CALL = eventFd();
    private static final NetQueuePair PAIR = new NetQueuePair();
    private static final byte[] FRAME = new byte[NetQueuePair.MAX_FRAME];
    private static final MemorySegment FRAME_SEGMENT = MemorySegment.ofArray(FRAME);

    private static SharedMemory create() {
        try {
            return SharedMemory.create("vnicd-fuzz-ring", 2 * REGION);
        } catch (NativeException e) {
            throw new IllegalStateException(e);
        }
    }

    private static EventFd eventFd() {
        try {
            return EventFd.create();
        } catch (NativeException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void release() {
        CALL.close();
        SHARED.close();
    }

    @FuzzTest(maxDuration = "30s")
    void walkRingsTheGuestWrote(FuzzedDataProvider data) throws NativeException {
        ALL.fill((byte) 0);
        int size = 1 << data.consumeInt(0, Integer.numberOfTrailingZeros(MAX_QUEUE));
        // The guest's writes: descriptor table, available ring (flags, idx, ring, used_event), then free data
        // that indirect tables and buffers may point into (in either region).
        write(DESC, data.consumeBytes(DESC_SIZE * size));
        write(AVAIL, data.consumeBytes((int) availBytes(size)));
        write(DATA, data.consumeBytes(1024));
        write(GPA1 + DATA, data.consumeBytes(1024));
        long descUser = UVA0 + DESC;
        long availUser = UVA0 + AVAIL;
        long usedUser = UVA0 + USED;
        if (data.consumeBoolean()) {
            // A frontend's own choice of areas, checked by configure.
            descUser = data.consumeLong();
            availUser = data.consumeLong();
            usedUser = data.consumeLong();
        }
        SplitQueue q = new SplitQueue(0);
        try {
            q.configure(size, descUser, availUser, usedUser, TWO_REGIONS);
        } catch (InvalidQueueException refused) {
            return;
        }
        q.setNextAvail(data.consumeInt(0, 0xffff));
        q.setEventIdx(data.consumeBoolean());
        q.setCallFd(CALL);
        PAIR.setMergeableRxBuffers(data.consumeBoolean());
        int rounds = data.consumeInt(1, 4);
        for (int round = 0; round < rounds && !q.isBroken(); round++) {
            switch (data.consumeInt(0, 4)) {
                case 0 -> walk(q, size);
                case 1 -> PAIR.transmit(q, SplitQueueFuzzTest::checkFrame, data.consumeInt(1, 2 * size));
                case 2 -> {
                    int length = data.consumeInt(0, NetQueuePair.MAX_FRAME);
                    PAIR.prepareReceive(q);
                    PAIR.receive(q, FRAME_SEGMENT, 0, length, data.consumeBoolean());
                    PAIR.flushReceive(q);
                }
                case 3 -> q.setMemory(data.consumeBoolean() ? SECOND_ONLY : TWO_REGIONS);
                default -> {
                    q.enableNotifications();
                    q.disableNotifications();
                    q.notifyIfNeeded();
                }
            }
        }
        assertTrue(!q.isBroken() || !q.brokenReason().isEmpty(), "a broken queue says why");
        assertTrue(!q.isBroken() || q.errors() > 0, "a broken queue counts the error");
        CALL.drain();
    }

    /** Walks every available chain as a device would, touching each buffer's ends and completing the chain. */
    private static void walk(SplitQueue q, int size) {
        int chains = 0;
        while (q.available() > 0) {
            assertTrue(++chains <= size, "more chains than the queue holds");
            int head = q.popAvail();
            if (head < 0) {
                break;
            }
            q.beginChain(head);
            int buffers = 0;
            int written = 0;
            while (q.nextBuffer()) {
                // A direct chain visits at most size descriptors, then at most one indirect table of MAX_SIZE.
                assertTrue(++buffers <= size + MAX_SIZE, "chain walk does not end");
                MemorySegment s = q.bufferSegment();
                long off = q.bufferOffset();
                int len = q.bufferLength();
                assertTrue(len >= 0 && off >= 0 && off + len <= s.byteSize(),
                        () -> "buffer [" + off + ", +" + len + ") outside its mapping of " + s.byteSize());
                if (len > 0) {
                    byte first = s.get(ValueLayout.JAVA_BYTE, off);
                    if (q.bufferWritable()) {
                        s.set(ValueLayout.JAVA_BYTE, off + len - 1, first);
                        written += len;
                    }
                }
            }
            if (q.isBroken()) {
                assertEquals(false, q.isReady());
                return;
            }
            q.addUsed(head, written);
        }
        q.publishUsed();
        q.notifyIfNeeded();
    }

    private static int checkFrame(MemorySegment frame, long offset, int length) {
        assertTrue(length >= 14 && length <= NetQueuePair.MAX_FRAME, () -> "frame of " + length + " bytes");
        assertTrue(offset >= 0 && offset + length <= frame.byteSize(), () -> "frame outside its segment");
        frame.get(ValueLayout.JAVA_BYTE, offset + length - 1);
        return io.vnicd.virtio.net.FrameSink.SENT;
    }

    private static void write(long gpa, byte[] bytes) {
        long base = gpa >= GPA1 ? REGION + gpa - GPA1 : gpa;
        MemorySegment.copy(bytes, 0, ALL, ValueLayout.JAVA_BYTE, base, bytes.length);
    }
}
