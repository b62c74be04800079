package io.vnicd.devmodel.counter;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CounterRegistryTest {
    enum Kind implements CounterType {
        FRAMES, BYTES, DROPS, WAITS, MORE;

        @Override
        public String description() {
            return name();
        }
    }

    @Test
    void shouldGiveEachBlockZeroedSlotsOfItsOwnOnACacheLine() {
        long[] now = {0};
        CounterRegistry r = new CounterRegistry(() -> now[0]);
        CounterBlock a = r.register("port", Map.of("port", "a"), Kind.values());
        CounterBlock b = r.register("port", Map.of("port", "b"), Kind.values());
        a.add(Kind.BYTES, 1500);
        a.increment(Kind.FRAMES);
        b.increment(Kind.FRAMES);
        assertEquals(1, a.get(Kind.FRAMES));
        assertEquals(1500, a.get(Kind.BYTES));
        assertEquals(1, b.get(Kind.FRAMES));
        assertEquals(0, b.get(Kind.BYTES));
        assertEquals(0, b.firstSlot % 8, "a block of five starts on a cache line");
        assertNotEquals(a.firstSlot / 8, b.firstSlot / 8, "two owners never share a line");
        assertEquals(List.of(a, b), r.blocks());
        assertEquals(List.of(b), r.find("port", Map.of("port", "b")));
        assertEquals("bytes", Kind.BYTES.reportName());
    }

    @Test
    void shouldReuseFreedSlotsOnlyOnceTheyRested() {
        long[] now = {0};
        CounterRegistry r = new CounterRegistry(() -> now[0]);
        CounterBlock a = r.register("q", Map.of(), Kind.values());
        a.add(Kind.DROPS, 7);
        int slot = a.firstSlot;
        a.close();
        assertTrue(a.isClosed());
        assertFalse(r.blocks().contains(a));
        CounterBlock early = r.register("q", Map.of(), Kind.values());
        assertNotEquals(slot, early.firstSlot, "freed slots rest before another owner gets them");
        now[0] += CounterRegistry.REUSE_DELAY_NANOS;
        CounterBlock late = r.register("q", Map.of(), Kind.values());
        assertEquals(slot, late.firstSlot);
        assertEquals(0, late.get(Kind.DROPS), "reused slots start at zero");
    }

    @Test
    void shouldHandOutSingleCountersInChunksAndGiveChunksBack() {
        long[] now = {0};
        CounterRegistry r = new CounterRegistry(() -> now[0]);
        CounterSlots slots = new CounterSlots(r, "rules", Map.of("pf", "pf0"));
        List<Counter> taken = new ArrayList<>();
        for (int i = 0; i < CounterSlots.CHUNK * 3; i++) {
            taken.add(slots.take());
        }
        assertEquals(3, r.blocks().size(), "three chunks for three chunks' worth of rules");
        taken.get(5).increment();
        taken.get(5).add(2);
        assertEquals(3, taken.get(5).get());
        assertEquals(0, taken.get(6).get());
        for (int i = 0; i < CounterSlots.CHUNK; i++) {
            taken.get(i).release();
        }
        assertEquals(2, r.blocks().size(), "a chunk whose counters all went back is freed");
        for (Counter c : taken.subList(CounterSlots.CHUNK * 2, taken.size())) {
            c.release();
        }
        assertEquals(2, r.blocks().size(), "the chunk being filled stays");
    }
}
