package io.vnicd.devmodel.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vnicd.devmodel.packet.PacketHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A data-path thread classifies without pause while another thread keeps replacing the rule set, good
 * updates and bad ones alternating. Every frame must see one whole rule set: never a mix, never an error.
 */
class RuleSetSwapTest {
    /** Set A sends the flow to ring 1 through a sub-table; set B to ring 2 directly; both have 200 other rules. */
    static List<RuleSpec> set(boolean a) {
        List<RuleSpec> rules = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            rules.add(new RuleSpec("filler" + i, "root", 1, Map.of("dst-ip", "172.16." + i / 100 + "." + i % 100, "proto", "udp"), "ring:7"));
        }
        if (a) {
            rules.add(new RuleSpec("to-sub", "root", 0, Map.of("dst-ip", "10.0.0.0/8"), "table:sub"));
            rules.add(new RuleSpec("flow", "sub", 0, Map.of("proto", "tcp", "dst-port", "80"), "ring:1"));
        } else {
            rules.add(new RuleSpec("flow", "root", 0, Map.of("dst-ip", "10.0.0.1", "proto", "tcp"), "ring:2"));
        }
        return rules;
    }

    @Test
    void shouldLetEveryFrameSeeOneWholeRuleSetDuringSwaps() throws Exception {
        Classifier classifier = new Classifier();
        classifier.install(List.of(), set(true));
        PacketHeaders frame = ClassifierTest.tcpTo(ClassifierTest.ip(10, 0, 0, 1), 80);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long[] seen = new long[3];
        Thread dataPath = new Thread(() -> {
            FlowKey key = new FlowKey();
            try {
                while (!stop.get()) {
                    int r = classifier.classify(frame, key);
                    if (r != 1 && r != 2) {
                        throw new AssertionError("result " + r + " belongs to neither rule set");
                    }
                    seen[r]++;
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "data-path");
        dataPath.start();
        List<RuleSpec> bad = List.of(new RuleSpec("broken", "root", 0, Map.of("dst-ip", "10.0.0.0/8"), "table:missing"));
        for (int i = 0; i < 100; i++) {
            classifier.install(List.of(), set(i % 2 == 0));
            assertThrows(RuleSetException.class, () -> classifier.install(List.of(), bad));
            Thread.yield();
        }
        classifier.install(List.of(), set(false));
        stop.set(true);
        dataPath.join();

        assertNull(failure.get(), () -> "data path failed: " + failure.get());
        assertTrue(seen[1] + seen[2] > 0);
        assertEquals(2, classifier.classify(frame, new FlowKey()));
    }
}
