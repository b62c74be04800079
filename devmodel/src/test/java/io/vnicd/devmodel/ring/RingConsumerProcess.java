package io.vnicd.devmodel.ring;

/**
 * The other process of {@link SharedRingProcessTest}: attaches to a one-to-one ring in a shared file,
 * takes count entries, checks they come in order (entry i is i), and prints their sum.
 */
public final class RingConsumerProcess {
    private RingConsumerProcess() {
    }

    public static void main(String[] args) {
        long count = Long.parseLong(args[1]);
        try (MappedRegion region = MappedRegion.attach(java.nio.file.Path.of(args[0]))) {
            OneToOneRing ring = OneToOneRing.attach(region.segment());
            long sum = 0;
            long expected = 0;
            while (expected < count) {
                long entry = ring.poll();
                if (entry == RingEntry.NONE) {
                    Thread.onSpinWait();
                    continue;
                }
                if (entry != expected) {
                    System.out.println("out of order: expected " + expected + ", got " + entry);
                    System.exit(1);
                }
                sum += entry;
                expected++;
            }
            System.out.println("sum=" + sum);
        }
    }
}
