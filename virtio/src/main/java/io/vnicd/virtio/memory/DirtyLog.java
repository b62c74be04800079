package io.vnicd.virtio.memory;

import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.SharedMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The dirty-page log of a live migration (vhost-user.rst, "Migration"; VHOST_USER_PROTOCOL_F_LOG_SHMFD): a bitmap in
 * memory the frontend shares, a bit per 4 KiB page of guest physical memory, that the back-end sets for every page
 * it writes while logging is on, so that the frontend copies the page again. The frontend reads and clears the
 * bitmap while the back-end writes it, so bits are set with atomic ORs on 64-bit words (little-endian: page p is
 * bit p % 64 of word p / 64, which is bit p % 8 of byte p / 8, QEMU's layout), after a release fence, so that the
 * frontend that sees a bit also sees the data written to the page. A page beyond the log's size is not marked
 * (counted): QEMU sizes the log for all of guest memory.
 * <pre>
 *  byte 0            byte 1            ...
 *  +--------+--------+--------+---
 *  | pages 0..7      | pages 8..15     |  bit (page % 8) of byte (page / 8)
 *  +--------+--------+--------+---
 * </pre>
 */
public final class DirtyLog implements AutoCloseable {
    /** The log's page size (VHOST_LOG_PAGE). */
    public static final long PAGE = 4096;
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final SharedMemory mapping;
    private final MemorySegment bits;
    private final long pages;
    private long beyond;

    private DirtyLog(SharedMemory mapping, MemorySegment bits) {
        this.mapping = mapping;
        this.bits = bits;
        this.pages = bits.byteSize() / 8 * 64;
    }

    /**
     * Maps the log the frontend passed with SET_LOG_BASE: size bytes at offset of the file behind fd (the fd stays
     * the caller's).
     *
     * @throws NativeException when it cannot be mapped or does not hold [offset, offset + size)
     */
    public static DirtyLog map(int fd, long size, long offset) throws NativeException {
        SharedMemory m = SharedMemory.mapFile(fd);
        long file = m.segment().byteSize();
        if (size <= 0 || offset < 0 || offset > file || size > file - offset || (offset & 7) != 0) {
            m.close();
            throw new NativeException("mmap", String.format("a log of 0x%x bytes at offset 0x%x does not fit its file of 0x%x",
                    size, offset, file));
        }
        return new DirtyLog(m, m.segment().asSlice(offset, size / 8 * 8));
    }

    /** A log over memory of the caller's (tests). */
    public static DirtyLog over(MemorySegment bits) {
        return new DirtyLog(null, bits);
    }

    /** Marks every page that [gpa, gpa + length) touches. Data-path thread. */
    public void mark(long gpa, long length) {
        if (length <= 0) {
            return;
        }
        VarHandle.releaseFence();
        long first = Long.divideUnsigned(gpa, PAGE);
        long last = Long.divideUnsigned(gpa + length - 1, PAGE);
        for (long p = first; Long.compareUnsigned(p, last) <= 0; p++) {
            if (Long.compareUnsigned(p, pages) >= 0) {
                beyond++;
                return;
            }
            long word = p >>> 6;
            WORD.getAndBitwiseOr(bits, word * 8, 1L << (p & 63));
        }
    }

    /** True when the page of gpa is marked (tests). */
    public boolean isMarked(long gpa) {
        long p = Long.divideUnsigned(gpa, PAGE);
        return Long.compareUnsigned(p, pages) < 0 && ((long) WORD.getVolatile(bits, (p >>> 6) * 8) & 1L << (p & 63)) != 0;
    }

    /** Marks asked for pages the log does not cover. */
    public long beyond() {
        return beyond;
    }

    public long bytes() {
        return bits.byteSize();
    }

    @Override
    public void close() {
        if (mapping != null) {
            mapping.close();
        }
    }
}
