package io.vnicd.devmodel.dos;

import static io.vnicd.devmodel.packet.TestFrames.ethernet;
import static io.vnicd.devmodel.packet.TestFrames.ipv4;
import static io.vnicd.devmodel.packet.TestFrames.tcp;
import static io.vnicd.devmodel.packet.TestFrames.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vnicd.devmodel.classify.Allocations;
import io.vnicd.devmodel.classify.Classifier;
import io.vnicd.devmodel.classify.FlowCache;
import io.vnicd.devmodel.classify.FlowKey;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A simulated receive path, tick by tick: a guest's ring drains a fixed number of frames per tick; a normal
 * TCP flow and a UDP flood both head for it. Time is a counter, so the outcome is exact.
 */
class DosContainmentTest {
    static final long TICK = 1_000_000; // 1 ms of simulated time
    static final int VICTIM_RING = 1;
    static final int STANDBY_RING = io.vnicd.devmodel.classify.Target.Special.STANDBY.id();
    static final int NORMAL_PER_TICK = 50;
    static final int ATTACK_PER_NORMAL = 20;
    static final int STANDBY_BUDGET = 10;

    private final long[] now = {0};
    private Classifier classifier;
    private DosContainment dos;
    private MemorySegment normal;
    private MemorySegment[] attack;

    static int ip(int a, int b, int c, int d) {
        return a << 24 | b << 16 | c << 8 | d;
    }

    @BeforeEach
    void setUp() throws RuleSetException {
        classifier = new Classifier();
        classifier.install(List.of(), List.of(new RuleSpec("vm1", "root", 0, Map.of("dst-ip", "10.0.0.1"), "ring:" + VICTIM_RING)));
        dos = new DosContainment(classifier, STANDBY_BUDGET, TICK, () -> now[0]);
        normal = MemorySegment.ofArray(ethernet(1, 2, new int[0], 0x0800, ipv4(ip(192, 0, 2, 7), ip(10, 0, 0, 1), 6, new byte[0], 0, tcp(40000, 80))));
        attack = new MemorySegment[4];
        for (int i = 0; i < attack.length; i++) {
            attack[i] = MemorySegment.ofArray(ethernet(1, 2, new int[0], 0x0800,
                    ipv4(ip(203, 0, 113, 10 + i), ip(10, 0, 0, 1), 17, new byte[0], 0, udp(1000 + i, 53))));
        }
    }

    /** A ring that holds {@code capacity} frames and hands {@code drainPerTick} of them to the guest per tick. */
    static final class Ring {
        final int capacity;
        final int drainPerTick;
        final java.util.ArrayDeque<Boolean> frames = new java.util.ArrayDeque<>();
        long deliveredNormal;
        long deliveredAttack;
        long overflowed;

        Ring(int capacity, int drainPerTick) {
            this.capacity = capacity;
            this.drainPerTick = drainPerTick;
        }

        void offer(boolean isNormal) {
            if (frames.size() == capacity) {
                overflowed++;
            } else {
                frames.add(isNormal);
            }
        }

        void drain() {
            for (int i = 0; i < drainPerTick && !frames.isEmpty(); i++) {
                if (frames.poll()) {
                    deliveredNormal++;
                } else {
                    deliveredAttack++;
                }
            }
        }
    }

    /** Runs the ticks; returns the victim ring and the standby ring. */
    private Ring[] simulate(int ticks) {
        return simulate(ticks, null);
    }

    private Ring[] simulate(int ticks, FlowCache cache) {
        Ring victim = new Ring(256, 100);
        Ring standby = new Ring(64, 64);
        PacketHeaders h = new PacketHeaders();
        FlowKey key = new FlowKey();
        int perTick = NORMAL_PER_TICK * (ATTACK_PER_NORMAL + 1);
        for (int t = 0; t < ticks; t++) {
            now[0] = t * TICK;
            for (int i = 0; i < perTick; i++) {
                boolean isNormal = i % (ATTACK_PER_NORMAL + 1) == 0;
                MemorySegment f = isNormal ? normal : attack[i & 3];
                PacketParser.parse(f, 0, (int) f.byteSize(), h);
                int target = cache == null ? dos.steer(h, key) : dos.steer(h, key, cache);
                if (target == VICTIM_RING) {
                    victim.offer(isNormal);
                } else if (target == STANDBY_RING) {
                    standby.offer(isNormal);
                }
            }
            victim.drain();
            standby.drain();
        }
        return new Ring[] {victim, standby};
    }

