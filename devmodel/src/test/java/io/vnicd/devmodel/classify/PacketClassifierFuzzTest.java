package io.vnicd.devmodel.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterSlots;
import io.vnicd.devmodel.packet.EthernetDescriptor;
import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of the parser and the classifier on what a guest may transmit: a few rules
 * built from the fuzzer's bytes go through the normal validation path ({@link Classifier#install}), then an
 * arbitrary frame is parsed and classified, with and without the flow cache.
 *
 * <p>Invariants: nothing throws but {@link RuleSetException} from a refused rule set; the parse stays within
 * the frame; the cache changes no result; and where every rule came from the well-formed vocabulary, the
 * compiled classifier agrees with {@link ReferenceClassifier}'s linear scan. {@code mvn test} replays the
 * inputs in {@code PacketClassifierFuzzTestInputs/}; {@code scripts/fuzz packet} fuzzes.
 */
class PacketClassifierFuzzTest {
    private static final String[] TABLES = {RuleSet.ROOT, "t1", "t2"};
    private static final List<TableSpec> TABLE_SPECS = List.of(new TableSpec("t1", "drop"), new TableSpec("t2", "ring:99"));
    private static final String[] FIELDS = {"dst-mac", "src-mac", "vlan", "ethertype", "src-ip", "dst-ip", "proto", "dst-port", "src-port"};
    private static final String[] PROTOS = {"tcp", "udp", "icmp", "icmpv6"};
    private static final String[] ETHERTYPES = {"ipv4", "ipv6", "arp", "0x0800", "0x86DD"};

