package io.vnicd.vmm.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything needed to start one QEMU guest, and the command line made from it.
 *
 * <p>The machine is always set up so a vhost-user backend can serve its NICs: guest RAM comes from
 * {@code memory-backend-memfd,share=on} bound to a NUMA node, because vhost-user maps guest memory from the
 * file descriptors QEMU sends in SET_MEM_TABLE, which only works for shared, fd-backed memory. The console is a
 * serial port written to a file, QMP listens on a unix socket, and {@code -no-reboot} turns the guest's
 * {@code poweroff -f} (or a panic, with {@code panic=-1}) into QEMU exiting.
 *
 * <pre>{@code
 * QemuLauncher launcher = QemuLauncher.builder(GuestImage.locate(), workDir, "vm1")
 *         .nic(QemuNic.vhostUser("vf0", "52:54:00:00:00:01", vnicdSocket))
 *         .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.run=respond:60")
 *         .build();
 * try (QemuGuest guest = launcher.start()) {
 *     guest.awaitMarker("link eth0 up", Duration.ofSeconds(60));
 *     guest.qmp().setLink("vf0", false);
 * }
 * }</pre>
 */
public final class QemuLauncher {
    /** The QEMU binary unless configured: the system property {@code vnicd.qemu}, else this name on PATH. */
    public static final String DEFAULT_BINARY = "qemu-system-x86_64";
    /** Kernel arguments every guest gets: console on the first serial port, quiet kernel, no reboot on panic. */
    public static final List<String> BASE_KERNEL_ARGS = List.of("console=ttyS0", "quiet", "panic=-1");
    /** sun_path is 108 bytes including the terminating NUL. */
    private static final int UNIX_PATH_MAX = 107;

    private final String binary;
    private final String name;
    private final Path workDir;
    private final GuestImage image;
    private final String machine;
    private final String accel;
    private final int memoryMb;
    private final int memorySlots;
    private final int maxMemoryMb;
    private final int cpus;
    private final int hotplugSlots;
    private final List<QemuNic> nics;
    private final List<String> kernelArgs;
    private final List<String> extraArgs;

    private QemuLauncher(Builder b) {
        this.binary = b.binary;
        this.name = b.name;
        this.workDir = b.workDir.toAbsolutePath();
        this.image = b.image;
        this.machine = b.machine;
        this.accel = b.accel != null ? b.accel : Accelerator.forGuests(b.binary, b.image).name();
        this.memoryMb = b.memoryMb;
        this.memorySlots = b.memorySlots;
        this.maxMemoryMb = b.maxMemoryMb;
        this.cpus = b.cpus;
        this.hotplugSlots = b.hotplugSlots;
        this.nics = List.copyOf(b.nics);
        this.kernelArgs = List.copyOf(b.kernelArgs);
        this.extraArgs = List.copyOf(b.extraArgs);
    }

    /**
     * Starts a description of a guest.
     *
     * @param image the kernel and initramfs
     * @param workDir where the console log, QEMU's output and the QMP socket go (created if missing)
     * @param name the guest's name, used in file names and messages
     */
    public static Builder builder(GuestImage image, Path workDir, String name) {
        return new Builder(image, workDir, name);
    }

    /** The guest's name. */
    public String name() {
        return name;
    }

    /** The serial console log. */
    public Path consoleLog() {
        return workDir.resolve(name + ".console.log");
    }

    /** QEMU's own stdout and stderr. */
    public Path qemuLog() {
        return workDir.resolve(name + ".qemu.log");
    }

    /** The QMP unix socket. */
    public Path qmpSocket() {
        return workDir.resolve(name + ".qmp.sock");
    }

    /** The NICs present at start. */
    public List<QemuNic> nics() {
        return nics;
    }

    /** The accelerator, "kvm" or "tcg". */
    public String accel() {
        return accel;
    }

    /** The machine type, "q35" or "pc". */
    public String machine() {
        return machine;
    }

