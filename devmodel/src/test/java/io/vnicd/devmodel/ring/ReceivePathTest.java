package io.vnicd.devmodel.ring;

import io.vnicd.devmodel.pool.BufferPool;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pool, receive ring and software rings wired as the daemon wires them: a classifier thread takes a buffer
 * from the target's quota, writes a frame, offers the entry; a poller fans out by flow; consumers release.
 * Whatever is dropped on the way (quota, full rings) is counted, and every buffer comes back.
 */
class ReceivePathTest {
    @Test
    void shouldReturnEveryBufferWhetherAFrameIsDeliveredOrDropped() throws Exception {
        int frames = 300_000;
        int target = 3;
        try (BufferPool pool = BufferPool.create("receive-path", 2048, 256, 8)) {
            pool.setQuota(target, 128L * 2048);
            MemorySegment memory = pool.memory();
            AtomicLong releasedOnDrop = new AtomicLong();
            FlowHash byFrame = entry -> FlowHash.ofFrame(memory, pool.offset((int) RingEntry.bufferIndex(entry)), RingEntry.length(entry));
            EntryHandler releaseDropped = entry -> {
                pool.release((int) RingEntry.bufferIndex(entry));
                releasedOnDrop.incrementAndGet();
            };
            ReceiveRing vf = new ReceiveRing("vf3", ReceiveRing.Purpose.VF, 64, 2, 32, byFrame, releaseDropped);

            CompletableFuture<long[]> classifier = CompletableFuture.supplyAsync(() -> {
                long quotaDrops = 0;
                long hardwareDrops = 0;
                for (int i = 0; i < frames; i++) {
                    int index = pool.acquire(target, 0);
                    if (index < 0) {
                        quotaDrops++;
                        continue;
                    }
                    writeUdpFrame(memory, pool.offset(index), i % 16);
                    if (!vf.offer(RingEntry.pack(index, 60, target))) {
                        pool.release(index);
                        hardwareDrops++;
                    }
                }
                return new long[] {quotaDrops, hardwareDrops};
            });
            long delivered = 0;
            EntryHandler consume = entry -> pool.release((int) RingEntry.bufferIndex(entry));
            while (!classifier.isDone() || vf.hardwareRing().size() > 0) {
                vf.fanOut(16);
                for (int r = 0; r < vf.softwareRingCount(); r++) {
                    delivered += vf.softwareRing(r).drain(consume, 8);
                }
            }
            for (int r = 0; r < vf.softwareRingCount(); r++) {
                delivered += vf.softwareRing(r).drain(consume, Integer.MAX_VALUE);
            }
            long[] drops = classifier.get(60, TimeUnit.SECONDS);
            assertEquals(frames, delivered + drops[0] + drops[1] + releasedOnDrop.get(), "every frame delivered or dropped");
            assertEquals(drops[0], pool.drops(target), "quota drops counted by the pool");
            assertEquals(drops[1], vf.hardwareRing().fullDrops(), "hardware ring drops counted by the ring");
            assertEquals(releasedOnDrop.get(), vf.softwareRing(0).fullDrops() + vf.softwareRing(1).fullDrops());
            assertEquals(0, pool.buffersHeld(), "every buffer came back");
            assertEquals(0, pool.bytesInUse(target));
            assertTrue(vf.softwareRing(0).enqueued() > 0 && vf.softwareRing(1).enqueued() > 0, "16 flows spread over both rings");
        }
    }

    /** A minimal UDP/IPv4 frame whose source port is the flow number. */
    private static void writeUdpFrame(MemorySegment memory, long offset, int flow) {
        memory.asSlice(offset, 60).fill((byte) 0);
        memory.set(FlowHash.NET_SHORT, offset + 12, (short) 0x0800);
        memory.set(java.lang.foreign.ValueLayout.JAVA_BYTE, offset + 14, (byte) 0x45);
        memory.set(java.lang.foreign.ValueLayout.JAVA_BYTE, offset + 23, (byte) 17);
        memory.set(FlowHash.NET_INT, offset + 26, 0x0a000001);
        memory.set(FlowHash.NET_INT, offset + 30, 0x0a000002);
        memory.set(FlowHash.NET_SHORT, offset + 34, (short) (10000 + flow));
        memory.set(FlowHash.NET_SHORT, offset + 36, (short) 4789);
    }
}
