package io.vnicd.devmodel.pool;

/**
 * Layout of a buffer pool in shared memory (a memfd), so that everything about the pool, including each
 * target's counters, can be read by a tool mapping the same memory while the daemon runs.
 *
 * <pre>
 *  0               4               8               12              16
 * +---------------+---------------+---------------+---------------+
 * | magic 'VPOL'  |   version     |  buffer size  | buffer count  |
 * +---------------+---------------+---------------+---------------+
 * | max targets   |          ... padding to 128 ...               |
 * +---------------------------------------------------------------+ 128
 * | free list head: (ABA tag &lt;&lt; 32 | buffer index) (long)   |  CAS by every thread
 * +---------------------------------------------------------------+ 256
 * | target 0: quota | in use | peak | grants | waits | wait ns | drops |   128 bytes per
 * | target 1: ...                                                  |   target, longs
 * +---------------------------------------------------------------+ OWNERS_OFFSET
 * | owner target per buffer (int, -1 = free)                       |
 * +---------------------------------------------------------------+ next offset
 * | next free buffer per buffer (int, -1 = end of list)            |
 * +---------------------------------------------------------------+ buffers offset (4096-aligned)
 * | buffer 0 | buffer 1 | ...   (buffer size each, multiple of 64) |
 * +---------------------------------------------------------------+
 * </pre>
 *
 * Byte counts (quota, in use, peak) are charged a whole buffer size per buffer: the memory a target
 * holds is what it keeps from the others, whatever the frame's length.
 */
public final class PoolDescriptor {
    public static final int MAGIC = 0x4c4f5056; // "VPOL" little-endian
    public static final int VERSION = 1;

    public static final long MAGIC_OFFSET = 0;
    public static final long VERSION_OFFSET = 4;
    public static final long BUFFER_SIZE_OFFSET = 8;
    public static final long BUFFER_COUNT_OFFSET = 12;
    public static final long MAX_TARGETS_OFFSET = 16;
    public static final long FREE_HEAD_OFFSET = 128;
    public static final long TARGETS_OFFSET = 256;
    public static final long TARGET_SLOT_SIZE = 128;

    public static final long QUOTA = 0;
    public static final long IN_USE = 8;
    public static final long PEAK = 16;
    public static final long GRANTS = 24;
    public static final long WAITS = 32;
    public static final long WAIT_NANOS = 40;
    public static final long DROPS = 48;

    public static final int MAX_BUFFER_SIZE = 1 << 20;
    public static final int MAX_TARGETS = 4096;

    private PoolDescriptor() {
    }

    public static void check(int bufferSize, int bufferCount, int maxTargets) {
        if (bufferSize < 64 || bufferSize > MAX_BUFFER_SIZE || bufferSize % 64 != 0) {
            throw new IllegalArgumentException("buffer size must be a multiple of 64 in [64, " + MAX_BUFFER_SIZE + "]: " + bufferSize);
        }
        if (bufferCount < 1 || bufferCount > Integer.MAX_VALUE - 1) {
            throw new IllegalArgumentException("buffer count out of range: " + bufferCount);
        }
        if (maxTargets < 1 || maxTargets > MAX_TARGETS) {
            throw new IllegalArgumentException("max targets must be in [1, " + MAX_TARGETS + "]: " + maxTargets);
        }
    }

    public static long targetOffset(int target) {
        return TARGETS_OFFSET + target * TARGET_SLOT_SIZE;
    }

    public static long ownersOffset(int maxTargets) {
        return TARGETS_OFFSET + maxTargets * TARGET_SLOT_SIZE;
    }

    public static long nextOffset(int bufferCount, int maxTargets) {
        return align(ownersOffset(maxTargets) + 4L * bufferCount, 64);
    }

    public static long buffersOffset(int bufferCount, int maxTargets) {
        return align(nextOffset(bufferCount, maxTargets) + 4L * bufferCount, 4096);
    }

    /** Bytes the whole pool needs. */
    public static long byteSize(int bufferSize, int bufferCount, int maxTargets) {
        check(bufferSize, bufferCount, maxTargets);
        return buffersOffset(bufferCount, maxTargets) + (long) bufferSize * bufferCount;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