    /** How many empty PCIe root ports (ids hp0, hp1, ...) wait for hot-plugged NICs on q35. */
    public int hotplugSlots() {
        return hotplugSlots;
    }

    /** The full kernel command line. */
    public String kernelCommandLine() {
        List<String> words = new ArrayList<>(BASE_KERNEL_ARGS);
        words.addAll(kernelArgs);
        return String.join(" ", words);
    }

    /** The QEMU command line, binary first. */
    public List<String> commandLine() {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary);
        cmd.addAll(List.of("-name", name));
        cmd.addAll(List.of("-machine", machine, "-accel", accel));
        cmd.addAll(List.of("-m", memoryMb + "M" + (memorySlots > 0 ? ",slots=" + memorySlots + ",maxmem=" + maxMemoryMb + "M" : ""),
                "-smp", Integer.toString(cpus)));
        cmd.addAll(List.of("-object", "memory-backend-memfd,id=mem,size=" + memoryMb + "M,share=on",
                "-numa", "node,memdev=mem"));
        cmd.addAll(List.of("-kernel", image.kernel().toString(), "-initrd", image.initrd().toString(),
                "-append", kernelCommandLine()));
        if (isPcie()) {
            for (int i = 0; i < hotplugSlots; i++) {
                cmd.addAll(List.of("-device", "pcie-root-port,id=" + hotplugBus(i) + ",chassis=" + (i + 1) + ",slot=" + (i + 1)));
            }
        }
        for (QemuNic nic : nics) {
            cmd.addAll(nic.arguments(null));
        }
        cmd.addAll(List.of("-chardev", "file,id=console,path=" + escape(consoleLog().toString()), "-serial", "chardev:console"));
        cmd.addAll(List.of("-chardev", "socket,id=qmp,path=" + escape(qmpSocket().toString()) + ",server=on,wait=off",
                "-mon", "chardev=qmp,mode=control"));
        cmd.addAll(List.of("-display", "none", "-no-reboot", "-nodefaults"));
        cmd.addAll(extraArgs);
        return cmd;
    }

    /** The bus a hot-plugged NIC goes on: an empty root port on q35, or null (the root bus) on pc. */
    String hotplugBus(int index) {
        return isPcie() ? "hp" + index : null;
    }

    boolean isPcie() {
        return machine.startsWith("q35");
    }

    /**
     * Starts QEMU and connects to its QMP socket. Does not wait for the guest to boot: follow with
     * {@link QemuGuest#awaitMarker}.
     *
     * @throws QemuException when QEMU cannot be run or exits before QMP answers, with its output
     */
    public QemuGuest start() throws IOException {
        if (qmpSocket().toString().getBytes(StandardCharsets.UTF_8).length > UNIX_PATH_MAX) {
            throw new QemuException("QMP socket path longer than " + UNIX_PATH_MAX + " bytes, use a shorter work dir: " + qmpSocket());
        }
        Files.createDirectories(workDir);
        Files.deleteIfExists(consoleLog());
        Files.deleteIfExists(qemuLog());
        Files.deleteIfExists(qmpSocket());
        Files.createFile(consoleLog());
        List<String> cmd = commandLine();
        Process process;
        try {
            process = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectErrorStream(true)
                    .redirectOutput(qemuLog().toFile())
                    .start();
        } catch (IOException e) {
            throw new QemuException("cannot run " + binary + " (apt-get install qemu-system-x86, or set -Dvnicd.qemu): "
                    + e.getMessage(), e);
        }
        return QemuGuest.started(this, process);
    }

    /** Doubles commas, the way QEMU's option parser reads a literal comma inside a value. */
    static String escape(String value) {
        return value.replace(",", ",,");
    }

    /** Collects the settings of a {@link QemuLauncher}. */
    public static final class Builder {
        private String binary = System.getProperty("vnicd.qemu", DEFAULT_BINARY);
        private final String name;
        private final Path workDir;
        private final GuestImage image;
        private String machine = "q35";
        /** Null until set: the launcher then asks {@link Accelerator#forGuests}. */
        private String accel;
        private int memoryMb = 256;
        private int memorySlots;
        private int maxMemoryMb;
        private int cpus = 1;
        private int hotplugSlots;
        private final List<QemuNic> nics = new ArrayList<>();
        private final List<String> kernelArgs = new ArrayList<>();
        private final List<String> extraArgs = new ArrayList<>();

        private Builder(GuestImage image, Path workDir, String name) {
            this.image = Objects.requireNonNull(image, "image");
            this.workDir = Objects.requireNonNull(workDir, "workDir");
            this.name = Objects.requireNonNull(name, "name");
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9_.-]*")) {
                throw new IllegalArgumentException("guest name must be letters, digits, _ . - : " + name);
            }
        }

        /** The QEMU binary (path or name on PATH). */
        public Builder binary(String binary) {
            this.binary = Objects.requireNonNull(binary);
            return this;
        }

        /** "q35" (default; PCIe, hot-plug into root ports) or "pc" (i440FX, ACPI hot-plug on the root bus). */
        public Builder machine(String machine) {
            this.machine = Objects.requireNonNull(machine);
            return this;
        }

        /**
         * "kvm" or "tcg"; the default is what {@link Accelerator} chooses (the setting {@code VNICD_ACCEL}, else KVM
         * only when a probe guest really boots on it).
         */
        public Builder accel(String accel) {
            this.accel = Objects.requireNonNull(accel);
            return this;
        }

        /** Guest RAM in MiB (default 256), all of it in the shared memfd backend. */
        public Builder memoryMb(int memoryMb) {
            if (memoryMb < 64) {
                throw new IllegalArgumentException("the guest needs at least 64 MiB: " + memoryMb);
            }
            this.memoryMb = memoryMb;
            return this;
        }

        /**
         * Room for memory hot-plug: slots DIMMs (pc-dimm, {@link QmpClient#plugMemory}) up to maxMemoryMb of guest
         * memory in all ({@code -m SIZE,slots=N,maxmem=M}).
         */
        public Builder memoryHotplug(int slots, int maxMemoryMb) {
            if (slots < 1 || slots > 256 || maxMemoryMb <= memoryMb) {
                throw new IllegalArgumentException("memory hot-plug needs 1 to 256 slots and maxmem above the "
                        + memoryMb + " MiB of RAM: " + slots + " slots, maxmem " + maxMemoryMb + " MiB");
            }
            this.memorySlots = slots;
            this.maxMemoryMb = maxMemoryMb;
            return this;
        }

        /** Virtual CPUs (default 1; more is slower under TCG on a 2-core host). */
        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        /** Empty PCIe root ports for NICs hot-plugged later with {@link QemuGuest#hotplug} (q35 only). */
        public Builder hotplugSlots(int slots) {
            this.hotplugSlots = slots;
            return this;
        }

        /** Adds a NIC present at boot; the guest names them eth0, eth1, ... in the order added. */
        public Builder nic(QemuNic nic) {
            this.nics.add(Objects.requireNonNull(nic));
            return this;
        }

        /** Adds kernel command-line words, e.g. {@code vnicd.ip=eth0:10.0.0.1/24} (see guests/init). */
        public Builder kernelArgs(String... words) {
            for (String w : words) {
                if (w.isBlank() || w.chars().anyMatch(Character::isWhitespace)) {
                    throw new IllegalArgumentException("a kernel argument is one word: '" + w + "'");
                }
                kernelArgs.add(w);
            }
            return this;
        }

        /** Adds raw QEMU arguments at the end of the command line. */
        public Builder extraArgs(String... args) {
            extraArgs.addAll(List.of(args));
            return this;
        }

        public QemuLauncher build() {
            for (int i = 0; i < nics.size(); i++) {
                for (int j = i + 1; j < nics.size(); j++) {
                    if (nics.get(i).id().equals(nics.get(j).id())) {
                        throw new IllegalArgumentException("two NICs with id " + nics.get(i).id());
                    }
                }
            }
            return new QemuLauncher(this);
        }
    }
}
