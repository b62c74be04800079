package io.vnicd.vmm.qemu;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AcceleratorTest {
    private final AtomicInteger probes = new AtomicInteger();

    private Supplier<Accelerator.Probe> probe(boolean booted, String detail) {
        return () -> {
            probes.incrementAndGet();
            return new Accelerator.Probe(booted, detail);
        };
    }

    @Test
    void shouldRunUnderTcgWhenKvmOpensButTheProbeGuestDoesNotBoot() {
        Accelerator a = Accelerator.decide(null, true, probe(false, "KVM internal error. Suberror: 1"));

        assertEquals("tcg", a.name());
        assertTrue(a.reason().contains("KVM internal error"), a.reason());
        assertEquals(1, probes.get());
    }

    @Test
    void shouldRunUnderKvmOnlyWhenTheProbeGuestBooted() {
        assertEquals("kvm", Accelerator.decide("auto", true, probe(true, "first marker after 800 ms")).name());
        assertEquals("kvm", Accelerator.decide(" ", true, probe(true, "first marker after 800 ms")).name());
    }

    @Test
    void shouldNotProbeWithoutKvmDevice() {
        Accelerator a = Accelerator.decide("auto", false, probe(true, "never"));

        assertEquals("tcg", a.name());
        assertEquals(0, probes.get());
    }

    @Test
    void shouldLetTheSettingWinWithoutProbing() {
        assertEquals("kvm", Accelerator.decide("KVM", false, probe(false, "never")).name());
        assertEquals("tcg", Accelerator.decide("tcg", true, probe(true, "never")).name());
        assertEquals(0, probes.get());
    }

    @Test
    void shouldRefuseAnUnknownSetting() {
        assertThrows(IllegalArgumentException.class, () -> Accelerator.decide("hvf", true, probe(true, "never")));
    }

    @Test
    void shouldReportAProbeWithoutImageAsNotBootedWithoutStartingQemu() {
        Accelerator.Probe p = Accelerator.probe("/nonexistent/qemu", new GuestImage(Path.of("/nonexistent/vmlinux"),
                Path.of("/nonexistent/initramfs.gz")));

        assertFalse(p.booted());
        assertTrue(p.detail().contains("/nonexistent/vmlinux"), p.detail());
    }
}
