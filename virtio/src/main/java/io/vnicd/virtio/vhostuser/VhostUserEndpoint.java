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

    public VhostUserEndpoint(Path path, Mode mode, VhostUserBackend backend, Duration reconnectDelay) {
        this.path = path;
        this.mode = mode;
        this.backend = backend;
        this.reconnectDelay = reconnectDelay;
    }

    /** Server mode binds now, so that a bad path fails here with a clear error; client mode starts connecting. */
    public synchronized void start() throws IOException {
        if (mode == Mode.SERVER) {
            listener = UnixSocket.listen(path);
            LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": listening on " + path);
        }
        thread = Thread.ofPlatform().name("vhost-user-" + backend.name()).daemon()
                .uncaughtExceptionHandler((t, e) -> LOG.log(System.Logger.Level.ERROR,
                        () -> backend.name() + ": endpoint thread ended by an unexpected error; the VF accepts no frontend", e))
                .start(mode == Mode.SERVER ? this::serveAccepted : this::serveConnected);
    }

    private void serveAccepted() {
        while (!closed) {
            UnixSocket peer;
            try {
                peer = listener.accept();
            } catch (NativeException e) {
                if (closed) {
                    return;
                }
                // Out of descriptors, say: the VF must still take the next frontend once the condition clears.
                LOG.log(System.Logger.Level.ERROR, () -> backend.name() + ": accept on " + path + " failed: " + e.getMessage());
                sleep(ACCEPT_RETRY);
                continue;
            }
            serve(peer, "frontend on " + path);
        }
    }

    private void serveConnected() {
        boolean announced = false;
        while (!closed) {
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
