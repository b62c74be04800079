package io.vnicd.devmodel.ring;

/**
 * Packs what a ring carries about one frame into a long, so rings move primitives and never allocate:
 * which pool buffer holds the frame, how long the frame is, and which target (VF/VNIC id) it is for.
 *
 * <pre>
 *  63                              32 31              16 15               0
 * +----------------------------------+------------------+------------------+
 * |          buffer index            |   frame length   |    target id     |
 * +----------------------------------+------------------+------------------+
 * </pre>
 *
 * {@link #NONE} (all bits set) is what {@code poll()} returns on an empty ring, so buffer index
 * 0xffff_ffff is not a valid index. A frame length is at most 65535 bytes (larger than any MTU we model).
 */
public final class RingEntry {
    /** Returned by an empty ring's poll; never a valid entry. */
    public static final long NONE = -1L;
    public static final int MAX_LENGTH = 0xffff;
    public static final int MAX_TARGET = 0xffff;
    /** Highest usable buffer index: 0xffff_ffff is kept out so that {@link #NONE} cannot be packed. */
    public static final long MAX_BUFFER_INDEX = 0xffff_fffeL;

    private RingEntry() {
    }

    public static long pack(long bufferIndex, int length, int target) {
        if (bufferIndex < 0 || bufferIndex > MAX_BUFFER_INDEX) {
            throw new IllegalArgumentException("buffer index out of range: " + bufferIndex);
        }
        if (length < 0 || length > MAX_LENGTH) {
            throw new IllegalArgumentException("frame length out of range: " + length);
        }
        if (target < 0 || target > MAX_TARGET) {
            throw new IllegalArgumentException("target id out of range: " + target);
        }
        return bufferIndex << 32 | (long) length << 16 | target;
    }

    public static long bufferIndex(long entry) {
        return entry >>> 32;
    }

    public static int length(long entry) {
        return (int) (entry >>> 16) & 0xffff;
    }

    public static int target(long entry) {
        return (int) entry & 0xffff;
    }
}