    @Test
    void shouldHoldTheNormalFlowWhileAnotherFloods() throws RuleSetException {
        int ticks = 200;
        long normalSent = (long) NORMAL_PER_TICK * ticks;
        long attackSent = normalSent * ATTACK_PER_NORMAL;

        Ring[] uncontained = simulate(ticks);
        assertTrue(uncontained[0].deliveredNormal < normalSent / 4,
                "without containment the flood starves the normal flow: " + uncontained[0].deliveredNormal + " of " + normalSent);

        dos.contain(List.of(new AttackDescriptor("udp-flood", "203.0.113.0/24", null, "udp", null, null, 0)));
        Ring[] contained = simulate(ticks);
        Ring victim = contained[0];
        Ring standby = contained[1];
        assertEquals(normalSent, victim.deliveredNormal, "every normal frame is delivered");
        assertEquals(0, victim.deliveredAttack);
        assertEquals(0, victim.overflowed);
        assertEquals((long) STANDBY_BUDGET * ticks, standby.deliveredAttack, "the attack gets its budget, no more");
        assertEquals(attackSent, dos.matched());
        assertEquals((long) STANDBY_BUDGET * ticks, dos.admitted());
        assertEquals(attackSent - dos.admitted(), dos.dropped());
        assertEquals(attackSent, dos.matched("udp-flood"));
        assertEquals(dos.dropped(), dos.dropped("udp-flood"));
        assertEquals(normalSent * 2 + attackSent, classifier.hits("root", "vm1"),
                "the configured rule saw both runs' normal frames and the uncontained run's flood, not the contained flood");
    }

    @Test
    void shouldApplyTheBudgetToFramesTheFlowCacheAnswers() throws RuleSetException {
        dos.contain(List.of(new AttackDescriptor("udp-flood", "203.0.113.0/24", null, "udp", null, null, 0)));
        int ticks = 50;
        FlowCache cache = new FlowCache(256);
        Ring[] rings = simulate(ticks, cache);
        assertTrue(cache.hits() > cache.misses(), "the five flows are answered from the cache");
        assertEquals((long) NORMAL_PER_TICK * ticks, rings[0].deliveredNormal);
        assertEquals((long) STANDBY_BUDGET * ticks, dos.admitted());
        assertEquals(dos.matched() - dos.admitted(), dos.dropped());
        assertEquals((long) NORMAL_PER_TICK * ATTACK_PER_NORMAL * ticks, dos.matched("udp-flood"));
    }

    @Test
    void shouldGiveAnAttackWithARateItsOwnBudget() throws RuleSetException {
        dos.contain(List.of(
                new AttackDescriptor("slow", "203.0.113.10", null, null, null, null, 3),
                new AttackDescriptor("rest", "203.0.113.0/24", null, "udp", null, "53", 0)));
        simulate(10);
        assertEquals(30, dos.admitted("slow"));
        assertEquals(100, dos.admitted("rest"));
        assertEquals(dos.matched("slow") + dos.matched("rest"), dos.matched());
        assertEquals(dos.admitted() + dos.dropped(), dos.matched());
    }

    @Test
    void shouldReleaseAttacksAndRefuseBadDescriptors() throws RuleSetException {
        dos.contain(List.of(new AttackDescriptor("flood", "203.0.113.0/24", null, null, null, null, 0)));
        RuleSetException e = assertThrows(RuleSetException.class, () -> dos.contain(List.of(
                new AttackDescriptor("everything", null, null, null, null, null, 0),
                new AttackDescriptor("bad", "203.0.113.0/99", null, null, null, null, 0))));
        assertTrue(e.getMessage().contains("'everything'") && e.getMessage().contains("contain all traffic"), e.getMessage());
        RuleSetException compileError = assertThrows(RuleSetException.class, () -> dos.contain(List.of(
                new AttackDescriptor("bad", "203.0.113.0/99", null, null, null, null, 0))));
        assertTrue(compileError.getMessage().contains("dos:bad") && compileError.getMessage().contains("/99"), compileError.getMessage());
        assertEquals(List.of("flood"), dos.attacks().stream().map(AttackDescriptor::name).toList(), "the containment in force stays");

        simulate(1);
        assertTrue(dos.matched() > 0);
        dos.releaseAll();
        long matched = dos.matched();
        Ring[] after = simulate(1);
        assertEquals(matched, dos.matched(), "released traffic is no longer caught");
        assertTrue(after[0].deliveredAttack > 0);
    }

    @Test
    void shouldSteerWithoutAllocating() throws RuleSetException {
        dos.contain(List.of(new AttackDescriptor("udp-flood", "203.0.113.0/24", null, "udp", null, null, 0)));
        PacketHeaders h = new PacketHeaders();
        FlowKey key = new FlowKey();
        long sink = steer(h, key);
        long before = Allocations.allocatedByThisThread();
        sink += steer(h, key);
        long allocated = Allocations.allocatedByThisThread() - before;
        assertTrue(allocated < Allocations.TOLERANCE, allocated + " bytes allocated (sink " + sink + ")");
    }

    private long steer(PacketHeaders h, FlowKey key) {
        long sum = 0;
        for (int i = 0; i < 1_000_000; i++) {
            now[0] += 1000;
            MemorySegment f = (i & 7) == 0 ? normal : attack[i & 3];
            PacketParser.parse(f, 0, (int) f.byteSize(), h);
            sum += dos.steer(h, key);
        }
        return sum;
    }
}
