package io.vnicd.devmodel.ring;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReceiveRingTest {
    @Test
    void shouldKeepEachFlowOnOneSoftwareRingInOrder() {
        // Flow id = target field of the entry; hash = flow id.
        ReceiveRing ring = new ReceiveRing("vf0", ReceiveRing.Purpose.VF, 64, 4, 64, RingEntry::target, e -> { });
        for (int i = 0; i < 40; i++) {
            ring.offer(RingEntry.pack(i, 60, i % 8));
        }
        assertEquals(40, ring.fanOut(1000));
        for (int r = 0; r < 4; r++) {
            List<Long> entries = new ArrayList<>();
            ring.softwareRing(r).drain(entries::add, 100);
            assertEquals(10, entries.size(), "8 flows over 4 rings: two flows of 5 frames each");
            long[] lastIndex = {-1, -1, -1, -1, -1, -1, -1, -1};
            for (long entry : entries) {
                int flow = RingEntry.target(entry);
                assertEquals(r, ring.softwareRingIndex(flow), "a flow always lands on the same ring");
                assertTrue(RingEntry.bufferIndex(entry) > lastIndex[flow], "a flow's frames stay in order");
                lastIndex[flow] = RingEntry.bufferIndex(entry);
            }
        }
        assertEquals(0, ring.drops());
    }

    @Test
    void shouldHandEveryDroppedEntryToTheDropHandler() {
        List<Long> dropped = new ArrayList<>();
        ReceiveRing standby = new ReceiveRing("standby", ReceiveRing.Purpose.STANDBY, 8, 1, 2, e -> 0, dropped::add);
        for (int i = 0; i < 10; i++) {
            standby.offer(RingEntry.pack(i, 60, 0));
        }
        assertEquals(2, standby.hardwareRing().fullDrops(), "hardware ring of 8 refuses 2 of 10");
        assertEquals(3, standby.fanOut(3), "the budget bounds one fan-out");
        assertEquals(5, standby.fanOut(100));
        assertEquals(6, dropped.size(), "software ring of 2 keeps 2 of 8");
        assertEquals(8, standby.drops());
        assertEquals(2, standby.softwareRing(0).size());
    }
}
