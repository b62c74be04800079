package io.vnicd.vmm.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * One listening socket path held by this daemon. Binding a Unix socket needs its name free, so a daemon has to
 * remove the file a crashed predecessor left; without a lock it would as readily remove the socket of one still
 * running, which then keeps serving a name no one can reach. The lock is an fcntl lock on {@code <socket>.lock}
 * beside the socket: the kernel drops it when its holder dies, so a path whose lock can be taken is stale, and
 * only then is the old socket file removed. The holder writes its pid in the file, so that a refused daemon can
 * say who holds the path.
 * <p>
 * The lock file is left in place on release: removing it would let a daemon that opened the old file before the
 * removal and one that creates a new file both believe they hold the path.
 * <p>
 * fcntl locks belong to the process, not to a file descriptor, and closing any descriptor of the file drops the
 * process's lock; so within one JVM (tests start several daemons in one process) the paths held are also kept in
 * a table, and a second claim is refused from it without opening the lock file.
 */
public final class SocketLock implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SocketLock.class.getName());
    private static final Map<Path, SocketLock> HELD = new HashMap<>();

    private final Path socket;
    private final FileChannel channel;
    private final FileLock lock;

    private SocketLock(Path socket, FileChannel channel, FileLock lock) {
        this.socket = socket;
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock file of a socket path: {@code <socket>.lock}. */
    public static Path lockFile(Path socket) {
        return socket.resolveSibling(socket.getFileName() + ".lock");
    }

    /**
     * Takes the path for this daemon and removes a stale socket left there. The directory must exist and have
     * passed {@link RuntimeDirectory#check}.
     *
     * @throws PathInUseException when a live daemon holds it (this process included); nothing is touched then
     * @throws IOException        when the path holds something that is not a socket, or the lock file cannot be used
     */
    public static SocketLock claim(Path socket) throws IOException {
        Path abs = socket.toAbsolutePath().normalize();
        Path key = abs.getParent().toRealPath().resolve(abs.getFileName());
        long me = ProcessHandle.current().pid();
        synchronized (HELD) {
            if (HELD.containsKey(key)) {
                throw new PathInUseException(abs, me, true);
            }
            FileChannel channel = FileChannel.open(lockFile(key), Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(RuntimeDirectory.mode("600")));
            try {
                FileLock lock;
                try {
                    lock = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null; // held through another channel of this JVM: the table should have said so
                }
                if (lock == null) {
                    throw new PathInUseException(abs, holder(channel), false);
                }
                channel.truncate(0);
                channel.write(ByteBuffer.wrap((me + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
                if (Files.exists(key, LinkOption.NOFOLLOW_LINKS)) {
                    if (!RuntimeDirectory.isSocket(key)) {
                        throw new IOException(abs + " exists and is not a socket: refusing to replace it");
                    }
                    Files.delete(key);
                    LOG.log(System.Logger.Level.INFO, () -> abs + ": removed the socket a stopped daemon left");
                }
                SocketLock held = new SocketLock(key, channel, lock);
                HELD.put(key, held);
                return held;
            } catch (IOException | RuntimeException e) {
                channel.close(); // releases the lock if it was taken
                throw e;
            }
        }
    }

    /** The pid the holder wrote, or -1 (it may be between taking the lock and writing). */
    private static long holder(FileChannel channel) {
        try {
            ByteBuffer b = ByteBuffer.allocate(32);
            channel.read(b, 0);
            return Long.parseLong(new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    public Path socket() {
        return socket;
    }

    /** Lets another daemon take the path; call after the socket itself is closed and removed. */
    @Override
    public void close() {
        synchronized (HELD) {
            if (HELD.get(socket) != this) {
                return;
            }
            HELD.remove(socket);
            try {
                lock.release();
                channel.close();
            } catch (IOException ignored) {
                // closing the file releases the lock in any case
            }
        }
    }
}
