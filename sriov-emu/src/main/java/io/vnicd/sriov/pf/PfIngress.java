package io.vnicd.sriov.pf;

import io.vnicd.devmodel.classify.Classifier;
import io.vnicd.devmodel.classify.FlowCache;
import io.vnicd.devmodel.classify.FlowKey;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.classify.Target;
import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterSlots;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.devmodel.dos.DosContainment;
import io.vnicd.devmodel.monitor.MonitorRing;
import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.port.PortIngress;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.devmodel.vswitch.VSwitch;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * What a PF does with a frame that enters at one of its ports (a VF transmitted it, the uplink received it),
 * before its switch: the VF's source check (spoofchk), then the multi-level classifier with DoS containment rules
 * first, which decides whether the frame is switched as usual, steered to one port, copied to the monitor ring,
 * only captured, queued on the standby ring or dropped. With no rules and no contained attacks the frame goes
 * straight to the switch without being parsed.
 * <p>
 * A frame whose one destination cannot take it yet (its quota is full) makes its sender wait (US8392565): the
 * answer is a wait ticket naming the destination, and the sender offers the frame again with {@link #onRetry}
 * until the destination takes it or the wait passes {@link #maxWaitNanos}; then it is dropped and counted, and the
 * destination counts as stalled for {@link #STALL_NANOS}: frames for it meanwhile are dropped without waiting, so
 * that a receiver that stopped cannot slow its senders' other traffic for long.
 * <p>
 * Runs on the PF's data-path thread; rules and attacks may be replaced from any thread (copy-on-write in the
 * classifier).
 */
final class PfIngress implements PortIngress {
    /** Default bound of a sender's wait for a destination's quota. */
    static final long DEFAULT_MAX_WAIT_NANOS = 5_000_000L;
    /** How long a destination a sender gave up on is not waited for. */
    static final long STALL_NANOS = 100_000_000L;

    private final VSwitch vswitch;
    private final Classifier classifier;
    private final DosContainment dos;
    private final MonitorRing monitor;
    private final StandbyRing standby;
    private final CounterBlock counters;
    private final CounterSlots ruleCounters;
    private final PacketHeaders headers = new PacketHeaders();
    private final FlowKey key = new FlowKey();
    /** Exact-match cache of recent flows' results (counters stay exact: a hit replays the walk's counts). */
    private final FlowCache cache = new FlowCache(4096);
    private volatile long maxWaitNanos;
    /** Per port: the only source MAC it may send from, or -1 (no check: trusted, no MAC assigned, not a VF). */
    private volatile long[] allowedSource = new long[0];
    /** Per port: until when (nanoTime) it is not waited for, once a sender gave up on it. Data-path thread. */
    private long[] stalledUntil = new long[0];
    private volatile boolean inspect;
    private volatile boolean hasRules;
    private volatile boolean hasAttacks;

    /**
     * @param standbyFramesPerSecond the budget that contained attack traffic shares on its way to the standby ring
     * @param monitor                the PF's monitor ring (shared memory read by `vnicctl capture`)
     * @param ports                  a port name's number in the switch, or -1
     */
    PfIngress(VSwitch vswitch, long standbyFramesPerSecond, MonitorRing monitor, CounterBlock counters,
              Map<String, String> labels, ToIntFunction<String> ports, long maxWaitNanos) {
        this.vswitch = vswitch;
        this.monitor = monitor;
        this.counters = counters;
        this.maxWaitNanos = maxWaitNanos;
        this.ruleCounters = new CounterSlots(CounterRegistry.process(), "rules", labels);
        this.classifier = new Classifier(ruleCounters, ports);
        this.dos = new DosContainment(classifier, standbyFramesPerSecond, 1_000_000_000L, System::nanoTime, ruleCounters);
        this.standby = new StandbyRing(counters);
    }

    /**
     * A frame that entered at port.
     *
     * @param frameVlan the frame's VLAN on a trunk port (the uplink), ignored for a VF
     * @return {@link PortIngress#SENT} (switched, or dropped and counted) or a wait ticket
     */
    @Override
    public int onFrame(int port, int frameVlan, MemorySegment frame, long offset, int length) {
        long[] sources = allowedSource;
        if (port < sources.length && sources[port] >= 0 && length >= 12
                && MacAddress.read(frame, offset + 6) != sources[port]) {
            // spoofchk (ip link set DEV vf N spoofchk on; Crossbow's mac-nospoof): only the VF's own address
            counters.increment(PfCounter.SPOOFED.ordinal());
            vswitch.counters(port).increment(PortCounter.SPOOFED.ordinal());
            return Port.SENT;
        }
        if (!inspect) {
            return switched(port, frameVlan, frame, offset, length);
        }
        PacketHeaders h = headers;
        PacketParser.parse(frame, offset, length, h);
        int target = dos.steer(h, key, cache);
        if (target == Classifier.MISS || target == Target.Special.SWITCH.id()) {
            return switched(port, frameVlan, frame, offset, length);
        }
        if (target == Target.Special.STANDBY.id()) {
            standby.offer(port, frameVlan, frame, offset, length);
            return Port.SENT;
        }
        if (target == Target.Special.MONITOR.id()) {
            monitor.offer(frame, offset, length);
            counters.increment(PfCounter.MONITORED.ordinal());
            return switched(port, frameVlan, frame, offset, length);
        }
        if (target == Target.Special.MONITOR_ONLY.id()) {
            monitor.offer(frame, offset, length);
            counters.increment(PfCounter.MONITORED.ordinal());
            return Port.SENT;
        }
        if (target >= 0 && target < vswitch.portCount()) {
            counters.increment(PfCounter.STEERED.ordinal());
            int r = vswitch.forward(port, target, frameVlan, frame, offset, length);
            return r == Port.BUSY ? waitFor(target, vswitch.vlanOf(port, frameVlan)) : Port.SENT;
        }
        // DROP by a rule or over a DoS budget (counted by the rule, or the containment, and here), or a port that
        // left the switch since the rules were compiled
        counters.increment(PfCounter.RULE_DROPS.ordinal());
        vswitch.counters(port).increment(PortCounter.RULE_DROPS.ordinal());
        return Port.SENT;
    }

    private int switched(int port, int frameVlan, MemorySegment frame, long offset, int length) {
        if (vswitch.switchFrame(port, frameVlan, frame, offset, length) != Port.BUSY) {
            return Port.SENT;
        }
        int vlan = vswitch.vlanOf(port, frameVlan);
        int egress = vswitch.lookup(port, vlan, MacAddress.read(frame, offset));
        return egress >= 0 ? waitFor(egress, vlan) : Port.SENT;
    }

    /** The destination egress is busy: a ticket to wait on, or, where it stalled before, an immediate drop. */
    private int waitFor(int egress, int vlan) {
        long[] s = stalledUntil;
        if (egress < s.length && s[egress] - System.nanoTime() > 0) {
            dropWaiting(egress);
            return Port.SENT;
        }
        vswitch.counters(egress).increment(PortCounter.WAITS.ordinal());
        return (egress + 1) << 12 | vlan;
    }

    /** A frame that got ticket, offered again by its sender after waitedNanos. */
    @Override
    public int onRetry(MemorySegment frame, long offset, int length, int ticket, long waitedNanos) {
        int egress = (ticket >>> 12) - 1;
        int vlan = ticket & 0xfff;
        if (egress >= vswitch.portCount()) {
            return Port.SENT;
        }
        int r = vswitch.deliver(egress, vlan, frame, offset, length);
        if (r != Port.BUSY) {
            return Port.SENT;
        }
        if (waitedNanos < maxWaitNanos) {
            return ticket;
        }
        dropWaiting(egress);
        if (egress >= stalledUntil.length) {
            stalledUntil = java.util.Arrays.copyOf(stalledUntil, vswitch.portCount());
        }
        stalledUntil[egress] = System.nanoTime() + STALL_NANOS;
        return Port.SENT;
    }

    /** How long a sender may wait for a destination's quota before its frame is dropped. Any thread. */
    void setMaxWait(long nanos) {
        maxWaitNanos = nanos;
    }

    private void dropWaiting(int egress) {
        counters.increment(PfCounter.WAIT_DROPS.ordinal());
        vswitch.counters(egress).increment(PortCounter.WAIT_DROPS.ordinal());
    }

    /** Serves the standby ring after the round's normal traffic (see {@link StandbyRing}). */
    int serveStandby() {
        return standby.isEmpty() ? 0 : standby.drain((ingress, vlan, frame, offset, length) ->
                vswitch.switchFrame(ingress, vlan, frame, offset, length));
    }

    int standbyDepth() {
        return standby.depth();
    }

    /** Lets the VF at port send only from mac (-1: from any address, a trusted VF). Any thread. */
    synchronized void setAllowedSource(int port, long mac) {
        long[] a = java.util.Arrays.copyOf(allowedSource, Math.max(allowedSource.length, port + 1));
        for (int i = allowedSource.length; i < a.length; i++) {
            a[i] = -1;
        }
        a[port] = mac;
        allowedSource = a;
    }

    /** True when the frames entering at port are judged (rules, containment, monitoring, or its source checked). */
    boolean judges(int port) {
        long[] a = allowedSource;
        return inspect || (port < a.length && a[port] >= 0);
    }

    /**
     * Replaces the rules (validated as a whole; on error nothing changes). Actions name ports by name.
     *
     * @throws RuleSetException naming each bad rule and its problem
     */
    synchronized void installRules(List<TableSpec> tables, List<RuleSpec> rules) throws RuleSetException {
        classifier.install(tables, rules);
        hasRules = !rules.isEmpty() || !tables.isEmpty();
        inspect = hasRules || hasAttacks;
    }

    /** Contains these attacks (an empty list releases all). */
    synchronized void contain(List<AttackDescriptor> attacks) throws RuleSetException {
        dos.contain(attacks);
        hasAttacks = !attacks.isEmpty();
        inspect = hasRules || hasAttacks;
    }

    Classifier classifier() {
        return classifier;
    }

    DosContainment dos() {
        return dos;
    }

    MonitorRing monitor() {
        return monitor;
    }

    /** Gives the cache's counters back (the PF stops). */
    void close() {
        standby.clear();
        cache.close();
    }
}
