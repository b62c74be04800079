package io.vnicd.devmodel.proxy;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Both sides of a channel in one process over one region, and a peer that writes what the layout forbids. */
class FrameChannelTest {
    private static final int SLOTS = 8;
    private static final int SLOT = 2048;

    private static MemorySegment region(Arena arena) {
        return arena.allocate(ChannelLayout.byteSize(SLOTS, SLOT), 4096);
    }

    private static MemorySegment frame(Arena arena, int length, int seq) {
        MemorySegment f = arena.allocate(length);
        for (int i = 0; i < length; i++) {
            f.set(ValueLayout.JAVA_BYTE, i, (byte) (seq * 7 + i));
        }
        return f;
    }

    @Test
    void shouldCarryFramesBothWaysInOrderUntilTheRingIsFull() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = region(arena);
            FrameChannel a = FrameChannel.create(r, SLOTS, SLOT);
            FrameChannel b = FrameChannel.join(r);
            for (int i = 0; i < SLOTS; i++) {
                assertTrue(a.offer(frame(arena, 60 + i, i), 0, 60 + i, i));
            }
            assertFalse(a.offer(frame(arena, 60, 99), 0, 60, 0), "a full ring refuses");
            assertFalse(a.offer(frame(arena, SLOT, 1), 0, SLOT, 0), "a frame larger than a slot is refused");
            List<byte[]> got = new ArrayList<>();
            List<Integer> vlans = new ArrayList<>();
            assertEquals(3, b.poll((f, o, l, v) -> {
                got.add(f.asSlice(o, l).toArray(ValueLayout.JAVA_BYTE));
                vlans.add(v);
                return FrameChannel.Handler.TAKE;
            }, 3));
            assertEquals(3, b.poll((f, o, l, v) -> {
                if (got.size() == 6) {
                    return FrameChannel.Handler.KEEP;
                }
                got.add(f.asSlice(o, l).toArray(ValueLayout.JAVA_BYTE));
                return FrameChannel.Handler.TAKE;
            }, 64), "three more taken, the seventh left for later");
            assertEquals(1, b.poll((f, o, l, v) -> FrameChannel.Handler.TAKE_AND_STOP, 64), "one taken, then stop");
            for (int i = 0; i < 6; i++) {
                assertArrayEquals(frame(arena, 60 + i, i).toArray(ValueLayout.JAVA_BYTE), got.get(i));
            }
            assertEquals(List.of(0, 1, 2), vlans);
            assertTrue(a.offer(frame(arena, 80, 50), 0, 80, 0), "room again once consumed");
            assertTrue(b.offer(frame(arena, 70, 3), 0, 70, 5), "and the other way");
            assertEquals(1, a.poll((f, o, l, v) -> l == 70 && v == 5 ? FrameChannel.Handler.TAKE : FrameChannel.Handler.KEEP, 64));
        }
    }

    @Test
    void shouldAskToBeSignalledOnlyWhileTheConsumerSleeps() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = region(arena);
            FrameChannel a = FrameChannel.create(r, SLOTS, SLOT);
            FrameChannel b = FrameChannel.join(r);
            assertFalse(a.peerAsleep());
            assertTrue(b.prepareToSleep(), "nothing there: b may sleep");
            assertTrue(a.peerAsleep(), "a must signal b");
            a.offer(frame(arena, 60, 1), 0, 60, 0);
            b.wokeUp();
            assertFalse(a.peerAsleep());
            assertFalse(b.prepareToSleep(), "a frame waits: b must not sleep");
            assertFalse(a.peerAsleep());
        }
    }

    @Test
    void shouldBreakWithoutTouchingAnythingWhenThePeerLies() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = region(arena);
            FrameChannel a = FrameChannel.create(r, SLOTS, SLOT);
            FrameChannel b = FrameChannel.join(r);
            a.offer(frame(arena, 60, 1), 0, 60, 0);
            // the peer (a) claims a length beyond its slot
            long slot = ChannelLayout.ring(0, SLOTS, SLOT) + ChannelLayout.SLOTS;
            r.set(ValueLayout.JAVA_INT, slot, 1 << 20);
            assertEquals(0, b.poll((f, o, l, v) -> fail("no frame of a lying peer is handed on"), 64));
            assertTrue(b.isBroken());
            assertTrue(b.brokenReason().contains("1048576"), b.brokenReason());

            MemorySegment r2 = region(arena);
            FrameChannel c = FrameChannel.create(r2, SLOTS, SLOT);
            FrameChannel d = FrameChannel.join(r2);
            // the peer (c) claims to have produced far more than a ring holds
            r2.set(ValueLayout.JAVA_LONG, ChannelLayout.ring(0, SLOTS, SLOT) + ChannelLayout.PRODUCER, 1L << 40);
            assertEquals(0, d.poll((f, o, l, v) -> fail("nothing"), 64));
            assertTrue(d.isBroken());
            // the consumer side (d) claims to have consumed what c never produced
            r2.set(ValueLayout.JAVA_LONG, ChannelLayout.ring(0, SLOTS, SLOT) + ChannelLayout.CONSUMER, 5);
            assertFalse(c.offer(frame(arena, 60, 1), 0, 60, 0));
            assertTrue(c.isBroken(), c.brokenReason());

            MemorySegment r3 = arena.allocate(4096, 4096);
            r3.set(ValueLayout.JAVA_INT, ChannelLayout.MAGIC_OFFSET, ChannelLayout.MAGIC);
            r3.set(ValueLayout.JAVA_INT, ChannelLayout.VERSION_OFFSET, ChannelLayout.VERSION);
            r3.set(ValueLayout.JAVA_INT, ChannelLayout.SLOTS_OFFSET, 1024);
            r3.set(ValueLayout.JAVA_INT, ChannelLayout.SLOT_SIZE_OFFSET, 2048);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FrameChannel.join(r3));
            assertTrue(e.getMessage().contains("in a region of 4096"), e.getMessage());
        }
    }
}
