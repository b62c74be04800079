package io.vnicd.vmm.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The accelerator QEMU guests run on ({@code kvm} or {@code tcg}) and why it was chosen.
 *
 * <p>A {@code /dev/kvm} that opens does not prove KVM can run a guest: under nested virtualisation it may open
 * and then fail at the first instruction ("KVM internal error ... emulation failure", or a QEMU abort setting an
 * MSR with {@code -cpu host}), or spin in the kernel with no guest output at all. Every guest of such a machine
 * would wait for its boot timeout and fail. So, unless a setting decides, the choice is made by a probe that
 * really boots: the test guest itself, under KVM, with no NIC and no job, must print its first marker within
 * {@link #PROBE_TIMEOUT}; otherwise guests run under TCG. The result is kept for the life of the JVM per QEMU
 * binary and guest image, and logged once with its reason.
 *
 * <p>The setting is the system property {@value #PROPERTY} or, failing it, the environment variable
 * {@value #ENV}: {@code kvm} or {@code tcg} force that accelerator without probing, {@code auto} (the default)
 * probes.
 *
 * @param name the value for QEMU's {@code -accel}
 * @param reason why, in words for a log line
 */
public record Accelerator(String name, String reason) {
    /** The system property that chooses the accelerator: kvm, tcg or auto. */
    public static final String PROPERTY = "vnicd.accel";
    /** The environment variable read when the property is not set. */
    public static final String ENV = "VNICD_ACCEL";
    /** Under working KVM the guest prints its first marker within a second; a loaded machine gets a margin. */
    static final Duration PROBE_TIMEOUT = Duration.ofSeconds(15);
    /** What QEMU prints when KVM opens but cannot run the guest. */
    private static final String KVM_FAILURE = "KVM internal error";
    private static final Map<String, Accelerator> CHOSEN = new ConcurrentHashMap<>();

    /**
     * What a probe boot showed.
     *
     * @param booted true when the guest printed its first marker under KVM
     * @param detail what happened, in words (time to the marker, or why it did not come)
     */
    record Probe(boolean booted, String detail) {
    }

    /**
     * The accelerator for guests of image run by binary: decided once per JVM and pair (see the class comment),
     * logged when decided.
     *
     * @throws IllegalArgumentException when the setting is not kvm, tcg or auto
     */
    static Accelerator forGuests(String binary, GuestImage image) {
        String setting = System.getProperty(PROPERTY, System.getenv(ENV));
        return CHOSEN.computeIfAbsent(setting + "\0" + binary + "\0" + image, k -> {
            Accelerator chosen = decide(setting, kvmDeviceUsable(), () -> probe(binary, image));
            System.getLogger(Accelerator.class.getName()).log(System.Logger.Level.INFO,
                    "QEMU guests run under " + chosen.name() + ": " + chosen.reason());
            return chosen;
        });
    }

    /**
     * The decision, apart from the machine: a setting wins; otherwise KVM only when the device can be opened and a
     * guest really booted on it.
     *
     * @param setting kvm, tcg, auto, or null (auto)
     * @param kvmDevice whether this process may open /dev/kvm
     * @param probe boots a guest under KVM; called only when the answer depends on it
     */
    static Accelerator decide(String setting, boolean kvmDevice, Supplier<Probe> probe) {
        String s = setting == null || setting.isBlank() ? "auto" : setting.strip().toLowerCase(Locale.ROOT);
        return switch (s) {
            case "kvm", "tcg" -> new Accelerator(s, "set by " + PROPERTY + " / " + ENV + "=" + s);
            case "auto" -> {
                if (!kvmDevice) {
                    yield new Accelerator("tcg", "no usable /dev/kvm");
                }
                Probe p = probe.get();
                yield p.booted()
                        ? new Accelerator("kvm", "a probe guest booted under KVM (" + p.detail() + ")")
                        : new Accelerator("tcg", "/dev/kvm opens but a probe guest did not boot under KVM (" + p.detail()
                        + "); set " + ENV + "=kvm to force it");
            }
            default -> throw new IllegalArgumentException(PROPERTY + " / " + ENV + " must be kvm, tcg or auto: '" + setting + "'");
        };
    }

    private static boolean kvmDeviceUsable() {
        Path kvm = Path.of("/dev/kvm");
        return Files.isReadable(kvm) && Files.isWritable(kvm);
    }

    /** Boots image under KVM with no NIC and no job, and waits for the guest's first marker. */
    static Probe probe(String binary, GuestImage image) {
        if (!Files.isReadable(image.kernel()) || !Files.isReadable(image.initrd())) {
            return new Probe(false, "no guest image to probe with: " + image.kernel());
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("vnicd-kvm-probe");
            QemuLauncher launcher = QemuLauncher.builder(image, dir, "kvm-probe").binary(binary).accel("kvm")
                    .memoryMb(128).kernelArgs("vnicd.timeout=60").build();
            long start = System.nanoTime();
            try (QemuGuest guest = launcher.start()) {
                return awaitBoot(guest, start);
            }
        } catch (IOException e) {
            return new Probe(false, firstLine(e.getMessage()));
        } finally {
            deleteQuietly(dir);
        }
    }

    private static Probe awaitBoot(QemuGuest guest, long start) {
        long deadline = start + PROBE_TIMEOUT.toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (guest.console().contains(QemuGuest.MARKER_PREFIX + "booted")) {
                return new Probe(true, "first marker after " + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms");
            }
            String output = guest.qemuOutput();
            if (output.contains(KVM_FAILURE)) {
                return new Probe(false, firstLine(output.substring(output.indexOf(KVM_FAILURE))));
            }
            if (!guest.isAlive()) {
                return new Probe(false, "QEMU exited: " + firstLine(output.isBlank() ? "(no output)" : output.strip()));
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Probe(false, "interrupted");
            }
        }
        return new Probe(false, "no guest output within " + PROBE_TIMEOUT.toSeconds() + " s");
    }

    private static String firstLine(String text) {
        String s = text == null ? "" : text.strip();
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // A leftover directory in /tmp costs nothing; the decision stands.
        }
    }
}
