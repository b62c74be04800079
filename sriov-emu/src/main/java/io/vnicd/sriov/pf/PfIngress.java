package io.vnicd.sriov.pf;

import io.vnicd.devmodel.classify.Classifier;
import io.vnicd.devmodel.classify.FlowCache;
import io.vnicd.devmodel.classify.FlowKey;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.devmodel.dos.DosContainment;
import io.vnicd.devmodel.monitor.MonitorRing;
import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.devmodel.vswitch.VSwitch;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * What a PF does with a frame one of its VFs transmitted, before its switch: the multi-level classifier
 * (with DoS containment rules first) decides whether the frame is switched as usual, steered to one VF,
 * copied to the monitor ring, only captured, or dropped. With no rules and no contained attacks the frame
 * goes straight to the switch without being parsed.
 * <p>
 * Rule actions as configured: {@code vf:NAME} (steer to that VF), {@code monitor} (copy to the monitor ring,
 * then switch), {@code monitor-only} (to the monitor ring only), {@code switch} (the switch decides),
 * {@code drop}, {@code table:NAME} (continue in a sub-table). Runs on the PF's data-path thread; rules and
 * attacks may be replaced from any thread (copy-on-write in the classifier).
 */
final class PfIngress {
    static final int SWITCH = 1000;
    static final int MONITOR = 1001;
    static final int MONITOR_ONLY = 1002;
    static final int STANDBY = 1003;
    private static final VarHandle COUNTS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int DROPPED = 0;
    private static final int STEERED = 1;
    private static final int MONITORED = 2;
    private static final int SPOOFED = 3;

    private final VSwitch vswitch;
    private final Classifier classifier = new Classifier();
    private final DosContainment dos;
    private final MonitorRing monitor;
    private final PacketHeaders headers = new PacketHeaders();
    private final FlowKey key = new FlowKey();
    /** Exact-match cache of recent flows' results (counters stay exact: a hit replays the walk's counts). */
    private final FlowCache cache = new FlowCache(4096);
    private final long[] counts = new long[4];
    /** Per VF port: the only source MAC it may send from, or -1 (no check: trusted, or no MAC assigned). */
    private volatile long[] allowedSource = new long[0];
    private volatile boolean inspect;
    private volatile boolean hasRules;
    private volatile boolean hasAttacks;

    /**
     * @param standbyFramesPerSecond the budget of the standby ring that contained attack traffic shares
     * @param monitor                the PF's monitor ring (shared memory read by `vnicctl capture`)
     */
    PfIngress(VSwitch vswitch, long standbyFramesPerSecond, MonitorRing monitor) {
        this.vswitch = vswitch;
        this.monitor = monitor;
        this.dos = new DosContainment(classifier, STANDBY, standbyFramesPerSecond, 1_000_000_000L, System::nanoTime);
    }

    /** A frame transmitted by the VF at port. */
    void onFrame(int port, MemorySegment frame, long offset, int length) {
        long[] sources = allowedSource;
        if (port < sources.length && sources[port] >= 0 && MacAddress.read(frame, offset + 6) != sources[port]) {
            // spoofchk (ip link set DEV vf N spoofchk on; Crossbow's mac-nospoof): only the VF's own address
            add(SPOOFED);
            return;
        }
        if (!inspect) {
            vswitch.switchFrame(port, frame, offset, length);
            return;
        }
        PacketParser.parse(frame, offset, length, headers);
        int target = dos.steer(headers, key, cache);
        switch (target) {
            case Classifier.MISS, SWITCH, STANDBY -> vswitch.switchFrame(port, frame, offset, length);
            case MONITOR -> {
                monitor.offer(frame, offset, length);
                add(MONITORED);
                vswitch.switchFrame(port, frame, offset, length);
            }
            case MONITOR_ONLY -> {
                monitor.offer(frame, offset, length);
                add(MONITORED);
            }
            default -> {
                if (target >= 0 && target < vswitch.portCount()) {
                    add(STEERED);
                    vswitch.forward(port, target, frame, offset, length);
                } else {
                    // DROP by a rule or by the standby budget; counted by rule and here
                    add(DROPPED);
                }
            }
        }
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

    /** True when the VF at port's frames are judged (rules, containment, monitoring, or its source checked). */
    boolean judges(int port) {
        long[] a = allowedSource;
        return inspect || (port < a.length && a[port] >= 0);
    }

    /** Frames a VF sent from an address not its own, dropped. */
    long spoofed() {
        return (long) COUNTS.getOpaque(counts, SPOOFED);
    }

    private void add(int counter) {
        counts[counter]++;
    }

    /**
     * Replaces the rules (validated as a whole; on error nothing changes). Actions name VFs by name.
     *
     * @throws RuleSetException naming each bad rule and its problem
     */
    synchronized void installRules(List<TableSpec> tables, List<RuleSpec> rules, ToIntFunction<String> portOf)
            throws RuleSetException {
        List<RuleSpec> translated = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (RuleSpec r : rules) {
            String action = translate(r.action(), portOf);
            if (action == null) {
                problems.add("rule '" + r.name() + "': action '" + r.action()
                        + "' is not vf:NAME (of an existing VF), switch, monitor, monitor-only, drop or table:NAME");
            } else {
                translated.add(new RuleSpec(r.name(), r.table(), r.order(), r.match(), action));
            }
        }
        List<TableSpec> tableSpecs = new ArrayList<>();
        for (TableSpec t : tables) {
            String miss = t.miss() == null ? null : translate(t.miss(), portOf);
            if (t.miss() != null && miss == null) {
                problems.add("table '" + t.name() + "': miss action '" + t.miss() + "' is not valid");
            }
            tableSpecs.add(new TableSpec(t.name(), miss));
        }
        if (!problems.isEmpty()) {
            throw new RuleSetException(problems);
        }
        classifier.install(tableSpecs, translated);
        hasRules = !translated.isEmpty();
        inspect = hasRules || hasAttacks;
    }

    private static String translate(String action, ToIntFunction<String> portOf) {
        if (action == null) {
            return null;
        }
        String a = action.trim();
        if (a.startsWith("vf:")) {
            int port = portOf.applyAsInt(a.substring(3));
            return port < 0 ? null : "ring:" + port;
        }
        return switch (a) {
            case "switch" -> "ring:" + SWITCH;
            case "monitor" -> "ring:" + MONITOR;
            case "monitor-only" -> "ring:" + MONITOR_ONLY;
            case "drop" -> "drop";
            default -> a.startsWith("table:") ? a : null;
        };
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

    long dropped() {
        return (long) COUNTS.getOpaque(counts, DROPPED);
    }

    long steered() {
        return (long) COUNTS.getOpaque(counts, STEERED);
    }

    long monitored() {
        return (long) COUNTS.getOpaque(counts, MONITORED);
    }
}
