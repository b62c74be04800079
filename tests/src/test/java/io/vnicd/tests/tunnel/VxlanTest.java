package io.vnicd.tests.tunnel;

import io.vnicd.sriov.tunnel.TunnelCounter;
import io.vnicd.sriov.tunnel.VxlanPort;
import io.vnicd.testkit.Peers;
import io.vnicd.testkit.TestNetwork;
import io.vnicd.tests.drill.FailoverDrill;
import io.vnicd.tests.drill.StreamReceiver;
import io.vnicd.tests.drill.StreamSender;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuLauncher;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * VXLAN against the Linux kernel's own vxlan device: a network namespace stands for another host, reached over a
 * veth pair, with a kernel vxlan interface (VNI 42, port 4789) and an address behind it; a QEMU guest on a vnicd VF
 * in the same segment pings that host and streams TCP to it and back, intact both ways (md5 at both ends).
 */
@Tag("slow")
class VxlanTest {
    private static final Pattern PING = Pattern.compile("result ping target=192.168.42.2 sent=(\\d+) received=(\\d+)");
    private static final Pattern SENT = Pattern.compile("result tcp-send bytes=(\\d+) md5=([0-9a-f]+) rc=(\\d+)");
    private static final Pattern RECEIVED = Pattern.compile("result tcp-recv bytes=(\\d+) md5=([0-9a-f]+)");
    private static final Pattern HOST_GOT = Pattern.compile("received (\\d+) (\\d+) md5 ([0-9a-f]+)");
    private static final Pattern HOST_SENT = Pattern.compile("sent (\\d+) md5 ([0-9a-f]+)");
    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final long BYTES = 4L << 20;

    @TempDir
    Path dir;

    @Test
    @Timeout(300)
    void shouldCarryPingsAndTcpBothWaysToAKernelVxlanHost() throws Exception {
        Peers.executable("ethtool", "apt-get install ethtool");
        try (TestNetwork net = TestNetwork.create("vxlan")) {
            String remote = net.netns("host");
            TestNetwork.VethPair link = net.veth("vxa", "vxb", remote, "10.80.0.2/24");
            net.address(null, link.a(), "10.80.0.1/24");
            net.quiet(null, link.a());
            net.quiet(remote, link.b());
            net.exec(remote, "ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "remote", "10.80.0.1",
                    "local", "10.80.0.2", "dstport", "4789", "dev", link.b()).orThrow();
            net.exec(remote, "ip", "addr", "add", "192.168.42.2/24", "dev", "vx0").orThrow();
            net.exec(remote, "ip", "link", "set", "vx0", "up").orThrow();
            // The far host's stack would leave its inner checksums to the veth's "hardware", and a UDP socket is told
            // nothing of that (unlike AF_PACKET): checksums in software, as a host whose NIC sends them finished would.
            net.exec(remote, "ethtool", "-K", "vx0", "tx", "off").orThrow();

            VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                    new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, null)))
                    .withVxlan(new VnicdConfig.VxlanConfig(null, null, null,
                            List.of(new VnicdConfig.SegmentConfig(42, 0, List.of("10.80.0.2"), null))))));
            try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
                VxlanPort vx = vnicd.physicalFunction("pf0").vxlan();
                List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", remote,
                        ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path")));
                List<String> recvCmd = new ArrayList<>(cmd);
                recvCmd.addAll(List.of(StreamReceiver.class.getName(), "5001", "1"));
                Process receiver = new ProcessBuilder(recvCmd).redirectErrorStream(true).start();
                BufferedReader host = new BufferedReader(new InputStreamReader(receiver.getInputStream(), StandardCharsets.UTF_8));
                assertTrue(host.readLine().startsWith("listening"));
                try (QemuGuest guest = QemuLauncher.builder(FailoverDrill.image(), dir, "vx")
                        .nic(QemuNic.vhostUser("vf0", "52:54:00:80:00:01", dir.resolve("vf0.sock")))
                        .kernelArgs("vnicd.mtu=eth0:1450", "vnicd.ip=eth0:192.168.42.1/24", "vnicd.run=ping:192.168.42.2:5",
                                "vnicd.run=tcp-send:192.168.42.2:5001:" + BYTES, "vnicd.run=tcp-recv:5002", "vnicd.stay=1")
                        .build().start()) {
                    Matcher ping = guest.awaitConsole(PING, BOOT);
                    assertEquals("5", ping.group(2), "the guest pings the host behind the kernel's vxlan: " + ping.group());
                    Matcher sent = guest.awaitConsole(SENT, BOOT);
                    Matcher got = HOST_GOT.matcher(host.readLine());
                    assertTrue(got.matches());
                    assertEquals(sent.group(1), got.group(2), "guest to host: every byte");
                    assertEquals(sent.group(2), got.group(3), "guest to host: intact");

                    guest.awaitMarker("listening tcp 5002", BOOT);
                    List<String> sendCmd = new ArrayList<>(cmd);
                    sendCmd.addAll(List.of(StreamSender.class.getName(), "192.168.42.1", "5002", Long.toString(BYTES), "2"));
                    Process sender = new ProcessBuilder(sendCmd).redirectErrorStream(true).start();
                    String out = new String(sender.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    assertTrue(sender.waitFor(120, TimeUnit.SECONDS));
                    Matcher hs = HOST_SENT.matcher(out);
                    assertTrue(hs.find(), out);
                    Matcher back = guest.awaitConsole(RECEIVED, BOOT);
                    assertEquals(hs.group(1), back.group(1), "host to guest: every byte");
                    assertEquals(hs.group(2), back.group(2), "host to guest: intact");
                    assertTrue(vx.tunnelCounters().get(TunnelCounter.ENCAPSULATED) > 1000);
                    assertTrue(vx.tunnelCounters().get(TunnelCounter.DECAPSULATED) > 1000);
                    assertEquals(0, vx.tunnelCounters().get(TunnelCounter.UNKNOWN_SOURCE));
                    assertTrue(vx.entries().stream().anyMatch(e -> e.vni() == 42 && !e.isStatic()),
                            "the far host's MAC was learned behind its VTEP");
                } finally {
                    receiver.destroy();
                }
            }
        }
    }
}
