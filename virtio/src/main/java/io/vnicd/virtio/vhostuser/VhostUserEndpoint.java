package io.vnicd.virtio.vhostuser;

import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.UnixSocket;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The socket side of one vhost-user device: in server mode vnicd listens on the path and serves each frontend
 * that connects, one at a time; in client mode vnicd connects to a frontend that listens (QEMU's
 * {@code server=on}, testpmd's {@code server=1}) and connects again whenever that frontend goes away and
 * comes back. Each connection is served by a {@link VhostUserSession} on this endpoint's thread.
 */
public final class VhostUserEndpoint implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VhostUserEndpoint.class.getName());

    public enum Mode { SERVER, CLIENT }

    /** Pause before accepting again after accept(2) failed. */
    private static final Duration ACCEPT_RETRY = Duration.ofMillis(200);

    private final Path path;
    private final Mode mode;
    private final VhostUserBackend backend;
    private final Duration reconnectDelay;
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private volatile UnixSocket listener;
    private volatile UnixSocket connection;
    private volatile boolean closed;
    private volatile String lastCloseReason = "";
    private Thread thread;
    /** The VF's link as its PF sees it; while false no frontend is served. Guarded by carrierLock for waits. */
    private volatile boolean carrier = true;
    private final Object carrierLock = new Object();
    /** Server mode: what is done to the socket each time it is bound (its mode and group, by the daemon). */
    private volatile Bound bound = socket -> { };

    /** Called with the socket's path each time the endpoint binds it (at start, and after the link returns). */
    @FunctionalInterface
    public interface Bound {
        void bound(Path socket) throws IOException;
    }

    public VhostUserEndpoint(Path path, Mode mode, VhostUserBackend backend, Duration reconnectDelay) {
        this.path = path;
        this.mode = mode;
        this.backend = backend;
        this.reconnectDelay = reconnectDelay;
    }

    /** Server mode: sets what is done to the socket each time it is bound (its mode and group); before start. */
    public void onBound(Bound hook) {
        this.bound = hook;
    }

    /**
     * Server mode binds now, so that a bad path fails here with a clear error (while the link is down it is not
     * listened on afterwards); client mode starts connecting.
     */
    public synchronized void start() throws IOException {
        if (mode == Mode.SERVER) {
            UnixSocket l = UnixSocket.listen(path);
            try {
                bound.bound(path);
            } catch (IOException e) {
                l.close();
                throw e;
            }
            if (carrier) {
                listener = l;
                LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": listening on " + path);
            } else {
                l.close();
                LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": link down: not listening on " + path + " until it is up");
            }
        }
        thread = Thread.ofPlatform().name("vhost-user-" + backend.name()).daemon()
                .uncaughtExceptionHandler((t, e) -> LOG.log(System.Logger.Level.ERROR,
                        () -> backend.name() + ": endpoint thread ended by an unexpected error; the VF accepts no frontend", e))
                .start(mode == Mode.SERVER ? this::serveAccepted : this::serveConnected);
    }

    private void serveAccepted() {
        while (!closed) {
            if (!awaitCarrier() || !listening()) {
                continue;
            }
            UnixSocket l = listener;
            if (l == null) {
                continue;
            }
            UnixSocket peer;
            try {
                peer = l.accept();
            } catch (NativeException e) {
                if (closed) {
                    return;
                }
                if (!carrier) {
                    continue;
                }
                // Out of descriptors, say: the VF must still take the next frontend once the condition clears.
                LOG.log(System.Logger.Level.ERROR, () -> backend.name() + ": accept on " + path + " failed: " + e.getMessage());
                sleep(ACCEPT_RETRY);
                continue;
            }
            if (!carrier) {
                peer.close();
                continue;
            }
            serve(peer, "frontend on " + path);
        }
    }

    /** Waits while the carrier is down; false when the endpoint closed meanwhile. */
    private boolean awaitCarrier() {
        synchronized (carrierLock) {
            while (!carrier && !closed) {
                try {
                    carrierLock.wait(1000);
                } catch (InterruptedException e) {
                    closed = true;
                }
            }
        }
        return !closed;
    }

    /** Server mode: binds the path again if the carrier took it away, with the mode and group it had. */
    private boolean listening() {
        if (listener != null) {
            return true;
        }
        try {
            UnixSocket l = UnixSocket.listen(path);
            try {
                bound.bound(path);
            } catch (IOException e) {
                l.close();
                throw e;
            }
            listener = l;
            LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": link up: listening on " + path + " again");
            return true;
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, () -> backend.name() + ": cannot listen on " + path + " again: " + e.getMessage());
            sleep(ACCEPT_RETRY);
            return false;
        }
    }

    /**
     * The VF's link as its PF sees it (the wire reachable through a healthy NIC, or the VF enabled by hand). QEMU
     * 7.2 takes a vhost-user NIC's link state from its connection alone (it reads no config space from the
     * back-end), so down disconnects the frontend, and QEMU sets the guest's NIC link down (VIRTIO_NET_S_LINK_UP
     * cleared, config interrupt); no frontend is served meanwhile (server mode: the path is not listened on).
     * Up serves frontends again: QEMU comes back with its chardev's {@code reconnect=N}, and its guest sees the
     * link up. Any thread; does not block.
     */
    public void setCarrier(boolean up) {
        synchronized (carrierLock) {
            if (carrier == up || closed) {
                return;
            }
            carrier = up;
            carrierLock.notifyAll();
        }
        if (up) {
            return;
        }
        LOG.log(System.Logger.Level.WARNING, () -> backend.name() + ": link down: the frontend is disconnected until it is up");
        if (mode == Mode.SERVER) {
            UnixSocket l = listener;
            listener = null;
            if (l != null) {
                l.close();
            }
        }
        UnixSocket c = connection;
        if (c != null) {
            c.close();
        }
    }

    /** False while the VF's link is down (see {@link #setCarrier}). */
    public boolean carrier() {
        return carrier;
    }

    private void serveConnected() {
        boolean announced = false;
        while (!closed) {
            if (!awaitCarrier()) {
                return;
            }
            UnixSocket peer;
            try {
                peer = UnixSocket.connect(path);
            } catch (NativeException e) {
                if (!announced) {
                    LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": waiting for a frontend to listen on "
                            + path + " (" + e.getMessage() + ")");
                    announced = true;
                }
                sleep(reconnectDelay);
                continue;
            }
            announced = false;
            serve(peer, "frontend at " + path);
            if (!closed) {
                sleep(reconnectDelay);
            }
        }
    }

    private void serve(UnixSocket peer, String name) {
        connection = peer;
        if (closed) {
            peer.close();
            return;
        }
        long n = connections.incrementAndGet();
        LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": " + name + " connected (connection " + n + ")");
        VhostUserSession session = new VhostUserSession(peer, backend, name);
        session.serve(); // never throws: whatever the frontend does ends this connection at worst
        refused.addAndGet(session.refused());
        lastCloseReason = session.closeReason();
        peer.close();
        connection = null;
        LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": connection " + n + " dropped: " + session.closeReason());
    }

    private void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    public Path path() {
        return path;
    }

    public Mode mode() {
        return mode;
    }

    public boolean isConnected() {
        return connection != null;
    }

    /** Frontend connections served so far. */
    public long connections() {
        return connections.get();
    }

    /** Messages refused over all finished connections. */
    public long refusedMessages() {
        return refused.get();
    }

    public String lastCloseReason() {
        return lastCloseReason;
    }

    /** Drops the connection (the back-end is reset) and stops listening or reconnecting. */
    @Override
    public void close() {
        closed = true;
        synchronized (carrierLock) {
            carrierLock.notifyAll();
        }
        UnixSocket l = listener;
        if (l != null) {
            l.close();
        }
        UnixSocket c = connection;
        if (c != null) {
            c.close();
        }
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
