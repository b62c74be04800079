package io.vnicd.devmodel.classify;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The data path's promise: reading headers and classifying allocate nothing, with or without the flow cache. */
class LookupAllocationTest {
    private static final int ROUNDS = 1_000_000;

    private final Classifier classifier = new Classifier();
    private final MemorySegment[] frames = new MemorySegment[256];
    private final PacketHeaders headers = new PacketHeaders();
    private final FlowKey key = new FlowKey();

    private void setUp(long seed) throws RuleSetException {
        RandomTraffic traffic = new RandomTraffic(seed);
        classifier.install(RandomTraffic.TABLES, traffic.rules(1000, 0.4));
        for (int i = 0; i < frames.length; i++) {
            frames[i] = MemorySegment.ofArray(traffic.frame());
        }
    }

    /** Runs twice (the first to let the JIT compile), returns what the second allocated. */
    private long allocatedBySecondRun(FlowCache cache) {
        long sink = run(cache);
        long before = Allocations.allocatedByThisThread();
        sink += run(cache);
        long allocated = Allocations.allocatedByThisThread() - before;
        assertTrue(sink != 42, "keeps the loops' results alive");
        return allocated;
    }

    private long run(FlowCache cache) {
        long sum = 0;
        for (int i = 0; i < ROUNDS; i++) {
            MemorySegment f = frames[i & (frames.length - 1)];
            PacketParser.parse(f, 0, (int) f.byteSize(), headers);
            sum += (cache == null ? classifier.classify(headers, key) : classifier.classify(headers, key, cache))
                    + headers.flowHash(true);
        }
        return sum;
    }

    @Test
    void shouldParseAndClassifyWithoutAllocating() throws RuleSetException {
        setUp(42);
        long allocated = allocatedBySecondRun(null);
        assertTrue(allocated < Allocations.TOLERANCE, allocated + " bytes allocated over " + ROUNDS + " lookups");
    }

    @Test
    void shouldClassifyThroughTheFlowCacheWithoutAllocating() throws RuleSetException {
        setUp(43);
        // Smaller than the frame set: fills and evictions both run.
        long allocated = allocatedBySecondRun(new FlowCache(128));
        assertTrue(allocated < Allocations.TOLERANCE, allocated + " bytes allocated over " + ROUNDS + " cached lookups");
    }
}
