package io.vnicd.devmodel.ring;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A MAP_SHARED mapping of a named file, normally under /dev/shm, that another process can map by path:
 * how a shared ring or monitor ring is found by a tool that did not inherit a file descriptor (a memfd from
 * {@link io.vnicd.nativeio.SharedMemory} serves processes that receive the fd instead). Pure Java
 * (FileChannel.map into an arena); closing unmaps, and {@link #unlink} removes the name.
 */
public final class MappedRegion implements AutoCloseable {
    /** Where named regions live by default: tmpfs, so pages are memory, never written back to a disk. */
    public static final Path SHM_DIR = Path.of("/dev/shm");

    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;

    private MappedRegion(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
    }

    /**
     * Creates (or removes and re-creates) the file with size zeroed bytes and maps it read-write. The file is
     * created with mode 0600 (open with O_CREAT|O_EXCL and that mode, never wider): what a region holds, frames
     * above all, is for this user's processes only.
     */
    public static MappedRegion create(Path path, long size) {
        try {
            Files.deleteIfExists(path);
            return map(path, size, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")),
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create shared region " + path, e);
        }
    }

    /** Maps the whole of an existing file read-write (positions in it are written by both sides). */
    public static MappedRegion attach(Path path) {
        try {
            long size = Files.size(path);
            if (size == 0) {
                throw new IllegalArgumentException("shared region " + path + " is empty");
            }
            return map(path, size, null, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot attach shared region " + path, e);
        }
    }

    private static MappedRegion map(Path path, long size, FileAttribute<?> mode, StandardOpenOption... options)
            throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = mode == null ? FileChannel.open(path, options)
                : FileChannel.open(path, java.util.Set.of(options), mode)) {
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            return new MappedRegion(path, arena, segment);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public MemorySegment segment() {
        return segment;
    }

    /** Removes the file name; mappings stay valid until closed. */
    public void unlink() {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove shared region " + path, e);
        }
    }

    /** Unmaps; the segment must not be used afterwards. */
    @Override
    public void close() {
        arena.close();
    }
}
