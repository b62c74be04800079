package io.vnicd.tests.qemu;

import io.vnicd.testkit.Peers;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.GuestImage;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuLauncher;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's libvirt domain XML (an {@code <interface type='vhostuser'>} on a vnicd VF's socket) works: libvirt's
 * own schema accepts it (virt-xml-validate), the QEMU command line libvirt makes of it joins the socket with a
 * vhost-user netdev and shared guest memory (virsh domxml-to-native), and a guest libvirt starts from it (virsh
 * create, libvirtd from scripts/libvirt-daemon) pings a QEMU guest on another VF through vnicd.
 */
@Tag("slow")
class LibvirtDomainTest {
    private static final String URI = "qemu:///system";

    @TempDir
    Path dir;

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed:\n" + out);
        }
        return out;
    }

    private static void requireLibvirt() throws InterruptedException {
        Peers.executable("virsh", "run scripts/setup (scripts/libvirt-daemon start: Debian's libvirt-clients)");
        Peers.executable("virt-xml-validate", "run scripts/setup (Debian's libvirt-clients)");
        boolean answers;
        try {
            Process p = new ProcessBuilder("virsh", "-c", URI, "version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            answers = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            answers = false;
        }
        Peers.require(answers, "libvirtd answering on " + URI + " (scripts/libvirt-daemon start)");
    }

    private String domain(String name, GuestImage image, String cmdline, String mac, Path socket, Path console) throws IOException {
        String xml;
        try (InputStream in = LibvirtDomainTest.class.getResourceAsStream("/libvirt/vnicd-guest.xml")) {
            xml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        return xml.replace("@NAME@", name).replace("@KERNEL@", image.kernel().toString())
                .replace("@INITRD@", image.initrd().toString()).replace("@CMDLINE@", cmdline).replace("@MAC@", mac)
                .replace("@SOCKET@", socket.toString()).replace("@CONSOLE@", console.toString());
    }

    @Test
    @Timeout(300)
    void shouldStartALibvirtGuestOnAVnicdVfFromTheReadmesDomainXml() throws Exception {
        GuestImage image = TestGuests.image();
        requireLibvirt();
        List<VnicdConfig.VfConfig> vfs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            vfs.add(new VnicdConfig.VfConfig("vf" + i, dir.resolve("vf" + i + ".sock").toString(), "server", 1, null));
        }
        String name = "vnicd-test-" + ProcessHandle.current().pid();
        Path console = dir.resolve("libvirt-console.log");
        List<String> words = new ArrayList<>(QemuLauncher.BASE_KERNEL_ARGS);
        words.addAll(List.of("vnicd.ip=eth0:10.0.9.2/24", "vnicd.run=ping:10.0.9.1:5", "vnicd.stay=1"));
        Path xml = dir.resolve("domain.xml");
        Files.writeString(xml, domain(name, image, String.join(" ", words), "52:54:00:00:09:02", dir.resolve("vf1.sock"), console));

        String valid = run("virt-xml-validate", xml.toString(), "domain");
        assertTrue(valid.contains("validates"), valid);
        // domxml-to-native shows every interface as a tap: the guest memory is what it tells truly here
        String argv = run("virsh", "-c", URI, "domxml-to-native", "qemu-argv", xml.toString());
        assertTrue(argv.contains("memory-backend-memfd") && argv.contains("\"share\":true"), "shared guest memory:\n" + argv);

        try (Vnicd vnicd = new Vnicd(new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", vfs))).validate()).start();
             QemuGuest peer = TestGuests.guest(dir, "peer")
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:09:01", dir.resolve("vf0.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.9.1/24", "vnicd.stay=1")
                     .build().start()) {
            peer.awaitMarker("link eth0 up", TestGuests.BOOT);
            run("virsh", "-c", URI, "create", xml.toString());
            try {
                // the command line libvirt started QEMU with, from its log of the domain
                String started = Files.readString(Path.of("/var/log/libvirt/qemu", name + ".log"));
                assertTrue(started.contains("vhost-user") && started.contains(dir.resolve("vf1.sock").toString()),
                        "libvirt joined the VF's socket with a vhost-user netdev:\n" + started);
                Pattern result = Pattern.compile("result ping target=10.0.9.1 sent=(\\d+) received=(\\d+)");
                long deadline = System.nanoTime() + TestGuests.BOOT.toNanos();
                Matcher m = null;
                while (System.nanoTime() < deadline) {
                    String out = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
                    Matcher candidate = result.matcher(out);
                    if (candidate.find()) {
                        m = candidate;
                        break;
                    }
                    Thread.sleep(500);
                }
                assertTrue(m != null, "the libvirt guest reported its pings; its console:\n"
                        + (Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "(none)"));
                assertEquals("5", m.group(2), "every ping from the libvirt guest answered through vnicd");
                assertTrue(vnicd.physicalFunction("pf0").virtualFunction("vf1").connected(), "libvirt's QEMU is vf1's frontend");
            } finally {
                new ProcessBuilder("virsh", "-c", URI, "destroy", name).redirectErrorStream(true).start().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
