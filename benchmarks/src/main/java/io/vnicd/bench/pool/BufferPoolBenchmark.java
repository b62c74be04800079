package io.vnicd.bench.pool;

import io.vnicd.devmodel.pool.BufferPool;
import io.vnicd.nativeio.NativeException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Acquire+release of one buffer under a quota: one thread, and two threads of two targets sharing the pool
 * (contending on the free list, not on each other's quota). Also a drop: acquire over quota with no wait.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class BufferPoolBenchmark {
    private static final int SIZE = 2048;

    @State(Scope.Benchmark)
    public static class Pool {
        BufferPool pool;

        @Setup(Level.Trial)
        public void create() throws NativeException {
            pool = BufferPool.create("bench", SIZE, 1024, 4);
            pool.setQuota(0, 256L * SIZE);
            pool.setQuota(1, 256L * SIZE);
            pool.setQuota(2, 0);
        }

        @TearDown(Level.Trial)
        public void close() {
            pool.close();
        }
    }

    @State(Scope.Thread)
    public static class Target {
        private static final AtomicInteger NEXT = new AtomicInteger();
        int id;

        @Setup(Level.Trial)
        public void pick() {
            id = NEXT.getAndIncrement() & 1;
        }
    }

    @Benchmark
    public int acquireRelease(Pool pool) {
        int index = pool.pool.acquire(0, 0);
        pool.pool.release(index);
        return index;
    }

    @Benchmark
    @Threads(2)
    public int acquireReleaseTwoTargets(Pool pool, Target target) {
        int index = pool.pool.acquire(target.id, 0);
        if (index >= 0) {
            pool.pool.release(index);
        }
        return index;
    }

    @Benchmark
    public int acquireOverQuotaDrops(Pool pool) {
        return pool.pool.acquire(2, 0);
    }
}
