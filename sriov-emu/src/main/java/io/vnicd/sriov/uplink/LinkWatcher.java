package io.vnicd.sriov.uplink;

import io.vnicd.nativeio.Epoll;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.LinkState;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.NicSocket;
import io.vnicd.nativeio.RtNetlink;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Watches an uplink's backing interfaces and tells the uplink when one comes up or fails. Event-driven: an
 * rtnetlink socket on RTNLGRP_LINK (carrier, IFF_UP, RTM_DELLINK) wakes this thread's epoll, so nothing stands
 * between a carrier loss and the failover. The kernel's linkwatch delivers carrier events of stacked devices (veth,
 * VLANs) at once but batches those of ordinary ones, a physical NIC's, to about one a second; for those the
 * thread also reads the carrier itself (ETHTOOL_GLINK) every {@link #CARRIER_POLL_MILLIS} ms, as bonding's miimon
 * does, only while such a NIC is in use. An interface that is deleted and created again under its name is opened
 * anew and taken back, without a restart.
 */
final class LinkWatcher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(LinkWatcher.class.getName());
    static final int CARRIER_POLL_MILLIS = 10;
    /** After its transmit kicks failed, a PNIC is not taken back for this long unless its link really changes. */
    private static final long HOLD_DOWN_NANOS = 1_000_000_000L;
    private static final long NETLINK = 1;
    private static final long WAKE = 2;

    private final Uplink uplink;
    private final String pf;
    private final List<String> names;
    private final Thread thread;
    private final CountDownLatch ready = new CountDownLatch(1);
    private final int[] ifindex;
    private final boolean[] present;
    /** What rtnetlink or the carrier says: up and with carrier. */
    private final boolean[] linkUp;
    /** Why the link is not up, as last seen. */
    private final String[] downReason;
    /** What the uplink was told: in use. */
    private final boolean[] inUse;
    /** The interface index of the socket the uplink has for each NIC (0: none). */
    private final int[] usedIfindex;
    private final boolean[] stacked;
    private final long[] heldDownUntil;
    /** Why the last attempt to open each NIC failed, or null. */
    private final String[] openError;
    private volatile boolean[] txFailed;
    private RtNetlink netlink;
    private LinkState linkState;
    private Epoll epoll;
    private EventFd wake;
    private volatile boolean running = true;
    private volatile boolean recheck;

    LinkWatcher(Uplink uplink, String pf, List<String> names) {
        this.uplink = uplink;
        this.pf = pf;
        this.names = List.copyOf(names);
        int n = names.size();
        ifindex = new int[n];
        present = new boolean[n];
        linkUp = new boolean[n];
        downReason = new String[n];
        inUse = new boolean[n];
        usedIfindex = new int[n];
        txFailed = new boolean[n];
        stacked = new boolean[n];
        heldDownUntil = new long[n];
        openError = new String[n];
        thread = Thread.ofPlatform().name("uplink-watch-" + pf).daemon().unstarted(this::run);
    }

    /** Opens the rtnetlink socket, starts the thread, and waits until the interfaces' present state was applied. */
    void start() throws IOException {
        netlink = RtNetlink.open();
        linkState = LinkState.open();
        epoll = new Epoll(8);
        wake = EventFd.create();
        epoll.add(netlink.fd(), NETLINK);
        epoll.add(wake.fd(), WAKE);
        netlink.requestDump();
        thread.start();
        try {
            if (!ready.await(5, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, () -> pf + ": the backing interfaces' state did not arrive within 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (int i = 0; i < names.size(); i++) {
            if (!present[i]) {
                String n = names.get(i);
                LOG.log(System.Logger.Level.WARNING, () -> pf + ": backing interface " + n + " does not exist (yet): it is taken as soon as it appears");
            }
        }
    }

    /**
     * The data path took PNIC index out of use itself (its transmit kicks kept failing): it is not taken back for
     * {@link #HOLD_DOWN_NANOS}, and then only while its link is up. Any thread.
     */
    void transmitFailed(int index) {
        boolean[] f = txFailed.clone();
        f[index] = true;
        txFailed = f;
        recheck = true;
        try {
            wake.signal();
        } catch (NativeException e) {
            // the thread looks again within its timeout anyway
        }
    }

    private final RtNetlink.Handler handler = new RtNetlink.Handler() {
        @Override
        public void onLink(RtNetlink.LinkEvent e) {
            changed(e);
        }

        @Override
        public void overrun() {
            LOG.log(System.Logger.Level.WARNING, () -> pf + ": rtnetlink dropped link events (a storm?): asking for every link again");
            try {
                netlink.requestDump();
            } catch (NativeException ex) {
                LOG.log(System.Logger.Level.ERROR, () -> pf + ": cannot ask for the links again: " + ex.getMessage());
            }
        }
    };

    private void run() {
        boolean dumped = false;
        long statsAt = System.nanoTime();
        while (running) {
            try {
                int timeout = polling() ? CARRIER_POLL_MILLIS : holdingDown() ? 100 : 1000;
                int n = epoll.await(timeout);
                for (int k = 0; k < n; k++) {
                    if (epoll.token(k) == WAKE) {
                        wake.drain();
                    }
                }
                netlink.read(handler);
                if (recheck) {
                    recheck = false;
                    takeTransmitFailures();
                    netlink.requestDump();
                }
                pollCarriers();
                long t = System.nanoTime();
                reconcile(t);
                if (!dumped && !netlink.dumping()) {
                    // every link of the first dump was applied: the uplink knows what is there
                    dumped = true;
                    ready.countDown();
                }
                if (t - statsAt > 1_000_000_000L) {
                    statsAt = t;
                    uplink.pollKernelStats();
                }
            } catch (Throwable t) {
                if (!running) {
                    break;
                }
                LOG.log(System.Logger.Level.ERROR, () -> pf + ": the link watcher failed once and goes on", t);
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    break;
                }
            }
        }
    }

    /** True while some interface in use is one whose carrier events the kernel may delay. */
    private boolean polling() {
        for (int i = 0; i < names.size(); i++) {
            if (present[i] && !stacked[i]) {
                return true;
            }
        }
        return false;
    }

    private boolean holdingDown() {
        long t = System.nanoTime();
        for (long until : heldDownUntil) {
            if (until - t > 0) {
                return true;
            }
        }
        return false;
    }

    private void takeTransmitFailures() {
        boolean[] f = txFailed;
        txFailed = new boolean[f.length];
        for (int i = 0; i < f.length; i++) {
            if (f[i]) {
                heldDownUntil[i] = System.nanoTime() + HOLD_DOWN_NANOS;
                inUse[i] = false;
            }
        }
    }

    /**
     * One rtnetlink event: noted only. What it means is decided once the events read together are all in
     * ({@link #reconcile}): the kernel reports a deletion as the interface going down and then gone, and the
     * failover should say it was deleted.
     */
    private void changed(RtNetlink.LinkEvent e) {
        int i = names.indexOf(e.name());
        if (i < 0) {
            return;
        }
        if (e.deleted()) {
            if (present[i] && ifindex[i] == e.ifindex()) {
                present[i] = false;
                linkUp[i] = false;
                downReason[i] = "deleted";
            }
            return;
        }
        if (!present[i] || ifindex[i] != e.ifindex()) {
            present[i] = true;
            ifindex[i] = e.ifindex();
            stacked[i] = LinkState.isStacked(e.name());
        }
        linkUp[i] = e.up() && e.lowerUp();
        if (!linkUp[i]) {
            downReason[i] = e.up() ? "carrier lost" : "set down";
        }
    }

    /**
     * Tells the uplink about every interface whose usability differs from what it was told: gone (deleted, or
     * replaced by a new interface of its name), down, or up (opened anew when it is a new interface).
     */
    private void reconcile(long seen) {
        for (int i = 0; i < names.size(); i++) {
            if (usedIfindex[i] != 0 && (!present[i] || usedIfindex[i] != ifindex[i])) {
                // the interface the uplink has a socket on is gone (it may have failed already as "set down")
                inUse[i] = false;
                usedIfindex[i] = 0;
                uplink.nicDown(i, "deleted", true, seen);
            } else if (inUse[i] && !linkUp[i]) {
                inUse[i] = false;
                uplink.nicDown(i, downReason[i], false, seen);
            }
            boolean want = present[i] && linkUp[i] && seen - heldDownUntil[i] >= 0;
            if (want && !inUse[i]) {
                String name = names.get(i);
                NicSocket s;
                try {
                    s = usedIfindex[i] == ifindex[i] ? null : uplink.open(name);
                } catch (NativeException ex) {
                    // tried again every HOLD_DOWN_NANOS: said once while the reason stays the same (an AF_XDP refusal)
                    if (!ex.getMessage().equals(openError[i])) {
                        openError[i] = ex.getMessage();
                        LOG.log(System.Logger.Level.ERROR, () -> pf + ": cannot open backing interface " + name + ": " + ex.getMessage());
                        uplink.nicDown(i, "cannot be opened", false, seen); // there, but failed (not absent)
                    }
                    heldDownUntil[i] = seen + HOLD_DOWN_NANOS;
                    continue;
                }
                openError[i] = null;
                inUse[i] = true;
                usedIfindex[i] = ifindex[i];
                uplink.nicUp(i, s, ifindex[i], seen);
            }
        }
    }

    /** miimon's way for interfaces whose carrier events linkwatch delays: read the carrier now. */
    private void pollCarriers() {
        for (int i = 0; i < names.size(); i++) {
            if (!present[i] || stacked[i]) {
                continue;
            }
            int c = linkState.carrier(names.get(i));
            long seen = System.nanoTime();
            if (c < 0) {
                present[i] = false;
                linkUp[i] = false;
            } else if (c == 0 && linkUp[i]) {
                linkUp[i] = false;
                downReason[i] = "carrier lost";
            }
        }
    }

    @Override
    public void close() {
        running = false;
        if (wake != null) {
            try {
                wake.signal();
            } catch (NativeException ignored) {
                // the thread ends within its timeout
            }
        }
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (epoll != null) {
            epoll.close();
        }
        if (netlink != null) {
            netlink.close();
        }
        if (linkState != null) {
            linkState.close();
        }
        if (wake != null) {
            wake.close();
        }
    }
}
