package io.vnicd.vmm.qemu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The kernel and initramfs of the vnicd test guest, as built by {@code guests/build.sh} (Debian's kernel,
 * busybox-static and {@code guests/init}; the job comes from {@code vnicd.*} words on the kernel command line).
 *
 * @param kernel the kernel for {@code -kernel}: an uncompressed ELF vmlinux QEMU boots through PVH (faster under
 *     TCG), or a bzImage
 * @param initrd the initramfs for {@code -initrd}
 */
public record GuestImage(Path kernel, Path initrd) {
    /** How long a first (uncached) build may take: it copies modules and links ~400 busybox applets. */
    private static final long BUILD_TIMEOUT_SECONDS = 300;

    /**
     * The image named by the system properties {@code vnicd.guest.kernel} and {@code vnicd.guest.initrd}, or the
     * environment variables {@code VNICD_GUEST_KERNEL} and {@code VNICD_GUEST_INITRD}; failing those, the image
     * {@code guests/build.sh} builds (or finds in its cache), looking for the script from the working directory up.
     */
    public static GuestImage locate() throws IOException {
        String kernel = System.getProperty("vnicd.guest.kernel", System.getenv("VNICD_GUEST_KERNEL"));
        String initrd = System.getProperty("vnicd.guest.initrd", System.getenv("VNICD_GUEST_INITRD"));
        if (kernel != null && initrd != null) {
            return checked(Path.of(kernel), Path.of(initrd));
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path script = dir.resolve("guests/build.sh");
            if (Files.isRegularFile(script)) {
                return build(script);
            }
        }
        throw new QemuException("no guest image: set VNICD_GUEST_KERNEL and VNICD_GUEST_INITRD, or run from the vnicd "
                + "tree so guests/build.sh can be found (working directory " + Path.of("").toAbsolutePath() + ")");
    }

    /** Runs the build script (fast when its cache is current) and reads the two paths it prints. */
    public static GuestImage build(Path script) throws IOException {
        Process p = new ProcessBuilder("bash", script.toString()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        CompletableFuture<String> stderr = drain(p.getErrorStream());
        CompletableFuture<String> stdout = drain(p.getInputStream());
        try {
            if (!p.waitFor(BUILD_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new QemuException(script + " did not finish within " + BUILD_TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new QemuException("interrupted while running " + script, e);
        }
        String out = stdout.join();
        if (p.exitValue() != 0) {
            throw new QemuException(script + " failed with exit code " + p.exitValue() + ":\n" + stderr.join());
        }
        String kernel = null;
        String initrd = null;
        for (String line : out.split("\n")) {
            if (line.startsWith("VNICD_GUEST_KERNEL=")) {
                kernel = line.substring("VNICD_GUEST_KERNEL=".length()).trim();
            } else if (line.startsWith("VNICD_GUEST_INITRD=")) {
                initrd = line.substring("VNICD_GUEST_INITRD=".length()).trim();
            }
        }
        if (kernel == null || initrd == null) {
            throw new QemuException(script + " did not print VNICD_GUEST_KERNEL and VNICD_GUEST_INITRD:\n" + out + stderr.join());
        }
        return checked(Path.of(kernel), Path.of(initrd));
    }

    private static GuestImage checked(Path kernel, Path initrd) throws QemuException {
        if (!Files.isReadable(kernel) || !Files.isReadable(initrd)) {
            throw new QemuException("guest image not readable: kernel " + kernel + ", initrd " + initrd);
        }
        return new GuestImage(kernel, initrd);
    }

    private static CompletableFuture<String> drain(InputStream in) {
        return CompletableFuture.supplyAsync(() -> {
            try (in) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(cannot read: " + e.getMessage() + ")";
            }
        }, Thread::startVirtualThread);
    }
}
