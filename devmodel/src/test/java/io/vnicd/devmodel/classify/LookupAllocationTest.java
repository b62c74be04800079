package io.vnicd.devmodel.classify;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class LookupAllocationTest {
    private static final int ROUNDS = 1_000_000;

    @Test
    void shouldParseAndClassifyWithoutAllocating() throws RuleSetException {
        RandomTraffic traffic = new RandomTraffic(42);
        Classifier classifier = new Classifier();
        classifier.install(RandomTraffic.TABLES, traffic.rules(1000, 0.4));
        MemorySegment[] frames = new MemorySegment[256];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = MemorySegment.ofArray(traffic.frame());
        }
        PacketHeaders h = new PacketHeaders();
        FlowKey key = new FlowKey();

        long sink = run(classifier, frames, h, key); // warm up: let the JIT compile the loop
        long before = Allocations.allocatedByThisThread();
        sink += run(classifier, frames, h, key);
        long allocated = Allocations.allocatedByThisThread() - before;

        assertTrue(allocated < Allocations.TOLERANCE, allocated + " bytes allocated over " + ROUNDS + " lookups (sink " + sink + ")");
    }

    @Test
    void shouldClassifyThroughTheFlowCacheWithoutAllocating() throws RuleSetException {
        RandomTraffic traffic = new RandomTraffic(43);
        Classifier classifier = new Classifier();
        classifier.install(RandomTraffic.TABLES, traffic.rules(1000, 0.4));
        MemorySegment[] frames = new MemorySegment[256];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = MemorySegment.ofArray(traffic.frame());
        }
        PacketHeaders h = new PacketHeaders();
        FlowKey key = new FlowKey();
        FlowCache cache = new FlowCache(128); // smaller than the frame set: fills and evictions both run

        long sink = runCached(classifier, frames, h, key, cache);
        long before = Allocations.allocatedByThisThread();
        sink += runCached(classifier, frames, h, key, cache);
        long allocated = Allocations.allocatedByThisThread() - before;

        assertTrue(allocated < Allocations.TOLERANCE, allocated + " bytes allocated over " + ROUNDS + " cached lookups (sink " + sink + ")");
    }

    private static long runCached(Classifier classifier, MemorySegment[] frames, PacketHeaders h, FlowKey key, FlowCache cache) {
        long sum = 0;
        for (int i = 0; i < ROUNDS; i++) {
            MemorySegment f = frames[i & (frames.length - 1)];
            PacketParser.parse(f, 0, (int) f.byteSize(), h);
            sum += classifier.classify(h, key, cache);
        }
        return sum;
    }

    private static long run(Classifier classifier, MemorySegment[] frames, PacketHeaders h, FlowKey key) {
        long sum = 0;
        for (int i = 0; i < ROUNDS; i++) {
            MemorySegment f = frames[i & (frames.length - 1)];
            PacketParser.parse(f, 0, (int) f.byteSize(), h);
            sum += classifier.classify(h, key) + h.flowHash(true);
        }
        return sum;
    }
}
