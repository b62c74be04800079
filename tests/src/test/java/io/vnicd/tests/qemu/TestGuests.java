package io.vnicd.tests.qemu;

import io.vnicd.testkit.Peers;
import io.vnicd.vmm.qemu.GuestImage;
import io.vnicd.vmm.qemu.QemuLauncher;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * What the QEMU tests share: the guest image (built once per JVM by guests/build.sh), the check that QEMU is
 * installed, and the small waits of starting two guests that talk over a TCP socket netdev.
 */
final class TestGuests {
    /** Generous: a TCG boot is about 5 s of wall time on an idle machine, several times that on a loaded one. */
    static final Duration BOOT = Duration.ofSeconds(120);
    private static GuestImage image;

    private TestGuests() {
    }

    /** The guest image; without QEMU installed, fails the test in CI and skips it elsewhere ({@link Peers}). */
    static synchronized GuestImage image() throws IOException {
        Peers.executable(System.getProperty("vnicd.qemu", QemuLauncher.DEFAULT_BINARY), "apt-get install qemu-system-x86");
        if (image == null) {
            image = GuestImage.locate();
        }
        return image;
    }

    /** A launcher builder for a guest of the test image in dir. */
    static QemuLauncher.Builder guest(Path dir, String name) throws IOException {
        return QemuLauncher.builder(image(), dir, name);
    }

    /** A loopback TCP port that was free a moment ago. */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /**
     * Waits until something listens on 127.0.0.1:port, read from /proc/net/tcp rather than by connecting,
     * because QEMU's socket netdev takes the first connection as its peer.
     */
    static void awaitListening(int port, Duration timeout) throws IOException, InterruptedException {
        String local = String.format(Locale.ROOT, "0100007F:%04X", port);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() - deadline < 0) {
            for (String line : Files.readAllLines(Path.of("/proc/net/tcp"))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 3 && f[1].equals(local) && f[3].equals("0A")) {
                    return;
                }
            }
            Thread.sleep(50);
        }
        throw new IOException("nothing listens on 127.0.0.1:" + port + " after " + timeout);
    }
}
