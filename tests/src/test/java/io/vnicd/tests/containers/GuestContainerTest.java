package io.vnicd.tests.containers;

import io.vnicd.testkit.Peers;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real QEMU guests (TCG) in containers: the host's kernel with a busybox initramfs made here.
 * Needs an engine and the image: {@code scripts/docker-engine start}; without one it fails in CI and skips
 * elsewhere ({@link io.vnicd.testkit.Peers}).
 */
@Tag("slow")
class GuestContainerTest {
    static final String BOOTED = "VNICD-GUEST booted";
    static final Duration BOOT = Duration.ofMinutes(3);

    /**
     * The guest's init: mounts, prints the marker, and talks over its second serial port (ttyS1, whose other end
     * is a unix socket) when the command line asks: {@code vnicd.test=link} sends a greeting, then reads one line
     * and prints it on the console; {@code vnicd.test=echo} reads one line, prints it, and sends it back prefixed.
     * ttyS1 stays open (fd 3) for the whole exchange: the 8250 driver drops what arrives while the port is closed.
     */
    static final String INIT = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            echo "VNICD-GUEST booted"
            if grep -q vnicd.test= /proc/cmdline; then
              exec 3<>/dev/ttyS1
              stty -F /dev/ttyS1 raw -echo
            fi
            if grep -q vnicd.test=link /proc/cmdline; then
              echo "VNICD-GUEST hello" >&3
              read -r line <&3
              echo "VNICD-GUEST got: $line"
            fi
            if grep -q vnicd.test=echo /proc/cmdline; then
              read -r line <&3
              echo "VNICD-GUEST got: $line"
              echo "echo $line" >&3
            fi
            if grep -q vnicd.test=vhost /proc/cmdline; then
              for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net; do
                insmod /modules/$m.ko
              done
              ip link set eth0 up
              for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
                [ "$(cat /sys/class/net/eth0/operstate)" = up ] && break
                sleep 1
              done
              echo "VNICD-GUEST eth0 $(cat /sys/class/net/eth0/operstate)"
            fi
            poweroff -f
            """;
    /** virtio-net and what it needs, in load order (Debian builds them as modules). */
    static final String[] VIRTIO_NET_MODULES = {"drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
        "drivers/virtio/virtio_pci_modern_dev.ko", "drivers/virtio/virtio_pci_legacy_dev.ko",
        "drivers/virtio/virtio_pci.ko", "net/core/failover.ko", "drivers/net/net_failover.ko",
        "drivers/net/virtio_net.ko"};

    static Path kernel;
    static Path initramfs;

    @TempDir
    static Path work;

    @BeforeAll
    static void makeGuest() throws IOException {
        GuestContainer.requireEngine();
        kernel = hostKernel();
        Path busybox = Stream.of(Path.of("/bin/busybox"), Path.of("/usr/bin/busybox"))
                .filter(Files::isReadable).findFirst().orElse(null);
        Peers.require(kernel != null, "a readable /boot/vmlinuz-*-amd64 (apt-get install linux-image-amd64)");
        Peers.require(busybox != null && isStatic(busybox), "a static busybox (apt-get install busybox-static)");
        initramfs = work.resolve("initramfs.gz");
        try (Initramfs archive = Initramfs.create(initramfs)) {
            for (String dir : new String[] {"bin", "dev", "proc", "sys", "tmp", "modules"}) {
                archive.directory(dir);
            }
            archive.charDevice("dev/console", 0600, 5, 1)
                    .file("bin/busybox", 0755, busybox)
                    .file("init", 0755, INIT.getBytes(StandardCharsets.US_ASCII));
            // The kernel's own virtio-net modules, when they are there uncompressed (only the vhost-user test loads them).
            Path modules = Path.of("/lib/modules", kernel.getFileName().toString().substring("vmlinuz-".length()), "kernel");
            for (String module : VIRTIO_NET_MODULES) {
                Path file = modules.resolve(module);
                if (Files.isReadable(file)) {
                    archive.file("modules/" + file.getFileName(), 0644, file);
                }
            }
        }
    }

    @Test
    void shouldBootTheHostKernelInAContainerAndPowerOff() {
        try (GuestContainer guest = new GuestContainer(kernel, initramfs)
                .withKernelCommandLine("console=ttyS0 panic=-1")
                .waitingForConsole(BOOTED, BOOT)) {
            guest.start();
            assertEquals(0, guest.awaitExit(BOOT), guest::console);
            assertTrue(guest.console().contains(BOOTED), guest::console);
            assertFalse(guest.console().contains("Kernel panic"), guest::console);
        }
    }

    /**
     * The arrangement vnicd uses for vhost-user: the host listens on a unix socket in a folder shared with the
     * container, QEMU in the container connects to it as a client, and bytes flow both ways between the guest and
     * the host.
     */
    @Test
    void shouldConnectContainerisedQemuToAHostSocketInASharedFolder(@TempDir Path sockets) throws Exception {
        Path socket = sockets.resolve("link.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
             GuestContainer guest = new GuestContainer(kernel, initramfs)
                     .withKernelCommandLine("console=ttyS0 panic=-1 vnicd.test=link")
                     .withSocketFolder(sockets)
                     .withQemuArgs("-chardev", "socket,id=link,path=" + socket, "-device", "isa-serial,chardev=link")
                     .waitingForConsole(BOOTED, BOOT)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            // QEMU connects while it starts, before the guest runs: accept on another thread.
            CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            guest.start();
            try (SocketChannel link = accepted.get(BOOT.toSeconds(), TimeUnit.SECONDS)) {
                assertEquals("VNICD-GUEST hello", readLine(link), guest::console);
                link.write(ByteBuffer.wrap("from-host\n".getBytes(StandardCharsets.US_ASCII)));
                assertEquals(0, guest.awaitExit(BOOT), guest::console);
            }
            assertTrue(guest.console().contains("VNICD-GUEST got: from-host"), guest::console);
        }
    }

    /**
     * Two containers, one socket folder: QEMU in the first listens on a socket there, QEMU in the second connects
     * to it, and their guests exchange a line over it. So containerised peers (a guest, or testpmd) can meet at a
     * socket path just as they meet vnicd on the host.
     */
    @Test
    void shouldLetTwoContainersMeetAtASocketInASharedFolder(@TempDir Path sockets) {
        Path socket = sockets.resolve("pair.sock");
        try (GuestContainer listener = new GuestContainer(kernel, initramfs)
                     .withKernelCommandLine("console=ttyS0 panic=-1 vnicd.test=echo")
                     .withSocketFolder(sockets)
                     .withQemuArgs("-chardev", "socket,id=link,path=" + socket + ",server=on,wait=off",
                             "-device", "isa-serial,chardev=link")
                     .waitingForConsole(BOOTED, BOOT);
             GuestContainer connector = new GuestContainer(kernel, initramfs)
                     .withKernelCommandLine("console=ttyS0 panic=-1 vnicd.test=link")
                     .withSocketFolder(sockets)
                     .withQemuArgs("-chardev", "socket,id=link,path=" + socket, "-device", "isa-serial,chardev=link")
                     .waitingForConsole(BOOTED, BOOT)) {
            // The listener's QEMU made the socket before its guest booted; the connector's QEMU needs it at start.
            listener.start();
            connector.start();
            assertEquals(0, connector.awaitExit(BOOT), connector::console);
            assertEquals(0, listener.awaitExit(BOOT), listener::console);
            assertTrue(listener.console().contains("VNICD-GUEST got: VNICD-GUEST hello"), listener::console);
            assertTrue(connector.console().contains("VNICD-GUEST got: echo VNICD-GUEST hello"), connector::console);
        }
    }

    /**
     * The whole vhost-user path across the container boundary, with DPDK's vhost PMD on the host standing in for
     * vnicd: testpmd listens on the socket, QEMU in the container connects, the guest's virtio-net driver starts the
     * device, and the backend receives the guest's memory (memfd) and the kick and call eventfds over the socket.
     * QEMU 7.2 under TCG needs vectors=0 (no MSI-X) with vhost-user (shared/DESIGN.md).
     */
    @Test
    void shouldStartAVhostUserNicOfAContainerisedGuestAgainstAHostBackend(@TempDir Path sockets) throws Exception {
        Path testpmd = Peers.executable("dpdk-testpmd", "apt-get install dpdk-dev");
        Path modules = Path.of("/lib/modules", kernel.getFileName().toString().substring("vmlinuz-".length()), "kernel");
        Peers.require(Stream.of(VIRTIO_NET_MODULES).allMatch(m -> Files.isReadable(modules.resolve(m))),
                "uncompressed virtio-net modules in " + modules + " (apt-get install linux-image-amd64)");
        Path socket = sockets.resolve("vhost.sock");
        Path log = sockets.resolve("testpmd.log");
        // No hugepages needed: the vhost PMD maps the guest's memfd; its own mbufs fit in 512 MB of plain memory.
        // Its own --file-prefix so it does not clash with other testpmds; its runtime folder is removed afterwards
        // (--in-memory would need none, but it does not go with --no-huge).
        String prefix = "vnicd-containers-" + ProcessHandle.current().pid();
        Process backend = new ProcessBuilder(testpmd.toString(), "--no-huge", "-m", "512", "--no-pci",
                "--file-prefix", prefix, "-l", "0,1",
                "--vdev", "net_vhost0,iface=" + socket + ",queues=1",
                "--", "--total-num-mbufs=2048", "--forward-mode=io", "--auto-start")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            for (int i = 0; i < 300 && !Files.exists(socket) && backend.isAlive(); i++) {
                Thread.sleep(100);
            }
            assertTrue(Files.exists(socket), () -> "testpmd made no socket:\n" + read(log));
            try (GuestContainer guest = new GuestContainer(kernel, initramfs)
                    .withKernelCommandLine("console=ttyS0 panic=-1 vnicd.test=vhost")
                    .withSocketFolder(sockets)
                    .withQemuArgs("-chardev", "socket,id=vu0,path=" + socket,
                            "-netdev", "vhost-user,id=n0,chardev=vu0",
                            "-device", "virtio-net-pci,netdev=n0,vectors=0")
                    .waitingForConsole(BOOTED, BOOT)) {
                guest.start();
                assertEquals(0, guest.awaitExit(BOOT), guest::console);
                assertTrue(guest.console().contains("VNICD-GUEST eth0 up"), guest::console);
            }
            String backendLog = read(log);
            assertTrue(backendLog.contains("VHOST_USER_SET_MEM_TABLE"), backendLog);
            assertTrue(backendLog.contains("virtio is now ready for processing"), backendLog);
        } finally {
            backend.destroy();
            if (!backend.waitFor(10, TimeUnit.SECONDS)) {
                backend.destroyForcibly().waitFor();
            }
            deleteTree(Path.of("/var/run/dpdk", prefix));
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (Files.exists(root)) {
            try (Stream<Path> paths = Files.walk(root)) {
                for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(path);
                }
            }
        }
    }

    static String read(Path log) {
        try {
            return new String(Files.readAllBytes(log), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Reads up to a newline, dropping carriage returns (the guest tty may add them). */
    static String readLine(SocketChannel channel) throws IOException {
        StringBuilder line = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (channel.read(one.clear()) > 0) {
            char c = (char) one.get(0);
            if (c == '\n') {
                return line.toString();
            }
            if (c != '\r') {
                line.append(c);
            }
        }
        return line.toString();
    }

    static Path hostKernel() throws IOException {
        try (Stream<Path> boot = Files.list(Path.of("/boot"))) {
            return boot.filter(p -> p.getFileName().toString().matches("vmlinuz-.*-amd64"))
                    .filter(Files::isReadable)
                    .max(Comparator.comparing(Path::toString)).orElse(null);
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }

    /** A dynamically linked busybox would find no libc in the initramfs; its ELF then names a loader. */
    static boolean isStatic(Path elf) throws IOException {
        byte[] head = new byte[4096];
        try (var in = Files.newInputStream(elf)) {
            int n = in.readNBytes(head, 0, head.length);
            return !new String(head, 0, n, StandardCharsets.ISO_8859_1).contains("ld-linux");
        }
    }
}
