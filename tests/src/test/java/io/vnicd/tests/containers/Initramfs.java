package io.vnicd.tests.containers;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/**
 * Writes a gzip-compressed initramfs (cpio "newc") from Java, so a test can make a tiny guest without cpio, root,
 * or device nodes on the host: the kernel's unpacker creates the nodes from the archive's headers.
 *
 * <pre>
 * entry:  header (110 ASCII bytes) | name + NUL, padded to 4 | data, padded to 4
 * header: "070701" then 13 fields of 8 hex digits:
 *         ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
 * end:    an entry named "TRAILER!!!"
 * </pre>
 * (Linux Documentation/driver-api/early-userspace/buffer-format.rst.)
 */
public final class Initramfs implements AutoCloseable {
    static final String MAGIC = "070701";
    static final int HEADER_LENGTH = 110;
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;
    static final int S_IFCHR = 0020000;
    private static final byte[] ZEROS = new byte[4];

    private final OutputStream out;
    private long written;
    private int nextInode = 1;

    private Initramfs(OutputStream out) {
        this.out = out;
    }

    /** Starts an archive at {@code target}; {@link #close()} writes the trailer. */
    public static Initramfs create(Path target) throws IOException {
        return new Initramfs(new GZIPOutputStream(Files.newOutputStream(target), 1 << 16));
    }

    public Initramfs directory(String name) throws IOException {
        return entry(name, S_IFDIR | 0755, 0, 0, new byte[0]);
    }

    public Initramfs file(String name, int permissions, byte[] content) throws IOException {
        return entry(name, S_IFREG | permissions, 0, 0, content);
    }

    /** A file with the content of a host file, e.g. a static busybox. */
    public Initramfs file(String name, int permissions, Path source) throws IOException {
        return file(name, permissions, Files.readAllBytes(source));
    }

    public Initramfs symlink(String name, String target) throws IOException {
        return entry(name, S_IFLNK | 0777, 0, 0, target.getBytes(StandardCharsets.UTF_8));
    }

    /** A character device node, e.g. /dev/console (5, 1), which the kernel opens for init's stdio. */
    public Initramfs charDevice(String name, int permissions, int major, int minor) throws IOException {
        return entry(name, S_IFCHR | permissions, major, minor, new byte[0]);
    }

    private Initramfs entry(String name, int mode, int rdevMajor, int rdevMinor, byte[] data) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder header = new StringBuilder(HEADER_LENGTH).append(MAGIC);
        for (long field : new long[] {nextInode++, mode, 0, 0, (mode & S_IFDIR) == S_IFDIR ? 2 : 1, 0, data.length,
                0, 0, rdevMajor, rdevMinor, nameBytes.length + 1, 0}) {
            header.append(String.format("%08x", field));
        }
        write(header.toString().getBytes(StandardCharsets.US_ASCII));
        write(nameBytes);
        write(new byte[1]);
        pad();
        write(data);
        pad();
        return this;
    }

    private void write(byte[] bytes) throws IOException {
        out.write(bytes);
        written += bytes.length;
    }

    private void pad() throws IOException {
        int padding = (int) (-written & 3);
        out.write(ZEROS, 0, padding);
        written += padding;
    }

    @Override
    public void close() throws IOException {
        try (out) {
            entry("TRAILER!!!", 0, 0, 0, new byte[0]);
        }
    }
}
