package io.vnicd.sriov.pf;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.port.Port;

import java.lang.foreign.MemorySegment;

/**
 * What stays in the switch where a VF was removed at run time, so that the other ports keep their numbers: a port
 * in no VLAN (nothing is flooded to it), whose link is down, and which takes no frame (the switch counts one sent to
 * it as an output drop on the removed VF's counters; its addresses were flushed, so only a rule naming it can).
 */
final class RemovedPort implements Port {
    private final String name;
    private final CounterBlock counters;

    RemovedPort(String vfName, CounterBlock counters) {
        this.name = vfName + " (removed)";
        this.counters = counters;
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
        return DROPPED;
    }

    @Override
    public boolean linkUp() {
        return false;
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
        // nothing runs here
    }
}
