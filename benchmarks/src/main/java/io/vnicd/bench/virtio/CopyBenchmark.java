package io.vnicd.bench.virtio;

import io.vnicd.nativeio.SharedMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/** The copy a frame costs between two guests' memfd mappings: the floor under the switched path. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CopyBenchmark {
    @Param({"64", "1500"})
    public int size;
    private SharedMemory a;
    private SharedMemory b;
    private MemorySegment src;
    private MemorySegment dst;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        a = SharedMemory.create("bench-a", 1 << 20);
        b = SharedMemory.create("bench-b", 1 << 20);
        src = a.segment();
        dst = b.segment();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
    }

    @Benchmark
    public MemorySegment copy() {
        MemorySegment.copy(src, 4096, dst, 8192 + 12, size);
        return dst;
    }
}
