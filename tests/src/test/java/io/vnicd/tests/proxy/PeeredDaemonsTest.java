package io.vnicd.tests.proxy;

import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.tests.drill.DaemonProcess;
import io.vnicd.sriov.peer.ProxyCounter;
import io.vnicd.sriov.peer.ProxyPort;
import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.tests.drill.FailoverDrill;
import io.vnicd.virtio.testing.TestGuest;
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

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two vnicd daemons on one host, joined by a peer socket, a QEMU guest on each: the guests ping and stream TCP to
 * each other through the daemons' proxy ports and their shared-memory channel. The second daemon is killed in the
 * middle of the stream: the first keeps switching its own VFs and counts the loss; the second is started again, its
 * guest's QEMU reconnects to it, the channel is built again and the stream arrives whole.
 */
@Tag("slow")
class PeeredDaemonsTest {
    private static final Pattern SENT = Pattern.compile("result tcp-send bytes=(\\d+) md5=([0-9a-f]+) rc=(\\d+)");
    private static final Pattern RECEIVED = Pattern.compile("result tcp-recv bytes=(\\d+) md5=([0-9a-f]+)");
    private static final Pattern PING = Pattern.compile("result ping target=10.79.0.2 sent=(\\d+) received=(\\d+)");
    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final long BYTES = 32L << 20;

    @TempDir
    Path dir;

    private static void await(BooleanSupplier c, String what) throws InterruptedException {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (!c.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(20);
        }
    }

    /** The next frame from vf1 that own2 receives, past what the guests flood meanwhile (their ARP, say). */
    private static byte[] ownFrame(TestGuest g) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            byte[] f = g.receive(Duration.ofSeconds(1));
            if (f != null && f.length == 100 && f[11] == 0x01 && f[10] == 0x79) {
                return f;
            }
        }
        return null;
    }

    @Test
    @Timeout(400)
    void shouldCarryAStreamBetweenGuestsOfTwoDaemonsAndResumeItWhenTheKilledOneReturns() throws Exception {
        GuestImage image = FailoverDrill.image();
        Path peer = Files.createDirectories(dir.resolve("peers")).resolve("host.sock");
        Path a = Files.createDirectories(dir.resolve("a"));
        Path b = Files.createDirectories(dir.resolve("b"));
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", a.resolve("vf0.sock").toString(), "server", 1, null),
                new VnicdConfig.VfConfig("vf1", a.resolve("vf1.sock").toString(), "server", 1, "02:00:00:00:79:01"),
                new VnicdConfig.VfConfig("vf2", a.resolve("vf2.sock").toString(), "server", 1, "02:00:00:00:79:02")))
                .withPeers(List.of(peer.toString()))));
        String[] bArgs = {"--vf", "vf0=" + b.resolve("vf0.sock"), "--peer", peer.toString(), "--control", b.resolve("control.sock").toString()};
        try (Vnicd daemonA = new Vnicd(config.validate()).start()) {
            DaemonProcess daemonB = DaemonProcess.start(b.resolve("vnicd.log"), List.of(b.resolve("vf0.sock")), bArgs);
            PhysicalFunction pfA = daemonA.physicalFunction("pf0");
            try (QemuGuest receiver = QemuLauncher.builder(image, b, "gb")
                         .nic(QemuNic.vhostUser("vf0", "52:54:00:79:00:02", b.resolve("vf0.sock")).withReconnect(1))
                         .kernelArgs("vnicd.ip=eth0:10.79.0.2/24", "vnicd.run=tcp-recv:5001", "vnicd.stay=1", "vnicd.timeout=600")
                         .build().start();
                 QemuGuest sender = QemuLauncher.builder(image, a, "ga")
                         .nic(QemuNic.vhostUser("vf0", "52:54:00:79:00:01", a.resolve("vf0.sock")))
                         .kernelArgs("vnicd.ip=eth0:10.79.0.1/24", "vnicd.run=ping:10.79.0.2:3",
                                 "vnicd.run=tcp-send:10.79.0.2:5001:" + BYTES, "vnicd.stay=1", "vnicd.timeout=600")
                         .build().start();
                 TestGuest own1 = TestGuest.connect(a.resolve("vf1.sock"));
                 TestGuest own2 = TestGuest.connect(a.resolve("vf2.sock"))) {
                Matcher ping = sender.awaitConsole(PING, BOOT);
                assertEquals("3", ping.group(2), "the guests ping each other across the two daemons");
                ProxyPort proxy = pfA.proxies().getFirst();
                await(() -> proxy.counters().get(PortCounter.OUT_BYTES) > (2 << 20), "the stream runs through the channel");

                daemonB.kill();
                await(() -> !proxy.linkUp(), "daemon A sees its peer gone");
                assertEquals(1, proxy.proxyStatus().get(ProxyCounter.PEER_LOSSES));
                for (int i = 0; i < 50; i++) {
                    byte[] f = TestGuest.frame(0x02_00_00_00_79_02L, 0x02_00_00_00_79_01L, 100, i);
                    own1.send(f);
                    assertArrayEquals(f, ownFrame(own2), "daemon A keeps switching its own VFs");
                }

                daemonB = DaemonProcess.start(b.resolve("vnicd2.log"), List.of(b.resolve("vf0.sock")), bArgs);
                try {
                    await(proxy::linkUp, "the channel is built again");
                    Matcher got = receiver.awaitConsole(RECEIVED, BOOT);
                    Matcher sent = sender.awaitConsole(SENT, BOOT);
                    assertEquals("0", sent.group(3), sent.group());
                    assertEquals(sent.group(1), got.group(1), "every byte arrived");
                    assertEquals(sent.group(2), got.group(2), "intact (md5)");
                    assertEquals(2, proxy.proxyStatus().get(ProxyCounter.SESSIONS));
                } finally {
                    daemonB.close();
                }
            }
        }
    }
}
