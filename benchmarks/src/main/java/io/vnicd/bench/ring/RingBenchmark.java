package io.vnicd.bench.ring;

import io.vnicd.devmodel.ring.ManyToOneRing;
import io.vnicd.devmodel.ring.OneToOneRing;
import io.vnicd.devmodel.ring.RingEntry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Offer+poll on one thread (the cost of the two operations, cache lines hot) and offer against poll on two
 * threads (what a hand-off between a producer and a consumer core sustains). Counts per op; a failed offer
 * or an empty poll still counts, so the two-thread figures are operation rates, not delivered entries.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class RingBenchmark {
    private static final long ENTRY = RingEntry.pack(7, 1514, 3);

    @State(Scope.Group)
    public static class Rings {
        final OneToOneRing oneToOne = OneToOneRing.allocate(1024);
        final ManyToOneRing manyToOne = ManyToOneRing.allocate(1024);
    }

    @State(Scope.Thread)
    public static class LocalRings {
        final OneToOneRing oneToOne = OneToOneRing.allocate(1024);
        final ManyToOneRing manyToOne = ManyToOneRing.allocate(1024);
    }

    @Benchmark
    public long oneToOneOfferPollSameThread(LocalRings rings) {
        rings.oneToOne.offer(ENTRY);
        return rings.oneToOne.poll();
    }

    @Benchmark
    public long manyToOneOfferPollSameThread(LocalRings rings) {
        rings.manyToOne.offer(ENTRY);
        return rings.manyToOne.poll();
    }

    @Benchmark
    @Group("oneToOne")
    @GroupThreads(1)
    public boolean oneToOneOffer(Rings rings) {
        return rings.oneToOne.offer(ENTRY);
    }

    @Benchmark
    @Group("oneToOne")
    @GroupThreads(1)
    public long oneToOnePoll(Rings rings) {
        return rings.oneToOne.poll();
    }

    @Benchmark
    @Group("manyToOne")
    @GroupThreads(1)
    public boolean manyToOneOffer(Rings rings) {
        return rings.manyToOne.offer(ENTRY);
    }

    @Benchmark
    @Group("manyToOne")
    @GroupThreads(1)
    public long manyToOnePoll(Rings rings) {
        return rings.manyToOne.poll();
    }
}
