package io.vnicd.devmodel.proxy;

import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.bytes.PointerBytesStore;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * One side of a channel between two daemons ({@link ChannelLayout}): it produces into one ring and consumes the
 * other. The region is read and written through Chronicle Bytes ({@code PointerBytesStore} over the mapping):
 * ordered stores publish positions, volatile loads read the other side's, and frames are copied in and out with
 * Chronicle's native copies, so the steady state allocates nothing.
 * <p>
 * The other side is untrusted. Every position it publishes is checked against this side's own (a consumer's may
 * only trail the producer by at most the ring, a producer's may only lead the consumer by at most the ring); every
 * slot's length and VLAN is checked before use, and a frame is copied out of the region before anyone looks at it,
 * so that the peer rewriting it meanwhile changes nothing. A check that fails breaks the channel
 * ({@link #brokenReason}): it stops moving frames and its owner tears it down. Nothing the peer writes can make this
 * side read or write outside the region, loop, or wait.
 * <p>
 * One thread per side (the data path) calls {@link #offer}, {@link #poll} and the sleep methods; counters may be read
 * by any thread.
 */
public final class FrameChannel {
    /** Receives the frames {@link #poll} takes out of the channel. */
    @FunctionalInterface
    public interface Handler {
        /** The frame is taken; go on with the next. */
        int TAKE = 1;
        /** The frame is taken (its handler keeps a copy); stop here. */
        int TAKE_AND_STOP = 2;
        /** The frame is not taken: it stays first for the next poll. */
        int KEEP = 0;

        /** A private copy of the next frame, valid during the call: {@link #TAKE}, {@link #TAKE_AND_STOP} or {@link #KEEP}. */
        int onFrame(MemorySegment frame, long offset, int length, int vlan);
    }

    private final PointerBytesStore region = BytesStore.nativePointer();
    private final PointerBytesStore source = BytesStore.nativePointer();
    private final MemorySegment mapping;
    private final int slots;
    private final int slotSize;
    private final int mask;
    private final long txRing;
    private final long rxRing;
    /** A frame is copied here out of the region before it is handed on. */
    private final MemorySegment staging;
    private final long stagingAddress;
    private long txPosition;
    private long rxPosition;
    private volatile String broken;

    private FrameChannel(MemorySegment mapping, int slots, int slotSize, int side) {
        this.mapping = mapping;
        this.slots = slots;
        this.slotSize = slotSize;
        this.mask = slots - 1;
        region.set(mapping.address(), mapping.byteSize());
        this.txRing = ChannelLayout.ring(side, slots, slotSize);
        this.rxRing = ChannelLayout.ring(1 - side, slots, slotSize);
        this.staging = Arena.ofAuto().allocate(slotSize, 64);
        this.stagingAddress = staging.address();
    }

    /** Lays a new channel out in mapping (native memory of at least {@link ChannelLayout#byteSize}) as its creator. */
    public static FrameChannel create(MemorySegment mapping, int slots, int slotSize) {
        long size = ChannelLayout.byteSize(slots, slotSize);
        if (!mapping.isNative() || mapping.byteSize() < size) {
            throw new IllegalArgumentException("a channel of " + slots + " x " + slotSize + " needs " + size
                    + " bytes of native memory, not " + mapping.byteSize());
        }
        mapping.asSlice(0, size).fill((byte) 0);
        FrameChannel c = new FrameChannel(mapping.asSlice(0, size), slots, slotSize, 0);
        c.region.writeInt(ChannelLayout.VERSION_OFFSET, ChannelLayout.VERSION);
        c.region.writeInt(ChannelLayout.SLOTS_OFFSET, slots);
        c.region.writeInt(ChannelLayout.SLOT_SIZE_OFFSET, slotSize);
        c.region.writeOrderedInt(ChannelLayout.MAGIC_OFFSET, ChannelLayout.MAGIC);
        return c;
    }

    /**
     * Joins the channel another side created in mapping (a region it handed over). Its header is read once, here,
     * and checked against the region's size: a peer that lies about it is refused.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static FrameChannel join(MemorySegment mapping) {
        if (!mapping.isNative() || mapping.byteSize() < ChannelLayout.RING0) {
            throw new IllegalArgumentException("a channel region of " + mapping.byteSize() + " bytes is too small");
        }
        PointerBytesStore header = BytesStore.nativePointer();
        header.set(mapping.address(), ChannelLayout.RING0);
        int magic = header.readVolatileInt(ChannelLayout.MAGIC_OFFSET);
        int version = header.readInt(ChannelLayout.VERSION_OFFSET);
        int slots = header.readInt(ChannelLayout.SLOTS_OFFSET);
        int slotSize = header.readInt(ChannelLayout.SLOT_SIZE_OFFSET);
        if (magic != ChannelLayout.MAGIC || version != ChannelLayout.VERSION) {
            throw new IllegalArgumentException("not a vnicd channel (magic " + Integer.toHexString(magic) + ", version " + version + ")");
        }
        ChannelLayout.check(slots, slotSize);
        long size = ChannelLayout.byteSize(slots, slotSize);
        if (mapping.byteSize() < size) {
            throw new IllegalArgumentException("the channel claims " + slots + " x " + slotSize + " (" + size
                    + " bytes) in a region of " + mapping.byteSize());
        }
        return new FrameChannel(mapping.asSlice(0, size), slots, slotSize, 1);
    }

    /**
     * Copies a frame into the next slot of the ring this side produces; false when the ring is full, the frame does
     * not fit a slot ({@link #maxFrame}), or the channel is broken. Publishes it at once.
     */
    public boolean offer(MemorySegment frame, long offset, int length, int vlan) {
        if (broken != null || length > slotSize - ChannelLayout.SLOT_HEADER || length < 0) {
            return false;
        }
        long consumer = region.readVolatileLong(txRing + ChannelLayout.CONSUMER);
        long used = txPosition - consumer;
        if (used < 0 || used > slots) {
            return fail("the peer's consumer position " + consumer + " is not within a ring of " + txPosition);
        }
        if (used == slots) {
            return false;
        }
        long slot = txRing + ChannelLayout.SLOTS + (txPosition & mask) * slotSize;
        region.writeInt(slot, length);
        region.writeInt(slot + 4, vlan);
        if (frame.isNative()) {
            source.set(frame.address() + offset, length);
            region.write(slot + ChannelLayout.SLOT_HEADER, source, 0, length);
        } else {
            MemorySegment.copy(frame, offset, mapping, slot + ChannelLayout.SLOT_HEADER, length);
        }
        txPosition++;
        region.writeOrderedLong(txRing + ChannelLayout.PRODUCER, txPosition);
        return true;
    }

    /**
     * True when the consumer of the ring this side produces said it sleeps: signal it. A full fence first, so that
     * the frames just published and the consumer's flag are seen in order by both sides (the consumer re-checks the
     * ring after setting its flag, see {@link #prepareToSleep}).
     */
    public boolean peerAsleep() {
        VarHandle.fullFence();
        return region.readVolatileInt(txRing + ChannelLayout.ASLEEP) != 0;
    }

    /**
     * Hands up to budget frames from the ring this side consumes to handler, in order, each a private copy; returns
     * how many it took. A frame the handler keeps stays at the head for the next call.
     */
    public int poll(Handler handler, int budget) {
        if (broken != null) {
            return 0;
        }
        long producer = region.readVolatileLong(rxRing + ChannelLayout.PRODUCER);
        long available = producer - rxPosition;
        if (available < 0 || available > slots) {
            fail("the peer's producer position " + producer + " is not within a ring of " + rxPosition);
            return 0;
        }
        int n = 0;
        while (n < budget && n < available) {
            long slot = rxRing + ChannelLayout.SLOTS + ((rxPosition + n) & mask) * slotSize;
            int length = region.readInt(slot);
            int vlan = region.readInt(slot + 4);
            if (length < 14 || length > slotSize - ChannelLayout.SLOT_HEADER || vlan < 0 || vlan > 4095) {
                fail("slot " + ((rxPosition + n) & mask) + " claims a frame of " + length + " bytes in VLAN " + vlan);
                break;
            }
            region.nativeRead(slot + ChannelLayout.SLOT_HEADER, stagingAddress, length);
            int taken = handler.onFrame(staging, 0, length, vlan);
            if (taken == Handler.KEEP) {
                break;
            }
            n++;
            if (taken == Handler.TAKE_AND_STOP) {
                break;
            }
        }
        if (n > 0) {
            rxPosition += n;
            region.writeOrderedLong(rxRing + ChannelLayout.CONSUMER, rxPosition);
        }
        return n;
    }

    /**
     * Before this side sleeps: tells the producer to signal it, then looks once more. False (and the flag cleared)
     * when frames arrived meanwhile: do not sleep.
     */
    public boolean prepareToSleep() {
        region.writeOrderedInt(rxRing + ChannelLayout.ASLEEP, 1);
        VarHandle.fullFence();
        long producer = region.readVolatileLong(rxRing + ChannelLayout.PRODUCER);
        if (producer != rxPosition || broken != null) {
            region.writeOrderedInt(rxRing + ChannelLayout.ASLEEP, 0);
            return false;
        }
        return true;
    }

    /** Awake again: the producer need not signal. */
    public void wokeUp() {
        region.writeOrderedInt(rxRing + ChannelLayout.ASLEEP, 0);
    }

    private boolean fail(String why) {
        if (broken == null) {
            broken = why;
        }
        return false;
    }

    /** Why the channel stopped (the peer wrote something the layout does not allow), or null while it works. */
    public String brokenReason() {
        return broken;
    }

    public boolean isBroken() {
        return broken != null;
    }

    /** The largest frame a slot holds. */
    public int maxFrame() {
        return slotSize - ChannelLayout.SLOT_HEADER;
    }

    public int slots() {
        return slots;
    }

    public int slotSize() {
        return slotSize;
    }
}
