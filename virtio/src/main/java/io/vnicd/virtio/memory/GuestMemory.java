package io.vnicd.virtio.memory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The guest's memory as SET_MEM_TABLE (or ADD_MEM_REG and REM_MEM_REG) described it. Guest physical addresses (in descriptors) and frontend
 * virtual addresses (in SET_VRING_ADDR) are translated here, and a translation succeeds only when the whole
 * range [address, address + length) lies inside one mapped region: nothing outside a mapping is ever touched.
 * <p>
 * The data path asks {@link #regionOf} for the region holding a buffer, then reads or writes through
 * {@link #segment(int)} at {@link #offsetIn}; the segment's own bounds checks are a second line of defence.
 * Not thread-safe: used by the data-path thread (the lookup hint is a plain field).
 */
public final class GuestMemory implements AutoCloseable {
    /**
     * One mapped region.
     *
     * @param guestPhysAddr where the region starts in guest physical memory
     * @param size          its length in bytes
     * @param userAddr      where the frontend has it in its own address space
     * @param segment       our mapping of it, exactly size bytes long
     */
    public record Region(long guestPhysAddr, long size, long userAddr, MemorySegment segment) {
        public Region {
            if (size <= 0 || segment.byteSize() != size) {
                throw new IllegalArgumentException("region size " + size + " does not match its mapping of "
                        + segment.byteSize() + " bytes");
            }
        }
    }

    private static final GuestMemory EMPTY = new GuestMemory(List.of(), () -> { });

    private final long[] gpaStart;
    private final long[] size;
    private final long[] uvaStart;
    private final MemorySegment[] segments;
    private final AutoCloseable resource;
    private final AtomicBoolean closed = new AtomicBoolean();
    private int hint;

    /**
     * @param regions  the regions; they must not overlap in either address space
     * @param resource released by {@link #close()} (the mappings)
     * @throws IllegalArgumentException when regions overlap
     */
    public GuestMemory(List<Region> regions, AutoCloseable resource) {
        List<Region> sorted = new ArrayList<>(regions);
        sorted.sort((a, b) -> Long.compareUnsigned(a.guestPhysAddr(), b.guestPhysAddr()));
        int n = sorted.size();
        gpaStart = new long[n];
        size = new long[n];
        uvaStart = new long[n];
        segments = new MemorySegment[n];
        for (int i = 0; i < n; i++) {
            Region r = sorted.get(i);
            // Addresses are unsigned 64-bit: compare them so (a region at or above 2^63 is not negative).
            if (Long.compareUnsigned(r.guestPhysAddr() + r.size() - 1, r.guestPhysAddr()) < 0
                    || Long.compareUnsigned(r.userAddr() + r.size() - 1, r.userAddr()) < 0) {
                throw new IllegalArgumentException(String.format("region at gpa 0x%x size 0x%x wraps around the address space",
                        r.guestPhysAddr(), r.size()));
            }
            gpaStart[i] = r.guestPhysAddr();
            size[i] = r.size();
            uvaStart[i] = r.userAddr();
            segments[i] = r.segment();
        }
        for (int i = 0; i + 1 < n; i++) {
            // sorted by guest address: a region overlapping another overlaps its successor
            if (overlap(gpaStart[i], size[i], gpaStart[i + 1], size[i + 1])) {
                throw new IllegalArgumentException(String.format(
                        "regions at gpa 0x%x and 0x%x overlap", gpaStart[i], gpaStart[i + 1]));
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                if (overlap(uvaStart[i], size[i], uvaStart[j], size[j])) {
                    throw new IllegalArgumentException(String.format(
                            "regions at frontend address 0x%x and 0x%x overlap", uvaStart[i], uvaStart[j]));
                }
            }
        }
        this.resource = resource;
    }

    private static boolean overlap(long a, long aLen, long b, long bLen) {
        return Long.compareUnsigned(a, b + bLen - 1) <= 0 && Long.compareUnsigned(b, a + aLen - 1) <= 0;
    }

    /** No memory at all: every translation fails. */
    public static GuestMemory empty() {
        return EMPTY;
    }

    public int regionCount() {
        return segments.length;
    }

    /**
     * The region wholly containing guest physical range [gpa, gpa + length), or -1 when there is none (outside
     * every region, straddling two, or wrapping around).
     */
    public int regionOf(long gpa, long length) {
        int h = hint;
        if (h < segments.length && contains(h, gpa, length)) {
            return h;
        }
        // the last region starting at or below gpa (regions are sorted and do not overlap)
        int lo = 0;
        int hi = segments.length - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(gpaStart[mid], gpa) <= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if (found >= 0 && contains(found, gpa, length)) {
            hint = found;
            return found;
        }
        return -1;
    }

    private boolean contains(int i, long gpa, long length) {
        long off = gpa - gpaStart[i];
        return Long.compareUnsigned(off, size[i]) < 0 && Long.compareUnsigned(length, size[i] - off) <= 0;
    }

    /** Where region i (in guest address order) starts in guest physical memory. */
    public long regionStart(int region) {
        return gpaStart[region];
    }

    public long regionSize(int region) {
        return size[region];
    }

    public MemorySegment segment(int region) {
        return segments[region];
    }

    /** Offset of gpa inside region (which {@link #regionOf} returned for it). */
    public long offsetIn(int region, long gpa) {
        return gpa - gpaStart[region];
    }

    /** A view of [gpa, gpa + length), or null when that range is not wholly inside one region. */
    public MemorySegment slice(long gpa, long length) {
        int r = regionOf(gpa, length);
        return r < 0 ? null : segments[r].asSlice(gpa - gpaStart[r], length);
    }

    /**
     * Translates a frontend virtual address range to a guest physical address, or -1 when no region holds the
     * whole range.
     */
    public long userToGuest(long uva, long length) {
        for (int i = 0; i < segments.length; i++) {
            long off = uva - uvaStart[i];
            if (Long.compareUnsigned(off, size[i]) < 0 && Long.compareUnsigned(length, size[i] - off) <= 0) {
                return gpaStart[i] + off;
            }
        }
        return -1;
    }

    /** Unmaps the regions (once). Only after the data path stopped using them. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                resource.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot release guest memory: " + e.getMessage(), e);
            }
        }
    }
}
