package io.vnicd.bench.ring;

import io.vnicd.devmodel.ring.ManyToOneRing;
import io.vnicd.devmodel.ring.OneToOneRing;
import io.vnicd.devmodel.ring.RingEntry;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Offer+poll on one thread (the cost of the two operations, cache lines hot) and offer against poll on two
 * threads (what a hand-off between a producer and a consumer core sustains). In the two-thread groups a
 * refused offer or an empty poll is still an operation: read the auxiliary counters "delivered" (entries
 * taken by the consumer) and "accepted" (entries the ring took) for the hand-off rate.
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

    /** Per-thread tallies JMH reports next to the operation rates. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Tally {
        public long accepted;
        public long delivered;

        @Setup(Level.Iteration)
        public void reset() {
            accepted = 0;
            delivered = 0;
        }
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
    public boolean oneToOneOffer(Rings rings, Tally tally) {
        boolean accepted = rings.oneToOne.offer(ENTRY);
        if (accepted) {
            tally.accepted++;
        }
        return accepted;
    }

    @Benchmark
    @Group("oneToOne")
    @GroupThreads(1)
    public long oneToOnePoll(Rings rings, Tally tally) {
        long entry = rings.oneToOne.poll();
        if (entry != RingEntry.NONE) {
            tally.delivered++;
        }
        return entry;
    }

    @Benchmark
    @Group("manyToOne")
    @GroupThreads(1)
    public boolean manyToOneOffer(Rings rings, Tally tally) {
        boolean accepted = rings.manyToOne.offer(ENTRY);
        if (accepted) {
            tally.accepted++;
        }
        return accepted;
    }

    @Benchmark
    @Group("manyToOne")
    @GroupThreads(1)
    public long manyToOnePoll(Rings rings, Tally tally) {
        long entry = rings.manyToOne.poll();
        if (entry != RingEntry.NONE) {
            tally.delivered++;
        }
        return entry;
    }
}
