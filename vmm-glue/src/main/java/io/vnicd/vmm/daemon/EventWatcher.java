package io.vnicd.vmm.daemon;

import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.sriov.pf.VirtualFunction;
import io.vnicd.sriov.uplink.Failover;
import io.vnicd.sriov.uplink.Uplink;

import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Turns the daemon's state into {@link VnicdEvent}s for its subscribers: a thread of its own looks every 50 ms
 * (from the first subscription on) at what each VF's endpoint, each uplink's NICs and its failover history say, and
 * reports what changed, in order. It reads only what the data path publishes and never waits for it. A subscriber
 * that throws is logged and kept; a slow one delays only the events.
 */
final class EventWatcher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(EventWatcher.class.getName());
    private static final long PERIOD_MILLIS = 50;

    private final Vnicd vnicd;
    private final List<Consumer<VnicdEvent>> subscribers = new CopyOnWriteArrayList<>();
    private final Map<String, Boolean> connected = new HashMap<>();
    private final Map<String, Boolean> link = new HashMap<>();
    private final Map<String, String> nics = new HashMap<>();
    private final Map<String, Integer> failovers = new HashMap<>();
    private Set<String> vfs;
    private Thread thread;
    private volatile boolean closed;

    EventWatcher(Vnicd vnicd) {
        this.vnicd = vnicd;
    }

    synchronized void subscribe(Consumer<VnicdEvent> subscriber) {
        subscribers.add(subscriber);
        if (thread == null && !closed) {
            look(false);
            thread = Thread.ofPlatform().daemon().name("vnicd-events").start(this::run);
        }
    }

    void unsubscribe(Consumer<VnicdEvent> subscriber) {
        subscribers.remove(subscriber);
    }

    private void run() {
        while (!closed) {
            try {
                Thread.sleep(PERIOD_MILLIS);
                look(true);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "event watcher: " + e, e);
            }
        }
    }

    /** Compares the state with the last look; reports the differences when report. */
    private synchronized void look(boolean report) {
        Instant now = Instant.now();
        Set<String> seen = new HashSet<>();
        for (PhysicalFunction pf : vnicd.physicalFunctions()) {
            for (VirtualFunction vf : pf.virtualFunctions()) {
                String key = pf.name() + "/" + vf.name();
                seen.add(key);
                if (report && vfs != null && !vfs.contains(key)) {
                    emit(new VnicdEvent.VfAdded(now, pf.name(), vf.name()));
                }
                boolean c = vf.connected();
                Boolean was = connected.put(key, c);
                if (report && was != null && was != c) {
                    String reason = vf.endpoint().lastCloseReason();
                    emit(c ? new VnicdEvent.FrontendConnected(now, pf.name(), vf.name())
                            : new VnicdEvent.FrontendGone(now, pf.name(), vf.name(), reason == null ? "" : reason));
                } else if (report && was == null && c) {
                    emit(new VnicdEvent.FrontendConnected(now, pf.name(), vf.name()));
                }
                boolean l = vf.device().isLinkReady();
                Boolean wasUp = link.put(key, l);
                if (report && wasUp != null && wasUp != l) {
                    emit(new VnicdEvent.LinkChanged(now, pf.name(), vf.name(), l));
                }
            }
            Uplink up = pf.uplink();
            if (up != null) {
                for (Uplink.NicStatus n : up.nics()) {
                    String key = pf.name() + "/" + n.name();
                    String was = nics.put(key, n.state());
                    if (report && was != null && !was.equals(n.state())) {
                        emit(new VnicdEvent.NicState(now, pf.name(), n.name(), was, n.state()));
                    }
                }
                List<Failover> history = up.failovers();
                Integer before = failovers.put(pf.name(), history.size());
                if (report && before != null) {
                    for (Failover f : history.subList(Math.min(before, history.size()), history.size())) {
                        emit(new VnicdEvent.Failover(now, pf.name(), f.from(), f.to(), f.reason(), f.stations(), f.remapMicros()));
                    }
                }
            }
        }
        if (report && vfs != null) {
            for (String key : vfs) {
                if (!seen.contains(key)) {
                    int slash = key.indexOf('/');
                    if (Boolean.TRUE.equals(connected.get(key))) {
                        emit(new VnicdEvent.FrontendGone(now, key.substring(0, slash), key.substring(slash + 1), "the VF was removed"));
                    }
                    emit(new VnicdEvent.VfRemoved(now, key.substring(0, slash), key.substring(slash + 1)));
                    connected.remove(key);
                    link.remove(key);
                }
            }
        }
        vfs = seen;
    }

    private void emit(VnicdEvent e) {
        for (Consumer<VnicdEvent> s : subscribers) {
            try {
                s.accept(e);
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.WARNING, () -> "an event subscriber failed on " + e + ": " + ex);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            t.interrupt();
        }
    }
}
