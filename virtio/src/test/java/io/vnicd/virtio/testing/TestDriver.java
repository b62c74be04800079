package io.vnicd.virtio.testing;

import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.virtio.memory.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The driver side for tests, benchmarks and fuzzing: "guest memory" in a memfd of its own, placed at a guest
 * physical base and a (different, made-up) frontend virtual base so that both translations are exercised;
 * a bump allocator for rings and buffers; and {@link DriverQueue}s that build chains as a guest driver does.
 */
public final class TestDriver implements AutoCloseable {
    /** Where guest memory starts in guest physical addresses. */
    public static final long GPA_BASE = 0x4000_0000L;
    /** Where the "frontend" has it mapped (only used for translation). */
    public static final long UVA_BASE = 0x7f00_0000_0000L;

    private final SharedMemory memory;
    private final MemorySegment segment;
    private long next;

    public TestDriver(long bytes) throws NativeException {
        this.memory = SharedMemory.create("vnicd-test-guest", bytes);
        this.segment = memory.segment();
    }

    public SharedMemory sharedMemory() {
        return memory;
    }

    public long size() {
        return segment.byteSize();
    }

    /** Allocates zeroed guest memory; returns its guest physical address. */
    public long alloc(long bytes, int align) {
        long at = (next + align - 1) & -align;
        if (at + bytes > segment.byteSize()) {
            throw new IllegalStateException("test guest memory exhausted");
        }
        next = at + bytes;
        segment.asSlice(at, bytes).fill((byte) 0);
        return GPA_BASE + at;
    }

    /** A view of guest memory at gpa (the test's own mapping). */
    public MemorySegment at(long gpa, long bytes) {
        return segment.asSlice(gpa - GPA_BASE, bytes);
    }

    public MemorySegment segment() {
        return segment;
    }

    public long toUser(long gpa) {
        return gpa - GPA_BASE + UVA_BASE;
    }

    /** The region quadruple of SET_MEM_TABLE: {gpa, size, uva, mmap offset}. */
    public long[] region() {
        return new long[] {GPA_BASE, segment.byteSize(), UVA_BASE, 0};
    }

    /** The same memory as the backend would see it after SET_MEM_TABLE (for tests below vhost-user). */
    public GuestMemory guestMemory() {
        return new GuestMemory(List.of(new GuestMemory.Region(GPA_BASE, segment.byteSize(), UVA_BASE, segment)), () -> { });
    }

    /** A split queue of size entries with its three areas allocated here. */
    public DriverQueue queue(int size) {
        long desc = alloc(16L * size, 16);
        long avail = alloc(4 + 2L * size + 2, 2);
        long used = alloc(4 + 8L * size + 2, 4);
        return new DriverQueue(this, size, desc, avail, used);
    }

    @Override
    public void close() {
        memory.close();
    }
}
