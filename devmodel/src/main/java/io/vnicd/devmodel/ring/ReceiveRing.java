package io.vnicd.devmodel.ring;

import java.util.Objects;

/**
 * A "hardware" receive ring as a NIC has one per VF or per special purpose (a standby ring for traffic
 * classified as an attack, a monitor ring), with software rings behind it. The classifier offers entries
 * to the hardware ring from any thread; one poller calls {@link #fanOut} to move them to the software ring
 * chosen by the frame's flow hash, so each flow stays in order on one consumer. Bounding the fan-out budget
 * per call is what keeps a flooded standby ring from taking the poller's time from the other rings.
 *
 * <p>Every entry that cannot move on is counted and handed to the drop handler, which must release what
 * the entry refers to (its pool buffer): a drop never leaks a buffer.
 */
public final class ReceiveRing {
    /** What the ring is for; a standby ring has its own budget, a monitor ring feeds a capture. */
    public enum Purpose { VF, STANDBY, MONITOR }

    private final String name;
    private final Purpose purpose;
    private final ManyToOneRing hardware;
    private final OneToOneRing[] software;
    private final int softwareMask;
    private final FlowHash flowHash;
    private final EntryHandler dropHandler;
    private final EntryHandler fanOutHandler = this::moveToSoftwareRing;

    /**
     * @param softwareRings a power of two (1 for a single consumer)
     * @param dropHandler   receives every entry dropped because its software ring was full
     */
    public ReceiveRing(String name, Purpose purpose, int hardwareCapacity, int softwareRings, int softwareCapacity,
                       FlowHash flowHash, EntryHandler dropHandler) {
        if (softwareRings < 1 || Integer.bitCount(softwareRings) != 1) {
            throw new IllegalArgumentException("software ring count must be a power of two: " + softwareRings);
        }
        this.name = Objects.requireNonNull(name);
        this.purpose = Objects.requireNonNull(purpose);
        this.flowHash = Objects.requireNonNull(flowHash);
        this.dropHandler = Objects.requireNonNull(dropHandler);
        this.hardware = ManyToOneRing.allocate(hardwareCapacity);
        this.software = new OneToOneRing[softwareRings];
        for (int i = 0; i < softwareRings; i++) {
            software[i] = OneToOneRing.allocate(softwareCapacity);
        }
        this.softwareMask = softwareRings - 1;
    }

    /**
     * Classifier side, any thread. False when the hardware ring is full (counted in
     * {@code hardwareRing().fullDrops()}); the caller then still owns the entry's buffer.
     */
    public boolean offer(long entry) {
        return hardware.offer(entry);
    }

    /** Poller side (one thread): moves up to budget entries to their software rings; returns how many it took. */
    public int fanOut(int budget) {
        return hardware.drain(fanOutHandler, budget);
    }

    private void moveToSoftwareRing(long entry) {
        OneToOneRing ring = software[flowHash.hash(entry) & softwareMask];
        if (!ring.offer(entry)) {
            dropHandler.onEntry(entry);
        }
    }

    /** Which software ring a flow hash lands on. */
    public int softwareRingIndex(int hash) {
        return hash & softwareMask;
    }

    public OneToOneRing softwareRing(int index) {
        return software[index];
    }

    public int softwareRingCount() {
        return software.length;
    }

    public ManyToOneRing hardwareRing() {
        return hardware;
    }

    public String name() {
        return name;
    }

    public Purpose purpose() {
        return purpose;
    }

    /** Entries lost at this ring: hardware ring full plus any software ring full. */
    public long drops() {
        long drops = hardware.fullDrops();
        for (OneToOneRing ring : software) {
            drops += ring.fullDrops();
        }
        return drops;
    }
}
