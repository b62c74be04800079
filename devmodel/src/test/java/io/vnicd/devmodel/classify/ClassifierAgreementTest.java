package io.vnicd.devmodel.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Property: on random rule sets and random frames, the compiled classifier (tuple space search, sub-tables)
 * gives every frame the result the naive linear scan gives, and counts the same hits and misses.
 */
class ClassifierAgreementTest {

    @ParameterizedTest(name = "seed {0}: {1} rules, field chance {2}, {3} frames")
    @CsvSource({
        "1, 10, 0.5, 3000",
        "2, 50, 0.3, 3000",
        "3, 200, 0.4, 3000",
        "4, 1000, 0.3, 3000",
        "5, 1000, 0.6, 3000",
        "6, 5000, 0.35, 5000",
        "7, 300, 0.1, 3000",
        "8, 300, 0.9, 3000",
    })
    void shouldAgreeWithALinearScanOnRandomRulesAndFrames(long seed, int ruleCount, double fieldChance, int frames)
            throws RuleSetException {
        RandomTraffic traffic = new RandomTraffic(seed);
        List<RuleSpec> rules = traffic.rules(ruleCount, fieldChance);
        Classifier classifier = new Classifier();
        RuleSet set = classifier.install(RandomTraffic.TABLES, rules);
        Classifier cached = new Classifier();
        RuleSet cachedSet = cached.install(RandomTraffic.TABLES, rules);
        FlowCache cache = new FlowCache(64); // small: slots are shared and overwritten often
        ReferenceClassifier reference = new ReferenceClassifier(RandomTraffic.TABLES, rules);

        PacketHeaders h = new PacketHeaders();
        FlowKey key = new FlowKey();
        Set<Integer> results = new TreeSet<>();
        List<byte[]> sent = new ArrayList<>();
        Random replay = new Random(seed);
        for (int i = 0; i < frames; i++) {
            // Half the frames repeat an earlier one, so that the cache answers some.
            byte[] frame = sent.isEmpty() || replay.nextBoolean() ? traffic.frame() : sent.get(replay.nextInt(sent.size()));
            sent.add(frame);
            PacketParser.parse(MemorySegment.ofArray(frame), 0, frame.length, h);
            int expected = reference.classify(h);
            int actual = classifier.classify(h, key);
            assertEquals(expected, actual, () -> "frame " + h + " with rules " + rules);
            int expectedCookie = key.cookie();
            assertEquals(expected, cached.classify(h, key, cache), () -> "through the cache: frame " + h);
            assertEquals(expectedCookie, key.cookie());
            results.add(actual);
        }
        assertTrue(cache.hits() > 0 && cache.misses() > 0, "cache hits " + cache.hits() + ", misses " + cache.misses());
        // The property means little unless frames really spread over targets, drops, misses and sub-tables.
        assertTrue(results.size() >= 4, "results seen: " + results);
        long subTableHits = reference.hits.entrySet().stream().filter(e -> !e.getKey().startsWith(RuleSet.ROOT + "/"))
                .mapToLong(Map.Entry::getValue).sum();
        System.out.println("seed " + seed + ": results " + results + ", sub-table hits " + subTableHits + ", misses " + reference.misses
                + ", masks in root " + set.table(RuleSet.ROOT).tupleCount() + ", cache hits " + cache.hits() + " of " + frames);
        for (FlowTable t : cachedSet.tables()) {
            assertEquals(reference.misses.getOrDefault(t.name(), 0L), t.misses(), "misses of " + t.name() + " through the cache");
            for (FlowEntry e : t.entries()) {
                assertEquals(reference.hits.getOrDefault(t.name() + "/" + e.name(), 0L), e.hits(), "hits through the cache of " + e);
            }
        }
        for (FlowTable t : set.tables()) {
            assertEquals(reference.misses.getOrDefault(t.name(), 0L), t.misses(), "misses of " + t.name());
            for (FlowEntry e : t.entries()) {
                assertEquals(reference.hits.getOrDefault(t.name() + "/" + e.name(), 0L), e.hits(), "hits of " + e);
            }
        }
    }
}