    // Kept between executions: one parse result, key and cache per thread, as on the data path.
    private final PacketHeaders headers = new PacketHeaders();
    private final FlowKey key = new FlowKey();
    private final FlowCache cache = new FlowCache(16);
    // Rule counters come from a registry of the fuzzer's own and go back to it when a compiled set is evicted, as
    // a daemon's do when its rules are replaced: millions of executions must not pile up counter blocks.
    private static final CounterSlots SLOTS = new CounterSlots(CounterRegistry.create(), "rules", Map.of());
    // Most mutations touch the frame, not the rules: compiling once per distinct rule list keeps executions cheap.
    private final Map<List<RuleSpec>, Compiled> compiledRules = new LinkedHashMap<>(64, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<List<RuleSpec>, Compiled> eldest) {
            if (size() <= 256) {
                return false;
            }
            try {
                eldest.getValue().classifier().install(List.of(), List.of());
            } catch (RuleSetException e) {
                throw new AssertionError("an empty rule set compiles", e);
            }
            return true;
        }
    };

    /** A classifier with the rules installed (or refused: then empty) and, when installed, its reference. */
    private record Compiled(Classifier classifier, ReferenceClassifier reference) {
    }

    private static Compiled compile(List<RuleSpec> rules) {
        Classifier classifier = new Classifier(SLOTS, RuleSet.NO_PORTS);
        try {
            classifier.install(TABLE_SPECS, rules);
            return new Compiled(classifier, new ReferenceClassifier(TABLE_SPECS, rules));
        } catch (RuleSetException refused) {
            assertTrue(!refused.problems().isEmpty(), "a refusal names its problems");
            return new Compiled(classifier, null);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void parseAndClassifyArbitraryFrames(FuzzedDataProvider data) {
        List<RuleSpec> rules = new ArrayList<>();
        boolean wellFormed = true;
        int ruleCount = data.consumeInt(0, 6);
        for (int i = 0; i < ruleCount; i++) {
            int tableIndex = data.consumeInt(0, TABLES.length - 1);
            Map<String, String> match = new LinkedHashMap<>();
            int fieldBits = data.consumeInt(0, (1 << FIELDS.length) - 1);
            for (int f = 0; f < FIELDS.length; f++) {
                if ((fieldBits & (1 << f)) == 0) {
                    continue;
                }
                if (data.consumeBoolean()) {
                    match.put(FIELDS[f], wellFormedValue(FIELDS[f], data));
                } else {
                    match.put(FIELDS[f], data.consumeString(24));
                    wellFormed = false;
                }
            }
            String action;
            int a = data.consumeInt(0, 4);
            if (a == 0) {
                action = "drop";
            } else if (a == 1) {
                action = "table:" + TABLES[data.consumeInt(0, TABLES.length - 1)];
            } else if (a == 2) {
                action = data.consumeString(16);
                wellFormed = false;
            } else {
                action = "ring:" + data.consumeInt(0, 7);
            }
            rules.add(new RuleSpec("r" + i, TABLES[tableIndex], data.consumeInt(0, 100), match, action));
        }
        Compiled compiled = compiledRules.computeIfAbsent(rules, PacketClassifierFuzzTest::compile);
        Classifier classifier = compiled.classifier;
        boolean installed = compiled.reference != null;

        int offset = data.consumeInt(0, 3);
        int claimed = data.consumeInt(-1, 1600);
        byte[] frame = data.consumeRemainingAsBytes();
        PacketHeaders h = PacketParser.parse(MemorySegment.ofArray(frame), offset, claimed, headers);
        checkWithinFrame(h, frame.length, offset, claimed);

        int plain = classifier.classify(h, key);
        int cached = classifier.classify(h, key, cache);
        assertEquals(plain, cached, () -> "the flow cache changed the result for " + h);
        assertTrue(plain >= Classifier.DROP, "result " + plain);
        if (installed && wellFormed) {
            int expected = compiled.reference.classify(h);
            assertEquals(expected, plain, () -> "frame " + h + " with rules " + rules);
        }
    }

    private static void checkWithinFrame(PacketHeaders h, int bufferLength, int offset, int claimed) {
        int available = Math.max(0, bufferLength - offset);
        assertTrue(h.frameLength() >= 0 && h.frameLength() <= available, () -> "frame length " + h);
        if (claimed >= 0 && offset <= bufferLength) {
            assertEquals(Math.min(claimed, available), h.frameLength(), () -> "frame length " + h);
        }
        assertTrue(h.tagCount() <= EthernetDescriptor.MAX_TAGS, () -> "tags " + h);
        assertTrue(h.l3Offset() == -1 || h.l3Offset() >= EthernetDescriptor.HEADER_LENGTH && h.l3Offset() <= h.frameLength(),
                () -> "l3 offset " + h);
        assertTrue(h.l4Offset() == -1 || h.l3Offset() >= 0 && h.l4Offset() > h.l3Offset() && h.l4Offset() <= h.frameLength(),
                () -> "l4 offset " + h);
        assertTrue(h.srcPort() >= -1 && h.srcPort() <= 0xFFFF && h.dstPort() >= -1 && h.dstPort() <= 0xFFFF, () -> "ports " + h);
        assertTrue(h.vlanId() >= -1 && h.vlanId() <= 0xFFF, () -> "vlan " + h);
    }

    /** A value of the vocabulary {@link RandomTraffic} uses, which {@link ReferenceClassifier} understands. */
    private static String wellFormedValue(String field, FuzzedDataProvider data) {
        return switch (field) {
            case "dst-mac", "src-mac" -> {
                String mac = RandomTraffic.MACS[data.consumeInt(0, RandomTraffic.MACS.length - 1)];
                yield data.consumeBoolean() ? mac.substring(0, 15) + "00/ff:ff:ff:ff:ff:00" : mac;
            }
            case "vlan" -> {
                int vlan = RandomTraffic.VLANS[data.consumeInt(0, RandomTraffic.VLANS.length - 1)];
                yield vlan < 0 ? "untagged" : Integer.toString(vlan);
            }
            case "ethertype" -> ETHERTYPES[data.consumeInt(0, ETHERTYPES.length - 1)];
            case "src-ip", "dst-ip" -> data.consumeBoolean()
                    ? RandomTraffic.V6[data.consumeInt(0, RandomTraffic.V6.length - 1)] + "/"
                            + RandomTraffic.V6_PREFIXES[data.consumeInt(0, RandomTraffic.V6_PREFIXES.length - 1)]
                    : RandomTraffic.V4[data.consumeInt(0, RandomTraffic.V4.length - 1)] + "/"
                            + RandomTraffic.V4_PREFIXES[data.consumeInt(0, RandomTraffic.V4_PREFIXES.length - 1)];
            case "proto" -> PROTOS[data.consumeInt(0, PROTOS.length - 1)];
            default -> {
                int port = RandomTraffic.PORTS[data.consumeInt(0, RandomTraffic.PORTS.length - 1)];
                yield data.consumeBoolean() ? port + "/0xfff0" : Integer.toString(port);
            }
        };
    }
}
