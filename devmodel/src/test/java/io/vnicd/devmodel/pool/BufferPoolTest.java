package io.vnicd.devmodel.pool;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BufferPoolTest {
    private static final int SIZE = 2048;

    @Test
    void shouldGrantWithinQuotaAndCountADropAfterTheWaitOverQuota() throws Exception {
        try (BufferPool pool = BufferPool.create("quota", SIZE, 16, 4)) {
            pool.setQuota(1, 2 * SIZE);
            int a = pool.acquire(1, 0);
            int b = pool.acquire(1, 0);
            assertTrue(a >= 0 && b >= 0 && a != b);
            assertEquals(-1, pool.acquire(1, 1_000_000), "third buffer is over quota: wait 1 ms, then drop");
            BufferPool.TargetCounters counters = pool.counters(1);
            assertEquals(2L * SIZE, counters.bytesInUse());
            assertEquals(2L * SIZE, counters.peakBytes());
            assertEquals(2, counters.grants());
            assertEquals(1, counters.waits());
            assertEquals(1, counters.drops());
            assertTrue(counters.waitNanos() > 0);
            assertEquals(-1, pool.acquire(0, 0), "a target without quota gets nothing");
            pool.release(a);
            pool.release(b);
            assertEquals(0, pool.bytesInUse(1));
            assertEquals(2L * SIZE, pool.peakBytes(1));
            assertThrows(IllegalStateException.class, () -> pool.release(a));
        }
    }

    @Test
    void shouldShowCountersAndFramesToAnotherMappingOfThePool() throws Exception {
        try (BufferPool pool = BufferPool.create("attach", SIZE, 8, 2);
             io.vnicd.nativeio.SharedMemory tool = io.vnicd.nativeio.SharedMemory.mapFile(pool.fd())) {
            pool.setQuota(1, 4 * SIZE);
            int index = pool.acquire(1, 0);
            pool.memory().set(ValueLayout.JAVA_LONG, pool.offset(index), 0x1234_5678_9abcL);
            BufferPool seen = BufferPool.attach(tool.segment());
            assertEquals(SIZE, seen.bufferSize());
            assertEquals(8, seen.bufferCount());
            assertEquals(SIZE, seen.bytesInUse(1));
            assertEquals(1, seen.grants(1));
            assertEquals(1, seen.owner(index));
            assertEquals(0x1234_5678_9abcL, seen.memory().get(ValueLayout.JAVA_LONG, seen.offset(index)));
            assertThrows(IllegalArgumentException.class, () -> seen.setQuota(0, 5 * SIZE), "quotas in memory count");
            seen.release(index);
            assertEquals(0, pool.bytesInUse(1));
        }
    }

    @Test
    void shouldRefuseQuotasThatTogetherExceedThePool() throws Exception {
        try (BufferPool pool = BufferPool.create("refuse", SIZE, 8, 4)) {
            pool.setQuota(0, 4 * SIZE);
            pool.setQuota(1, 4 * SIZE);
            assertThrows(IllegalArgumentException.class, () -> pool.setQuota(2, SIZE));
            pool.setQuota(1, 3 * SIZE);
            pool.setQuota(2, SIZE);
        }
    }

    @Test
    void shouldResumeAWaitingSenderWhenItsTargetReleasesABuffer() throws Exception {
        try (BufferPool pool = BufferPool.create("wake", SIZE, 4, 2)) {
            pool.setQuota(0, SIZE);
            int held = pool.acquire(0, 0);
            CompletableFuture<Integer> waiter = CompletableFuture.supplyAsync(() -> pool.acquire(0, TimeUnit.SECONDS.toNanos(30)));
            while (pool.waits(0) == 0) {
                Thread.onSpinWait();
            }
            pool.release(held);
            int granted = waiter.get(30, TimeUnit.SECONDS);
            assertNotEquals(-1, granted);
            assertEquals(0, pool.drops(0));
            assertEquals(1, pool.waits(0));
            pool.release(granted);
        }
    }

    @Test
    void shouldLoseNoBufferNorExceedAQuotaNorStarveOtherTargetsUnderPressure() throws Exception {
        int buffers = 64;
        int targets = 4;
        int[] quotaBuffers = {8, 8, 16, 32};
        // Target 0 floods: its two threads each try to hold 8 buffers, twice its quota. The others stay
        // within their quotas, so they must never wait, whatever target 0 does.
        int[] holdPerThread = {8, 4, 8, 16};
        int threadsPerTarget = 2;
        int iterations = 20_000;
        try (BufferPool pool = BufferPool.create("pressure", SIZE, buffers, targets)) {
            for (int t = 0; t < targets; t++) {
                pool.setQuota(t, (long) quotaBuffers[t] * SIZE);
            }
            AtomicIntegerArray held = new AtomicIntegerArray(targets);
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicReference<String> violation = new AtomicReference<>();
            Thread checker = new Thread(() -> {
                while (running.get()) {
                    for (int t = 0; t < targets; t++) {
                        if (held.get(t) > quotaBuffers[t] || pool.bytesInUse(t) > (long) quotaBuffers[t] * SIZE) {
                            violation.compareAndSet(null, "target " + t + " holds " + held.get(t) + " buffers, "
                                    + pool.bytesInUse(t) + " bytes, quota " + quotaBuffers[t]);
                        }
                    }
                    Thread.yield();
                }
            }, "quota-checker");
            checker.start();
            List<CompletableFuture<long[]>> workers = new ArrayList<>();
            for (int t = 0; t < targets; t++) {
                for (int w = 0; w < threadsPerTarget; w++) {
                    int target = t;
                    int worker = w;
                    workers.add(CompletableFuture.supplyAsync(() -> work(pool, held, target, worker, holdPerThread[target], iterations),
                            runnable -> new Thread(runnable, "pool-worker").start()));
                }
            }
            long[] granted = new long[targets];
            for (int i = 0; i < workers.size(); i++) {
                long[] result = workers.get(i).get(120, TimeUnit.SECONDS);
                granted[i / threadsPerTarget] += result[0];
            }
            running.set(false);
            checker.join();
            assertNull(violation.get());
            for (int t = 0; t < targets; t++) {
                assertEquals(granted[t], pool.grants(t), "grants counted for target " + t);
                assertEquals(0, pool.bytesInUse(t), "target " + t + " gave everything back");
                assertTrue(pool.peakBytes(t) <= (long) quotaBuffers[t] * SIZE);
            }
            for (int t = 1; t < targets; t++) {
                assertEquals(0, pool.waits(t), "target " + t + " within quota never waits");
                assertEquals((long) threadsPerTarget * iterations, pool.grants(t));
            }
            assertTrue(pool.waits(0) > 0, "the flooding target waited");
            assertEquals((long) threadsPerTarget * iterations, pool.grants(0) + pool.drops(0), "every request granted or counted as dropped");
            assertEquals(0, pool.buffersHeld());
            // Every buffer is back on the free list: all 64 can be taken at once.
            pool.setQuota(0, 0);
            pool.setQuota(1, 0);
            pool.setQuota(2, 0);
            pool.setQuota(3, (long) buffers * SIZE);
            boolean[] seen = new boolean[buffers];
            for (int i = 0; i < buffers; i++) {
                int index = pool.acquire(3, 0);
                assertTrue(index >= 0 && !seen[index]);
                seen[index] = true;
            }
            assertEquals(-1, pool.acquire(3, 0));
        }
    }

    /** Acquires with a short wait, stamps the buffer, keeps up to hold buffers, checks the stamp on release. */
    private static long[] work(BufferPool pool, AtomicIntegerArray held, int target, int worker, int hold, int iterations) {
        ArrayDeque<int[]> mine = new ArrayDeque<>();
        long granted = 0;
        for (int i = 0; i < iterations; i++) {
            if (mine.size() == hold) {
                giveBack(pool, held, target, mine.poll());
            }
            int index = pool.acquire(target, 50_000);
            if (index < 0) {
                continue;
            }
            held.incrementAndGet(target);
            granted++;
            int stamp = target << 24 | worker << 20 | (i & 0xfffff);
            pool.memory().set(ValueLayout.JAVA_INT, pool.offset(index), stamp);
            pool.memory().set(ValueLayout.JAVA_INT, pool.offset(index) + SIZE - 4, stamp);
            mine.add(new int[] {index, stamp});
        }
        while (!mine.isEmpty()) {
            giveBack(pool, held, target, mine.poll());
        }
        return new long[] {granted};
    }

    private static void giveBack(BufferPool pool, AtomicIntegerArray held, int target, int[] buffer) {
        int index = buffer[0];
        if (pool.memory().get(ValueLayout.JAVA_INT, pool.offset(index)) != buffer[1]
                || pool.memory().get(ValueLayout.JAVA_INT, pool.offset(index) + SIZE - 4) != buffer[1]) {
            throw new AssertionError("buffer " + index + " was handed to two holders at once");
        }
        if (pool.owner(index) != target) {
            throw new AssertionError("buffer " + index + " owned by " + pool.owner(index) + ", not " + target);
        }
        held.decrementAndGet(target);
        pool.release(index);
    }
}
