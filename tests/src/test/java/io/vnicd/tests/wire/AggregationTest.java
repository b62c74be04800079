package io.vnicd.tests.wire;

import io.vnicd.sriov.uplink.NicCounter;
import io.vnicd.sriov.uplink.Uplink;
import io.vnicd.tests.drill.FailoverDrill;
import io.vnicd.tests.drill.StreamReceiver;
import io.vnicd.tests.drill.Wire;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Traffic over several direct datapaths (US8315156), with real QEMU guests on a wire of namespaces: many TCP
 * connections from a guest to a host spread over two NICs, each connection kept on one, and all of them survive
 * the loss of either NIC, arriving intact (md5 at both ends). Once the patent's own way (the guest bonds one VF on
 * each of two PFs, each PF on its own NIC, balance-xor with layer3+4), once vnicd's (one VF on a PF aggregating two
 * NICs by a layer3+4 hash).
 */
@Tag("slow")
class AggregationTest {
    private static final String HOST = "10.78.0.1";
    private static final String GUEST = "10.78.0.2";
    private static final int PORT = 6001;
    /** With ten connections hashed over two NICs, all ten land on one in 2 of 1024 cases. */
    private static final int CONNECTIONS = 10;
    private static final long BYTES = 4L << 20;
    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final Pattern SENT = Pattern.compile("result tcp-send-many port=(\\d+) bytes=(\\d+) md5=([0-9a-f]+) rc=(\\d+)");
    private static final Pattern RECEIVED = Pattern.compile("received (\\d+) (\\d+) md5 ([0-9a-f]+)");

    @TempDir
    Path dir;

    private static VnicdConfig.VfConfig vf(Path dir, String name) {
        return new VnicdConfig.VfConfig(name, dir.resolve(name + ".sock").toString(), "server", 1, null);
    }

    @Test
    @Timeout(300)
    void shouldSpreadAGuestBondsConnectionsOverTwoPfsAndKeepThemWhenANicGoes() throws Exception {
        try (Wire wire = new Wire(HOST + "/24")) {
            VnicdConfig config = new VnicdConfig(null, null, List.of(
                    new VnicdConfig.PfConfig("pf0", List.of(vf(dir, "vf0")), List.of(wire.pnic(0)), null),
                    new VnicdConfig.PfConfig("pf1", List.of(vf(dir, "vf1")), List.of(wire.pnic(1)), null)));
            try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
                QemuLauncher.Builder guest = QemuLauncher.builder(FailoverDrill.image(), dir, "xor")
                        .nic(QemuNic.vhostUser("vf0", "52:54:00:78:00:12", dir.resolve("vf0.sock")).withReconnect(1))
                        .nic(QemuNic.vhostUser("vf1", "52:54:00:78:00:13", dir.resolve("vf1.sock")).withReconnect(1))
                        .kernelArgs("vnicd.bond=bond0:eth0,eth1:" + GUEST + "/24::balance-xor");
                run(wire, guest, vnicd.physicalFunction("pf0").uplink(), vnicd.physicalFunction("pf1").uplink());
            }
        }
    }

    @Test
    @Timeout(300)
    void shouldSpreadConnectionsOverBothNicsOfAPfAndKeepThemWhenANicGoes() throws Exception {
        try (Wire wire = new Wire(HOST + "/24")) {
            VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(vf(dir, "vf0")),
                    List.of(wire.pnic(0), wire.pnic(1)), new VnicdConfig.AggregationConfig("l34", false))));
            try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
                QemuLauncher.Builder guest = QemuLauncher.builder(FailoverDrill.image(), dir, "l34")
                        .nic(QemuNic.vhostUser("vf0", "52:54:00:78:00:02", dir.resolve("vf0.sock")).withReconnect(1))
                        .kernelArgs("vnicd.ip=eth0:" + GUEST + "/24");
                Uplink up = vnicd.physicalFunction("pf0").uplink();
                run(wire, guest, up, up);
                assertEquals(0, up.nics().get(1).counters().get(NicCounter.RX_LOOPED), "no frame came back in a loop");
            }
        }
    }

    /**
     * The guest sends CONNECTIONS streams to the host; once both NICs carry a share, the first one is deleted; every
     * stream must arrive whole. a and b are the uplinks of NIC 0 and NIC 1 (the same uplink when one PF has both).
     */
    private void run(Wire wire, QemuLauncher.Builder guestBuilder, Uplink a, Uplink b) throws Exception {
        Process receiver = wire.startJava(StreamReceiver.class, Integer.toString(PORT), Integer.toString(CONNECTIONS));
        BufferedReader out = new BufferedReader(new InputStreamReader(receiver.getInputStream(), StandardCharsets.UTF_8));
        assertTrue(out.readLine().startsWith("listening"), "the host listens");
        try (QemuGuest guest = guestBuilder.kernelArgs("vnicd.run=tcp-send-many:" + HOST + ":" + PORT + ":" + CONNECTIONS + ":" + BYTES,
                "vnicd.stay=1", "vnicd.timeout=600").build().start()) {
            int nic0 = 0;
            int nic1 = a == b ? 1 : 0;
            long deadline = System.nanoTime() + BOOT.toNanos();
            while (System.nanoTime() < deadline && (bytes(a, nic0) < 512 * 1024 || bytes(b, nic1) < 512 * 1024)) {
                Thread.sleep(20);
            }
            long before0 = bytes(a, nic0);
            long before1 = bytes(b, nic1);
            assertTrue(before0 >= 512 * 1024 && before1 >= 512 * 1024,
                    "the connections spread over both NICs: " + before0 + " and " + before1 + " bytes\n" + guest.markers());
            wire.net().delete(wire.pnic(0));
            Map<Integer, String> sent = new HashMap<>();
            for (int i = 1; i <= CONNECTIONS; i++) {
                Matcher m = guest.awaitConsole(SENT, i, BOOT);
                assertEquals("0", m.group(4), "connection to port " + m.group(1) + " completed: " + m.group());
                sent.put(Integer.parseInt(m.group(1)), m.group(3));
            }
            Map<Integer, String> received = new HashMap<>();
            String line;
            while (received.size() < CONNECTIONS && (line = out.readLine()) != null) {
                Matcher m = RECEIVED.matcher(line);
                if (m.matches()) {
                    assertEquals(BYTES, Long.parseLong(m.group(2)), "port " + m.group(1) + " got every byte");
                    received.put(Integer.parseInt(m.group(1)), m.group(3));
                }
            }
            assertEquals(sent, received, "every stream arrived intact across the loss of a NIC");
            System.out.printf("%d connections: %d and %d bytes on the two NICs before the first was deleted%n",
                    CONNECTIONS, before0, before1);
        } finally {
            receiver.destroy();
            receiver.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Bytes NIC nic of up has sent. */
    private static long bytes(Uplink up, int nic) {
        return up.nics().get(nic).counters().get(NicCounter.TX_BYTES);
    }
}
