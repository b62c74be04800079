package io.vnicd.testkit;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TestNetworkTest {
    @Test
    void shouldRemoveEverythingItCreated() {
        String ns;
        String a;
        String b;
        String br;
        try (TestNetwork net = TestNetwork.create("tn")) {
            ns = net.netns("peer");
            TestNetwork.VethPair pair = net.veth("tna", "tnb", ns, "10.201.0.2/30");
            a = pair.a();
            b = pair.b();
            br = net.bridge("tnbr", ns);
            net.address(null, a, "10.201.0.1/30");
            assertTrue(Files.exists(Path.of("/sys/class/net", a)));
            assertFalse(net.linkExists(null, b), b + " lives in " + ns + ", not here");
            assertTrue(net.linkExists(ns, b));
            assertTrue(net.exec(ns, "ip", "-o", "addr", "show", "dev", b).orThrow().output().contains("10.201.0.2/30"));
            TestNetwork.VethPair bridged = net.veth("tnc", "tnd", ns, null);
            net.addToBridge(ns, bridged.b(), br);
            assertTrue(net.exec(ns, "ip", "-o", "link", "show", "dev", bridged.b()).output().contains("master " + br));
        }
        assertFalse(Files.exists(Path.of("/sys/class/net", a)));
        assertFalse(Files.exists(Path.of("/run/netns", ns)));
    }

    @Test
    void shouldNotFailForWhatIsAlreadyGone() {
        try (TestNetwork net = TestNetwork.create("tn")) {
            String ns = net.netns("gone");
            TestNetwork.VethPair pair = net.veth("tna", "tnb");
            net.delete(pair.b()); // takes a with it
            net.delete(pair.a());
            assertFalse(net.linkExists(null, pair.a()));
            net.ip("netns", "del", ns);
            net.bridge("tnbr", null);
            net.ip("link", "del", net.name("tnbr"));
        }
    }

    @Test
    void shouldGiveEachFixtureItsOwnNamesWithinFifteenBytes() {
        try (TestNetwork one = TestNetwork.create("tn"); TestNetwork two = TestNetwork.create("tn")) {
            assertNotEquals(one.name("up"), two.name("up"));
            assertTrue(one.name("up").length() <= TestNetwork.IFNAME_MAX);
            assertThrows(IllegalArgumentException.class, () -> one.name("averyverylongname"));
            assertThrows(IllegalArgumentException.class, () -> one.name("with space"));
        }
    }

    @Test
    void shouldReportACommandsStatusAndOutput() {
        try (TestNetwork net = TestNetwork.create("tn")) {
            TestNetwork.Result r = net.exec(null, "sh", "-c", "echo out; echo err >&2; exit 3");
            assertEquals(3, r.exitStatus());
            assertTrue(r.output().contains("out") && r.output().contains("err"));
            assertThrows(IllegalStateException.class, r::orThrow);
        }
    }
}
