package io.vnicd.sriov.peer;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.port.PortIngress;
import io.vnicd.devmodel.proxy.FrameChannel;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.NativeException;
import io.vnicd.virtio.datapath.DataPathAgent;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * A proxy VNIC (US20110090915): in this daemon's switch, the port that stands for the VNICs of one peer daemon.
 * Frames the switch sends to it go into the shared-memory channel, and frames the peer put into the channel enter
 * this PF's ingress here, in their VLAN (the port is a trunk). The port outlives its channel: when the peer goes
 * away the channel is detached (frames for it are dropped and counted, its addresses flushed), and when it comes
 * back the next channel is attached to the same port.
 * <p>
 * Wake-ups are eventfds, as a VF's kicks and calls are: this side watches its own edge-triggered and never reads
 * it; it signals the peer's only when the peer said it sleeps, through the data path's guarded write. Everything
 * runs on the PF's data-path thread except {@link #linkUp}, the counters and the names.
 */
public final class ProxyPort implements Port {
    private static final System.Logger LOG = System.getLogger(ProxyPort.class.getName());
    /** Frames taken from the channel per round. */
    static final int BUDGET = 64;

    private final String pf;
    private final String name;
    private final DataPathAgent agent;
    private final CounterBlock counters;
    private final CounterBlock proxy;
    private PortIngress ingress;
    private int port = -1;
    private volatile String peer = "";
    // data path
    private FrameChannel channel;
    private EventFd wakeMe;
    private EventFd wakePeer;
    private boolean signal;
    private boolean waiting;
    private int waitTicket;
    private long waitSince;
    private int waitLength;
    private MemorySegment waitBuffer;
    private volatile boolean up;
    private final FrameChannel.Handler handler = this::received;
    private Runnable onBroken = () -> { };

    public ProxyPort(String pf, String name, DataPathAgent agent) {
        this.pf = pf;
        this.name = name;
        this.agent = agent;
        this.counters = CounterRegistry.process().register("port", Map.of("pf", pf, "port", name, "kind", "proxy"),
                PortCounter.values());
        this.proxy = CounterRegistry.process().register("proxy", Map.of("pf", pf, "port", name), ProxyCounter.values());
    }

    /** Joins the port to its PF: its switch port and the ingress its frames go to. */
    public void attachTo(int switchPort, PortIngress portIngress) {
        this.port = switchPort;
        this.ingress = portIngress;
    }

    public int switchPort() {
        return port;
    }

    /**
     * Data path (a command): the peer's channel is up. wakeMe is this side's eventfd (watched), wakePeer the peer's
     * (signalled); both were adopted as a peer's eventfds. onBroken runs (on the data path) if the peer breaks the
     * channel's layout.
     */
    public void attach(String peerName, FrameChannel c, EventFd me, EventFd other, Runnable broken) {
        channel = c;
        wakeMe = me;
        wakePeer = other;
        onBroken = broken;
        peer = peerName;
        waiting = false;
        agent.watch(me);
        up = true;
        proxy.increment(ProxyCounter.SESSIONS.ordinal());
    }

    /** Data path (a command): the peer went away; the channel is no longer used. */
    public void detach() {
        if (channel == null) {
            return;
        }
        agent.unwatch(wakeMe);
        channel = null;
        wakeMe = null;
        wakePeer = null;
        waiting = false;
        up = false;
        proxy.increment(ProxyCounter.PEER_LOSSES.ordinal());
    }

    /** The peer's name as it gave it, or "" before the first channel. */
    public String peer() {
        return peer;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Kind kind() {
        return Kind.PROXY;
    }

    @Override
    public boolean isTrunk() {
        return true;
    }

    @Override
    public CounterBlock counters() {
        return counters;
    }

    @Override
    public boolean linkUp() {
        return up;
    }

    /** This daemon's counters of the proxy: ring full, too big, no peer, corruptions, peer losses, sessions. */
    public CounterBlock proxyStatus() {
        return proxy;
    }

    @Override
    public int send(MemorySegment frame, long offset, int length, int vlan) {
        FrameChannel c = channel;
        if (c == null) {
            proxy.increment(ProxyCounter.NO_PEER.ordinal());
            return DROPPED;
        }
        if (length > c.maxFrame()) {
            proxy.increment(ProxyCounter.TOO_BIG.ordinal());
            return DROPPED;
        }
        try {
            if (!c.offer(frame, offset, length, vlan)) {
                if (c.isBroken()) {
                    broken(c.brokenReason());
                } else {
                    proxy.increment(ProxyCounter.RING_FULL.ordinal());
                }
                return DROPPED;
            }
        } catch (InternalError e) {
            // a fault in the shared memory: the peer's doing, this channel goes, not the sender's port
            broken("a fault in the channel's memory: " + e.getMessage());
            return DROPPED;
        }
        signal = true;
        return SENT;
    }

    @Override
    public void flush() {
        if (signal) {
            signal = false;
            FrameChannel c = channel;
            if (c != null && c.peerAsleep()) {
                try {
                    if (!agent.signalPeer(wakePeer)) {
                        broken("the peer's eventfd blocked the data path");
                    }
                } catch (NativeException e) {
                    broken("cannot signal the peer: " + e.getMessage());
                }
            }
        }
    }

    @Override
    public int poll() {
        FrameChannel c = channel;
        if (c == null) {
            return 0;
        }
        int work = 0;
        if (waiting) {
            int r = ingress.onRetry(waitBuffer, 0, waitLength, waitTicket, System.nanoTime() - waitSince);
            if (PortIngress.isBusy(r)) {
                waitTicket = r;
                return 0;
            }
            waiting = false;
            work++;
        }
        work += c.poll(handler, BUDGET);
        if (c.isBroken()) {
            broken(c.brokenReason());
        }
        return work;
    }

    /**
     * A frame from the peer (a private copy): into the PF. One whose destination is busy is kept here, as it was
     * judged, and offered again first at the next poll; nothing behind it overtakes it.
     */
    private int received(MemorySegment frame, long offset, int length, int vlan) {
        int r = ingress.onFrame(port, vlan, frame, offset, length);
        if (PortIngress.isBusy(r)) {
            if (waitBuffer == null || waitBuffer.byteSize() < length) {
                waitBuffer = Arena.ofAuto().allocate(Math.max(length, 2048), 64);
            }
            MemorySegment.copy(frame, offset, waitBuffer, 0, length);
            waitLength = length;
            waitTicket = r;
            waitSince = System.nanoTime();
            waiting = true;
            return FrameChannel.Handler.TAKE_AND_STOP;
        }
        return FrameChannel.Handler.TAKE;
    }

    @Override
    public boolean prepareToSleep() {
        FrameChannel c = channel;
        return c == null || (!waiting && c.prepareToSleep());
    }

    @Override
    public void wokeUp() {
        FrameChannel c = channel;
        if (c != null) {
            c.wokeUp();
        }
    }

    @Override
    public void failed(Throwable cause) {
        broken("data path failure: " + cause);
    }

    private void broken(String why) {
        if (channel == null) {
            return;
        }
        proxy.increment(ProxyCounter.CORRUPTIONS.ordinal());
        LOG.log(System.Logger.Level.ERROR, () -> pf + " " + name + ": the channel with " + peer + " is torn down: " + why);
        Runnable r = onBroken;
        detach();
        r.run();
    }

    public void close() {
        counters.close();
        proxy.close();
    }

    @Override
    public String toString() {
        return pf + " " + name + (peer.isEmpty() ? "" : " (" + peer + ")");
    }
}
