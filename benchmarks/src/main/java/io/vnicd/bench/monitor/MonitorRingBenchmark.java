package io.vnicd.bench.monitor;

import io.vnicd.devmodel.monitor.MonitorRecordHandler;
import io.vnicd.devmodel.monitor.MonitorRing;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Offer of one frame (copy into the /dev/shm ring) followed by the reader's poll, on one thread; and an
 * offer into a full ring, which is what a monitored data path pays when no capture is reading.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class MonitorRingBenchmark {
    @Param({"64", "1500"})
    int frameLength;

    private Path path;
    private MonitorRing ring;
    private MonitorRing full;
    private MemorySegment frame;
    private MonitorRecordHandler handler;

    @Setup(Level.Trial)
    public void create(Blackhole blackhole) throws Exception {
        path = Path.of("/dev/shm", "vnicd-monitor-bench-" + ProcessHandle.current().pid());
        ring = MonitorRing.create(path, 1024, 2048);
        full = MonitorRing.create(Path.of(path + "-full"), 2, 2048);
        frame = Arena.ofAuto().allocate(2048, 64);
        handler = (memory, offset, timestamp, originalLength, capturedLength) -> blackhole.consume(capturedLength);
        while (full.offer(frame, 0, frameLength)) {
            // fill it
        }
    }

    @TearDown(Level.Trial)
    public void remove() throws Exception {
        ring.close();
        full.close();
        Files.deleteIfExists(path);
        Files.deleteIfExists(Path.of(path + "-full"));
    }

    @Benchmark
    public int offerAndPoll() {
        ring.offer(frame, 0, frameLength);
        return ring.poll(handler, 1);
    }

    @Benchmark
    public boolean offerIntoFullRing() {
        return full.offer(frame, 0, frameLength);
    }
}
