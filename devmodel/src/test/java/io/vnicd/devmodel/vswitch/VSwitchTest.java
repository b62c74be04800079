package io.vnicd.devmodel.vswitch;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The switch over ports of any kind: access ports in VLANs, a trunk carrying every VLAN, busy and dropping ports. */
class VSwitchTest {
    private static final CounterRegistry REGISTRY = CounterRegistry.create();

    /** A port that records what it is sent (and in which VLAN), or answers a fixed result. */
    static final class Recorder implements Port {
        final String name;
        final List<Integer> vlans = new ArrayList<>();
        int answer = SENT;
        final CounterBlock counters = REGISTRY.register("port", Map.of(), PortCounter.values());

        Recorder(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Kind kind() {
            return Kind.VF;
        }

        @Override
        public int send(MemorySegment frame, long offset, int length, int vlan) {
            if (answer == SENT) {
                vlans.add(vlan);
            }
            return answer;
        }

        @Override
        public boolean linkUp() {
            return true;
        }

        @Override
        public CounterBlock counters() {
            return counters;
        }

        @Override
        public int poll() {
            return 0;
        }

        @Override
        public void failed(Throwable cause) {
        }
    }

    private static MemorySegment frame(long dst, long src) {
        MemorySegment f = Arena.ofAuto().allocate(64);
        MacAddress.write(f, 0, dst);
        MacAddress.write(f, 6, src);
        return f;
    }

    @Test
    void shouldFloodWithinTheVlanAndToTrunksAndLearnTrunkAddressesPerVlan() {
        VSwitch sw = new VSwitch();
        Recorder a = new Recorder("a");
        Recorder b = new Recorder("b");
        Recorder c = new Recorder("c");
        Recorder up = new Recorder("uplink");
        sw.addPort(a, 10);
        sw.addPort(b, 10);
        sw.addPort(c, 20);
        sw.addPort(up, VSwitch.TRUNK);
        long macA = 0x02_00_00_00_00_0aL;
        long far = 0x02_00_00_00_00_ffL;
        sw.switchFrame(0, 0, frame(MacAddress.BROADCAST, macA), 0, 64);
        assertEquals(List.of(10), b.vlans, "flooded within VLAN 10");
        assertEquals(List.of(), c.vlans, "not into VLAN 20");
        assertEquals(List.of(10), up.vlans, "and to the trunk, tagged 10");
        // An answer from the wire in VLAN 10 reaches a; the same address in VLAN 20 is another station.
        sw.switchFrame(3, 10, frame(macA, far), 0, 64);
        assertEquals(1, a.counters.get(PortCounter.OUT_FRAMES));
        assertEquals(List.of(10), b.vlans, "a known destination is not flooded");
        assertEquals(3, sw.lookup(0, 10, far), "the far end learned behind the trunk in VLAN 10");
        assertEquals(VSwitch.FLOOD, sw.lookup(2, 20, far), "unknown in VLAN 20");
        assertEquals(VSwitch.FILTER, sw.lookup(3, 10, far));
    }

    @Test
    void shouldReportABusyDestinationWithoutCountingAndCountDrops() {
        VSwitch sw = new VSwitch();
        Recorder a = new Recorder("a");
        Recorder b = new Recorder("b");
        sw.addPort(a, 0);
        sw.addPort(b, 0);
        long macA = 0x02_00_00_00_00_01L;
        long macB = 0x02_00_00_00_00_02L;
        sw.addStaticEntry(macB, 0, 1);
        b.answer = Port.BUSY;
        assertEquals(Port.BUSY, sw.switchFrame(0, 0, frame(macB, macA), 0, 64));
        assertEquals(0, b.counters.get(PortCounter.OUT_DROPS), "busy is the sender's to decide");
        assertEquals(1, a.counters.get(PortCounter.IN_FRAMES));
        b.answer = Port.DROPPED;
        assertEquals(Port.DROPPED, sw.deliver(1, 0, frame(macB, macA), 0, 64));
        assertEquals(1, b.counters.get(PortCounter.OUT_DROPS));
        b.answer = Port.BUSY;
        sw.switchFrame(0, 0, frame(MacAddress.BROADCAST, macA), 0, 64);
        assertEquals(2, b.counters.get(PortCounter.OUT_DROPS), "a flood does not wait for a busy port: dropped");
        assertEquals(Port.SENT, sw.switchFrame(0, 0, frame(macB, macA), 0, 10));
        assertEquals(1, a.counters.get(PortCounter.RUNTS));
    }
}
