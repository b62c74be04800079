package io.vnicd.tests.containers;

import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.GuestImage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The project's test guests, each in its own container (Testcontainers, image vnicd/guest-runner:1), on two
 * VFs of a vnicd running on the host: the vhost-user sockets are shared through a mounted folder, and the
 * guests ping each other and stream bytes through vnicd's switch.
 */
@Tag("slow")
class ContainerGuestsOnVnicdTest {
    @BeforeAll
    static void requireEngine() {
        GuestContainer.requireEngine();
    }

    private static final Duration BOOT = Duration.ofMinutes(3);
    private static final int BYTES = 1_000_000;

    @TempDir
    Path sockets;

    private GuestContainer guest(GuestImage image, Path socket, String mac, String... jobs) {
        return new GuestContainer(image.kernel(), image.initrd())
                .withKernelCommandLine("console=ttyS0 quiet panic=-1 " + String.join(" ", jobs))
                .withSocketFolder(sockets)
                .withQemuArgs("-chardev", "socket,id=vf,path=" + socket, "-netdev", "vhost-user,id=n0,chardev=vf",
                        "-device", "virtio-net-pci,netdev=n0,mac=" + mac + ",vectors=0")
                .waitingForConsole("VNICD-GUEST booted", BOOT);
    }

    @Test
    void shouldLetGuestsInTwoContainersTalkThroughVnicd() throws Exception {
        GuestImage image = GuestImage.locate();
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", sockets.resolve("vf0.sock").toString(), "server", 1, null),
                new VnicdConfig.VfConfig("vf1", sockets.resolve("vf1.sock").toString(), "server", 1, null)))));
        try (Vnicd vnicd = new Vnicd(config.validate()).start();
             GuestContainer receiver = guest(image, sockets.resolve("vf0.sock"), "52:54:00:00:08:01",
                     "vnicd.ip=eth0:10.0.0.1/24", "vnicd.run=tcp-recv:5001", "vnicd.run=respond:2");
             GuestContainer sender = guest(image, sockets.resolve("vf1.sock"), "52:54:00:00:08:02",
                     "vnicd.ip=eth0:10.0.0.2/24", "vnicd.run=ping:10.0.0.1:5", "vnicd.run=tcp-send:10.0.0.1:5001:" + BYTES)) {
            receiver.start();
            sender.start();
            assertEquals(0, sender.awaitExit(BOOT), sender::console);
            assertEquals(0, receiver.awaitExit(BOOT), receiver::console);
            Matcher ping = Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)").matcher(sender.console());
            assertTrue(ping.find(), sender.console());
            assertEquals("5", ping.group(2), "every ping answered through vnicd");
            Matcher sent = Pattern.compile("result tcp-send bytes=(\\d+) md5=(\\w+)").matcher(sender.console());
            Matcher got = Pattern.compile("result tcp-recv bytes=(\\d+) md5=(\\w+)").matcher(receiver.console());
            assertTrue(sent.find() && got.find(), receiver.console());
            assertEquals(String.valueOf(BYTES), got.group(1));
            assertEquals(sent.group(2), got.group(2), "the stream arrived intact");
            assertTrue(vnicd.physicalFunctions().getFirst().virtualFunctions().get(0).endpoint().connections() >= 1);
        }
    }
}
