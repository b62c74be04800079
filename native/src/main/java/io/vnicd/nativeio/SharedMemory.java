package io.vnicd.nativeio;

import java.lang.foreign.MemorySegment;

/**
 * A MAP_SHARED mapping of a file descriptor (memfd, hugetlbfs file, /dev/shm file). Closing unmaps it;
 * the segment must not be used afterwards (the owner makes sure no reader is left, e.g. by handing the
 * old mapping to the data path's thread to close).
 */
public final class SharedMemory implements AutoCloseable {
    private final MemorySegment segment;
    private final int fd;
    private boolean closed;

    private SharedMemory(MemorySegment segment, int fd) {
        this.segment = segment;
        this.fd = fd;
    }

    /** A new anonymous shared memory file (memfd) of size bytes, mapped read-write. Keeps the fd to pass on. */
    public static SharedMemory create(String name, long size) throws NativeException {
        int fd = LibC.memfdCreate(name, LibC.MFD_CLOEXEC);
        try {
            LibC.ftruncate(fd, size);
            return new SharedMemory(LibC.mmap(size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0), fd);
        } catch (NativeException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * A new memfd of size bytes, mapped, whose size is then sealed (F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL): a
     * process it is handed to can map it without fearing that anyone, its creator included, shrinks it under the
     * mapping (a SIGBUS on the next access).
     */
    public static SharedMemory createSealed(String name, long size) throws NativeException {
        int fd = LibC.memfdCreate(name, LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING);
        try {
            LibC.ftruncate(fd, size);
            LibC.fcntl(fd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK | LibC.F_SEAL_GROW | LibC.F_SEAL_SEAL, "F_ADD_SEALS");
            return new SharedMemory(LibC.mmap(size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0), fd);
        } catch (NativeException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * Maps a memfd another process handed over, only when its size is sealed (it cannot shrink under the mapping)
     * and it holds at least minSize bytes. The fd stays the caller's.
     *
     * @throws NativeException naming what is missing
     */
    public static SharedMemory mapSealed(int fd, long minSize) throws NativeException {
        int seals = LibC.fcntl(fd, LibC.F_GET_SEALS, 0, "F_GET_SEALS");
        if ((seals & LibC.F_SEAL_SHRINK) == 0 || (seals & LibC.F_SEAL_SEAL) == 0) {
            throw new NativeException("mmap", "the memfd is not sealed against shrinking (seals " + seals + ")");
        }
        long size = LibC.fileSize(fd);
        if (size < minSize) {
            throw new NativeException("mmap", "the memfd holds " + size + " bytes, not the " + minSize + " needed");
        }
        return new SharedMemory(LibC.mmap(size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0), -1);
    }

    /**
     * Maps the whole file behind fd (its size read with lseek). Callers slice what they need: a vhost-user
     * region's mmap_offset need not be page aligned and a hugetlbfs mapping must be whole pages, so mapping
     * from 0 to the end is what works for both. The fd stays the caller's.
     */
    public static SharedMemory mapFile(int fd) throws NativeException {
        long fileSize = LibC.fileSize(fd);
        if (fileSize <= 0) {
            throw new NativeException("mmap", "the file behind fd " + fd + " is empty");
        }
        return new SharedMemory(LibC.mmap(fileSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0), -1);
    }

    public MemorySegment segment() {
        return segment;
    }

    /** The memfd behind a mapping made by {@link #create}, or -1. */
    public int fd() {
        return fd;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            LibC.munmap(segment);
        } catch (NativeException e) {
            throw new IllegalStateException(e);
        } finally {
            LibC.closeQuietly(fd);
        }
    }
}
