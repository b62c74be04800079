package io.vnicd.sriov.peer;

import io.vnicd.devmodel.proxy.ChannelLayout;
import io.vnicd.devmodel.proxy.FrameChannel;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.LibC;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.nativeio.UnixSocket;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Joins a PF to the other daemons that name the same unix socket ({@code --peer SOCKET}): the first to come holds
 * the socket's lock and listens there, the rest connect to it; when the listener goes, one of the others takes its
 * place. Each connection is a session: a handshake (HELLO both ways, then the listener hands over a channel: a
 * sealed memfd and two eventfds), then each side announces its VNICs' addresses and their changes, about once a
 * second, until the socket hangs up. The listener forwards between the daemons that joined it (a star), so every
 * daemon reaches every other.
 * <p>
 * Peers are local users' processes: only root or this daemon's user may connect (SO_PEERCRED), each way. A peer
 * that breaks the protocol or the channel's layout ends its session, counted; nothing it sends can block this
 * daemon's data path.
 */
public final class PeerLink implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PeerLink.class.getName());
    static final int SLOTS = 1024;
    static final int SLOT_SIZE = 2048;
    private static final long RETRY_MILLIS = 200;
    private static final long ANNOUNCE_MILLIS = 1000;
    private static final int MAX_PEERS = 16;
    private static final long HELLO_TIMEOUT_MILLIS = 5000;

    private final Path socket;
    private final PeerHost host;
    private final int selfUid;
    private final Thread thread;
    private final List<Session> sessions = new CopyOnWriteArrayList<>();
    private final Set<ProxyPort> proxies = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private volatile boolean listening;
    private volatile UnixSocket listener;
    private volatile UnixSocket connecting;
    private FileChannel lockFile;
    private FileLock lock;

    public PeerLink(Path socket, PeerHost host) throws IOException {
        this.socket = socket.toAbsolutePath().normalize();
        this.host = host;
        this.selfUid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        this.thread = Thread.ofPlatform().name("peer-" + this.socket.getFileName()).daemon().unstarted(this::run);
    }

    public void start() {
        thread.start();
    }

    public Path socket() {
        return socket;
    }

    /** True while this daemon is the one the others connect to. */
    public boolean listening() {
        return listening;
    }

    /** The peers with a channel up now: their names. */
    public List<String> peers() {
        List<String> out = new ArrayList<>();
        for (Session s : sessions) {
            if (s.proxy != null && s.proxy.linkUp()) {
                out.add(s.peer);
            }
        }
        return out;
    }

    /** Every proxy port this link made (one per peer it ever had at once). */
    public Set<ProxyPort> proxies() {
        return Set.copyOf(proxies);
    }

    /** Records a proxy port the host made for this link (its peers may come back to it). */
    public void made(ProxyPort p) {
        proxies.add(p);
    }

    private void run() {
        while (!closed) {
            try {
                if (tryLock()) {
                    serve();
                } else {
                    connect();
                }
            } catch (Throwable t) {
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, () -> socket + ": " + t.getMessage());
                }
            }
            pause();
        }
    }

    private void pause() {
        try {
            Thread.sleep(RETRY_MILLIS);
        } catch (InterruptedException e) {
            closed = true;
        }
    }

    /** The lock beside the socket: who holds it listens (fcntl locks go with their process, so a dead one's go). */
    private boolean tryLock() throws IOException {
        if (lock != null) {
            return true;
        }
        Files.createDirectories(socket.getParent());
        lockFile = FileChannel.open(Path.of(socket + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            lock = lockFile.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // another link of this process holds it: it listens, this one connects
        }
        if (lock == null) {
            lockFile.close();
            lockFile = null;
            return false;
        }
        return true;
    }

    /** As the listener: a stale socket of a dead listener is replaced; every daemon that connects gets a session. */
    private void serve() throws IOException {
        UnixSocket l = UnixSocket.listen(socket);
        Files.setPosixFilePermissions(socket, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        listener = l;
        listening = true;
        LOG.log(System.Logger.Level.INFO, () -> host.peerName() + ": listening for peers on " + socket);
        try {
            while (!closed) {
                UnixSocket peer;
                try {
                    peer = l.accept();
                } catch (NativeException e) {
                    if (closed) {
                        return;
                    }
                    LOG.log(System.Logger.Level.WARNING, () -> socket + ": accept: " + e.getMessage());
                    pause();
                    continue;
                }
                if (sessions.size() >= MAX_PEERS) {
                    LOG.log(System.Logger.Level.WARNING, () -> socket + ": already " + MAX_PEERS + " peers: one more refused");
                    peer.close();
                    continue;
                }
                Session s = new Session(peer, true);
                sessions.add(s);
                Thread.ofPlatform().name("peer-session").daemon().start(s::run);
            }
        } finally {
            listening = false;
            l.close();
        }
    }

    /** As one who joins: a session with the listener, until it ends. */
    private void connect() throws IOException {
        UnixSocket peer;
        try {
            peer = UnixSocket.connect(socket);
        } catch (NativeException e) {
            return; // no listener yet (or a stale socket): the next round may take the lock
        }
        connecting = peer;
        Session s = new Session(peer, false);
        sessions.add(s);
        try {
            s.run();
        } finally {
            connecting = null;
        }
    }

    /** One connection to one peer, from the handshake to the hang-up. */
    private final class Session {
        final UnixSocket socket;
        final boolean creator;
        final PeerMessage out = new PeerMessage();
        final PeerMessage in = new PeerMessage();
        volatile String peer = "?";
        volatile ProxyPort proxy;
        SharedMemory memory;
        EventFd wakeMe;
        EventFd wakePeer;
        Set<PeerAddress> announced = new HashSet<>();
        volatile boolean ended;

        Session(UnixSocket socket, boolean creator) {
            this.socket = socket;
            this.creator = creator;
        }

        void run() {
            String why = "hung up";
            try {
                handshake();
                Thread announcer = Thread.ofPlatform().name("peer-announce").daemon().start(this::announceLoop);
                try {
                    while (!ended) {
                        PeerMessage.Received m = in.read(socket);
                        if (m == null) {
                            break;
                        }
                        if (m.type() != PeerMessage.MACS) {
                            throw new PeerException("message type " + m.type() + " after the handshake");
                        }
                        host.apply(proxy, PeerMessage.macs(m));
                    }
                } finally {
                    ended = true;
                    announcer.interrupt();
                }
            } catch (PeerException e) {
                why = "broke the protocol: " + e.getMessage();
            } catch (NativeException | RuntimeException e) {
                why = e.getMessage();
            } finally {
                String reason = why;
                end();
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, () -> host.peerName() + ": peer " + peer + " on " + PeerLink.this.socket
                            + " is gone (" + reason + ")");
                }
            }
        }

        private void handshake() throws NativeException, PeerException {
            UnixSocket.PeerCredentials cred = socket.peerCredentials();
            if (cred.uid() != 0 && cred.uid() != selfUid) {
                throw new PeerException("uid " + cred.uid() + " (pid " + cred.pid() + ") may not peer: only root or uid " + selfUid);
            }
            out.sendHello(socket, host.peerName());
            Thread watchdog = Thread.ofPlatform().daemon().start(() -> {
                try {
                    Thread.sleep(HELLO_TIMEOUT_MILLIS);
                    if (proxy == null) {
                        socket.close();
                    }
                } catch (InterruptedException e) {
                    // the handshake ended in time
                }
            });
            try {
                PeerMessage.Received hello = in.read(socket);
                if (hello == null) {
                    throw new PeerException("closed before its hello");
                }
                PeerMessage.Hello h = PeerMessage.hello(hello);
                peer = h.name() + "(pid " + h.pid() + ")";
                FrameChannel channel;
                if (creator) {
                    memory = SharedMemory.createSealed("vnicd-peer", ChannelLayout.byteSize(SLOTS, SLOT_SIZE));
                    channel = FrameChannel.create(memory.segment(), SLOTS, SLOT_SIZE);
                    wakeMe = EventFd.create();
                    wakePeer = EventFd.create();
                    out.sendChannel(socket, SLOTS, SLOT_SIZE, memory.fd(), wakeMe.fd(), wakePeer.fd());
                } else {
                    PeerMessage.Received ch = in.read(socket);
                    if (ch == null || ch.type() != PeerMessage.CHANNEL) {
                        throw new PeerException("no channel after the hello");
                    }
                    int[] fds = ch.fds();
                    try {
                        memory = SharedMemory.mapSealed(fds[0], ChannelLayout.RING0);
                        wakePeer = EventFd.adoptFromPeer(fds[1]);
                        wakeMe = EventFd.adoptFromPeer(fds[2]);
                    } catch (NativeException e) {
                        PeerMessage.closeAll(fds);
                        throw new PeerException("its channel: " + e.getMessage());
                    } finally {
                        LibC.closeQuietly(fds[0]);
                    }
                    try {
                        channel = FrameChannel.join(memory.segment());
                    } catch (IllegalArgumentException e) {
                        throw new PeerException("its channel: " + e.getMessage());
                    }
                }
                ProxyPort p = host.proxyFor(PeerLink.this, h.name());
                host.attach(p, peer, channel, wakeMe, wakePeer, () -> Thread.ofPlatform().daemon().start(this::hangUp));
                proxy = p;
                LOG.log(System.Logger.Level.INFO, () -> host.peerName() + ": channel up with peer " + peer + " on "
                        + PeerLink.this.socket + " (" + p.name() + ")");
            } finally {
                watchdog.interrupt();
            }
        }

        /** Sends the changes of this side's addresses once a second. */
        private void announceLoop() {
            try {
                while (!ended) {
                    Set<PeerAddress> now = new HashSet<>(host.addresses(proxy));
                    List<PeerAddress> changes = new ArrayList<>();
                    for (PeerAddress m : now) {
                        if (!announced.contains(m)) {
                            changes.add(m);
                        }
                    }
                    for (PeerAddress m : announced) {
                        if (!now.contains(m)) {
                            changes.add(new PeerAddress(false, m.mac(), m.vlan()));
                        }
                    }
                    if (!changes.isEmpty()) {
                        out.sendMacs(socket, changes);
                        announced = now;
                    }
                    Thread.sleep(ANNOUNCE_MILLIS);
                }
            } catch (InterruptedException e) {
                // the session ended
            } catch (NativeException | RuntimeException e) {
                hangUp();
            }
        }

        /** Ends the session from outside its reader (the channel broke, this link closes). */
        void hangUp() {
            ended = true;
            socket.close();
        }

        private void end() {
            ended = true;
            socket.close();
            try {
                ProxyPort p = proxy;
                if (p != null) {
                    // the data path lets go of the channel first: only then may its memory and eventfds go (a detach
                    // the data path never took throws, and they are kept rather than unmapped under it); an
                    // interrupt (the link closing) must not withdraw it
                    boolean interrupted = Thread.interrupted();
                    try {
                        host.detach(p);
                    } finally {
                        if (interrupted) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }
                if (wakeMe != null) {
                    wakeMe.close();
                }
                if (wakePeer != null) {
                    wakePeer.close();
                }
                if (memory != null) {
                    memory.close();
                }
            } finally {
                sessions.remove(this);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        UnixSocket l = listener;
        if (l != null) {
            l.close();
        }
        UnixSocket c = connecting;
        if (c != null) {
            c.close();
        }
        for (Session s : sessions) {
            s.hangUp();
        }
        // sessions end on their own threads (or this link's): give them the time to let go of their channels
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!sessions.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (lock != null) {
                lock.release();
            }
            if (lockFile != null) {
                lockFile.close();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "releasing " + socket + ".lock: " + e.getMessage());
        }
    }
}
