package io.vnicd.bench.classify;

import io.vnicd.devmodel.classify.Classifier;
import io.vnicd.devmodel.classify.FlowCache;
import io.vnicd.devmodel.classify.FlowKey;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Classifier lookups per second with 10, 1,000 and 100,000 rules in the root table.
 *
 * <p>The rule mix is what a PF's table holds in practice: most rules are exact 5-tuples (one mask), the rest
 * spread over 16 wildcard shapes (subnets, services, MAC + VLAN), plus a sub-table for one subnet. Frames
 * cycle through 1,024 prepared ones: about half hit an exact rule, a quarter a wildcard rule, a quarter
 * nothing. {@code parseAndClassify} includes reading the headers from the frame; {@code classify} starts
 * from a loaded key; {@code parseAndClassifyCached} goes through a {@link FlowCache} big enough for all the
 * frames (the best case of a cache: real traffic with more flows than slots lands in between).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar ClassifierBenchmark -wi 2 -i 3 -f 1 -w 2s -r 2s}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ClassifierBenchmark {
    private static final int FRAMES = 1024;

    @Param({"10", "1000", "100000"})
    public int rules;

    private final Classifier classifier = new Classifier();
    private final PacketHeaders headers = new PacketHeaders();
    private final FlowKey key = new FlowKey();
    private final FlowCache cache = new FlowCache(4096);
    private final MemorySegment[] frames = new MemorySegment[FRAMES];
    private final FlowKey[] keys = new FlowKey[FRAMES];
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws RuleSetException {
        Random random = new Random(1);
        List<RuleSpec> specs = new ArrayList<>(rules + 2);
        int exact = rules * 9 / 10;
        int[][] flows = new int[Math.max(exact, 1)][];
        for (int i = 0; i < exact; i++) {
            int src = 0x0A00_0000 | random.nextInt(1 << 16);
            int dst = 0x0A01_0000 | random.nextInt(1 << 16);
            int sport = 1024 + random.nextInt(60000);
            int dport = 1 + random.nextInt(1000);
            flows[i] = new int[] {src, dst, sport, dport};
            specs.add(new RuleSpec("flow" + i, "root", 100, Map.of("src-ip", ip(src), "dst-ip", ip(dst), "proto", "tcp",
                    "src-port", Integer.toString(sport), "dst-port", Integer.toString(dport)), "ring:" + (i & 15)));
        }
        for (int i = exact; i < rules; i++) {
            specs.add(new RuleSpec("wild" + i, "root", 10 + random.nextInt(80), wildcard(random), "ring:" + (i & 15)));
        }
        specs.add(new RuleSpec("web-subnet", "root", 5, Map.of("dst-ip", "172.16.0.0/12"), "table:web"));
        specs.add(new RuleSpec("http", "web", 0, Map.of("proto", "tcp", "dst-port", "80"), "ring:20"));
        classifier.install(List.of(new TableSpec("web", "ring:21")), specs);

        for (int i = 0; i < FRAMES; i++) {
            byte[] frame;
            int kind = random.nextInt(4);
            if (exact > 0 && kind < 2) {
                int[] f = flows[random.nextInt(exact)];
                frame = tcpFrame(0x0200_0000_0001L, -1, f[0], f[1], f[2], f[3]);
            } else if (kind == 2) {
                frame = tcpFrame(0x0200_0000_0000L | random.nextInt(8), random.nextInt(8), 0x0A00_0000 | random.nextInt(1 << 24),
                        random.nextBoolean() ? 0xAC10_0000 | random.nextInt(1 << 16) : 0x0A00_0000 | random.nextInt(1 << 24),
                        random.nextInt(65536), random.nextBoolean() ? 80 : random.nextInt(65536));
            } else {
                frame = tcpFrame(0x0400_0000_0000L | random.nextInt(), -1, random.nextInt(), random.nextInt(),
                        random.nextInt(65536), random.nextInt(65536));
            }
            frames[i] = MemorySegment.ofArray(frame);
            keys[i] = new FlowKey().load(PacketParser.parse(frames[i], 0, frame.length, new PacketHeaders()));
        }
    }

    /** One of 16 wildcard shapes, with values drawn so that some frames hit them. */
    private static Map<String, String> wildcard(Random random) {
        Map<String, String> m = new LinkedHashMap<>();
        int shape = random.nextInt(16);
        int[] prefixes = {8, 12, 16, 20, 24, 28, 32};
        m.put("dst-ip", ip(0x0A00_0000 | random.nextInt(1 << 24)) + "/" + prefixes[shape % prefixes.length]);
        if ((shape & 1) != 0) {
            m.put("proto", "tcp");
            m.put("dst-port", random.nextBoolean() ? "80" : Integer.toString(random.nextInt(65536)));
        }
        if ((shape & 2) != 0) {
            m.put("src-ip", ip(0x0A00_0000 | random.nextInt(1 << 24)) + "/" + (shape < 8 ? 16 : 24));
        }
        if ((shape & 4) != 0) {
            m.remove("dst-ip");
            m.remove("src-ip");
            m.put("dst-mac", String.format("02:00:00:00:00:%02x", random.nextInt(8)));
            m.put("vlan", Integer.toString(random.nextInt(8)));
        }
        return m;
    }

    @Benchmark
    public int parseAndClassify() {
        MemorySegment f = frames[next++ & (FRAMES - 1)];
        PacketParser.parse(f, 0, (int) f.byteSize(), headers);
        return classifier.classify(headers, key);
    }

    /** Through an exact-match cache of 4,096 slots; the 1,024 frames fit, so this is the all-hits case. */
    @Benchmark
    public int parseAndClassifyCached() {
        MemorySegment f = frames[next++ & (FRAMES - 1)];
        PacketParser.parse(f, 0, (int) f.byteSize(), headers);
        return classifier.classify(headers, key, cache);
    }

    @Benchmark
    public int classify() {
        return classifier.classify(keys[next++ & (FRAMES - 1)]);
    }

    private static String ip(int a) {
        return (a >>> 24) + "." + (a >>> 16 & 0xFF) + "." + (a >>> 8 & 0xFF) + "." + (a & 0xFF);
    }

    /** An Ethernet (optionally 802.1Q) + IPv4 + TCP frame, written field by field. */
    private static byte[] tcpFrame(long dstMac, int vlan, int src, int dst, int sport, int dport) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(64);
        put(o, dstMac, 6);
        put(o, 0x0200_0000_00FFL, 6);
        if (vlan >= 0) {
            put(o, 0x8100, 2);
            put(o, vlan, 2);
        }
        put(o, 0x0800, 2);
        put(o, 0x4500_0028L, 4); // version 4, IHL 5, total length 40
        put(o, 0, 4);
        put(o, 0x4006_0000L, 4); // TTL 64, TCP
        put(o, src, 4);
        put(o, dst, 4);
        put(o, sport, 2);
        put(o, dport, 2);
        put(o, 0, 8);
        put(o, 0x5002_FFFFL, 4); // data offset 5, SYN
        put(o, 0, 4);
        return o.toByteArray();
    }

    private static void put(ByteArrayOutputStream o, long v, int bytes) {
        for (int i = bytes - 1; i >= 0; i--) {
            o.write((int) (v >>> (8 * i)) & 0xFF);
        }
    }
}
