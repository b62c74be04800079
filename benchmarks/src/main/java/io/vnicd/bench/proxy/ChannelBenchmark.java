package io.vnicd.bench.proxy;

import io.vnicd.devmodel.proxy.ChannelLayout;
import io.vnicd.devmodel.proxy.FrameChannel;
import io.vnicd.devmodel.ring.OneToOneRing;
import io.vnicd.devmodel.ring.RingEntry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * The proxy channel's cost per frame, one thread playing both daemons (cache lines hot): a frame put into the
 * Chronicle Bytes channel and taken out again (checks of the peer's positions and lengths, the copy in, the copy
 * out to a private buffer), against the same work on the project's own FFM ring (a one-to-one ring of entries naming
 * slots of a MemorySegment, copies in and out with MemorySegment.copy, no checks).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED", "-Dchronicle.analytics.disable=true"})
@State(Scope.Thread)
public class ChannelBenchmark {
    private static final int SLOTS = 1024;
    private static final int SLOT = 2048;

    @Param({"64", "1500"})
    int frameSize;

    private FrameChannel producer;
    private FrameChannel consumer;
    private MemorySegment frame;
    private OneToOneRing ring;
    private MemorySegment slots;
    private MemorySegment out;
    private long taken;
    private final FrameChannel.Handler handler = (f, o, l, v) -> {
        taken += l;
        return FrameChannel.Handler.TAKE;
    };

    @Setup
    public void setUp() {
        Arena arena = Arena.ofAuto();
        MemorySegment region = arena.allocate(ChannelLayout.byteSize(SLOTS, SLOT), 4096);
        producer = FrameChannel.create(region, SLOTS, SLOT);
        consumer = FrameChannel.join(region);
        frame = arena.allocate(SLOT, 64);
        for (int i = 0; i < frameSize; i++) {
            frame.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        ring = OneToOneRing.allocate(SLOTS);
        slots = arena.allocate((long) SLOTS * SLOT, 64);
        out = arena.allocate(SLOT, 64);
    }

    @Benchmark
    public long chronicleChannel() {
        producer.offer(frame, 0, frameSize, 0);
        consumer.poll(handler, 1);
        return taken;
    }

    private long next;

    @Benchmark
    public long ffmRing() {
        int slot = (int) (next++ & (SLOTS - 1));
        MemorySegment.copy(frame, 0, slots, (long) slot * SLOT, frameSize);
        ring.offer(RingEntry.pack(slot, frameSize, 0));
        long e = ring.poll();
        int at = (int) RingEntry.bufferIndex(e);
        MemorySegment.copy(slots, (long) at * SLOT, out, 0, RingEntry.length(e));
        return e;
    }
}
