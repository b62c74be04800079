package io.vnicd.devmodel.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vnicd.devmodel.packet.PacketHeaders;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FlowCacheTest {
    private final FlowKey key = new FlowKey();

    @Test
    void shouldNeverAnswerFromARuleSetThatWasReplaced() throws RuleSetException {
        Classifier c = new Classifier();
        FlowCache cache = new FlowCache(16);
        PacketHeaders web = ClassifierTest.tcpTo(ClassifierTest.ip(10, 0, 0, 1), 80);
        c.install(List.of(), List.of(new RuleSpec("web", "root", 0, Map.of("proto", "tcp", "dst-port", "80"), "ring:1")));
        assertEquals(1, c.classify(web, key, cache));
        assertEquals(1, c.classify(web, key, cache));
        assertEquals(1, cache.hits());
        c.install(List.of(), List.of(new RuleSpec("web", "root", 0, Map.of("proto", "tcp", "dst-port", "80"), "ring:2")));
        assertEquals(2, c.classify(web, key, cache));
        assertEquals(3, c.hits("root", "web"), "cache hits count as rule hits");
    }

    @Test
    void shouldReplayTheWholeWalkIntoTheCounters() throws RuleSetException {
        Classifier c = new Classifier();
        FlowCache cache = new FlowCache(16);
        c.install(List.of(), List.of(
                new RuleSpec("tenant", "root", 0, Map.of("dst-ip", "10.0.0.0/8"), "table:l4"),
                new RuleSpec("ssh", "l4", 0, Map.of("proto", "tcp", "dst-port", "22"), "ring:22")));
        PacketHeaders ssh = ClassifierTest.tcpTo(ClassifierTest.ip(10, 0, 0, 1), 22);
        PacketHeaders http = ClassifierTest.tcpTo(ClassifierTest.ip(10, 0, 0, 1), 80);
        for (int i = 0; i < 5; i++) {
            assertEquals(22, c.classify(ssh, key, cache));
            assertEquals(Classifier.MISS, c.classify(http, key, cache));
        }
        assertEquals(8, cache.hits());
        assertEquals(10, c.hits("root", "tenant"));
        assertEquals(5, c.hits("l4", "ssh"));
        assertEquals(5, c.misses("l4"));
    }

    @Test
    void shouldRefuseAnImpossibleSize() {
        assertThrows(IllegalArgumentException.class, () -> new FlowCache(0));
        assertEquals(0, new FlowCache(1).hits());
    }
}
