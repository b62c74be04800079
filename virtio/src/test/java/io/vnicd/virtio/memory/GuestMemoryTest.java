package io.vnicd.virtio.memory;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Guest addresses are unsigned 64-bit values: regions at or above 2^63 are ordinary, wrapping ones are refused. */
class GuestMemoryTest {
    private static final long SIZE = 0x2000;

    @Test
    void shouldAcceptARegionJustBelowAndAcross2To63() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(SIZE);
            GuestMemory m = new GuestMemory(List.of(new GuestMemory.Region(0x7fff_ffff_ffff_f000L, SIZE, 0x8000_0000_0000_0000L, s)),
                    () -> { });
            assertEquals(0, m.regionOf(0x8000_0000_0000_0000L, 0x1000), "a range across 2^63 is inside the region");
            assertEquals(-1, m.regionOf(0x8000_0000_0000_0000L, SIZE), "and one running past its end is not");
            assertEquals(0x7fff_ffff_ffff_f000L, m.userToGuest(0x8000_0000_0000_0000L, 16));
        }
    }

    @Test
    void shouldRefuseARegionThatWrapsAroundTheTopOfTheAddressSpace() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(SIZE);
            IllegalArgumentException gpa = assertThrows(IllegalArgumentException.class, () -> new GuestMemory(
                    List.of(new GuestMemory.Region(0xffff_ffff_ffff_f000L, SIZE, 0x1000, s)), () -> { }));
            assertTrue(gpa.getMessage().contains("wraps"), gpa.getMessage());
            IllegalArgumentException uva = assertThrows(IllegalArgumentException.class, () -> new GuestMemory(
                    List.of(new GuestMemory.Region(0x1000, SIZE, 0xffff_ffff_ffff_f000L, s)), () -> { }));
            assertTrue(uva.getMessage().contains("wraps"), uva.getMessage());
        }
    }
}
