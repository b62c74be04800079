package io.vnicd.nativeio;

import io.vnicd.testkit.TestNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LinkStateTest {
    private static final int IFF_UP = 0x1;
    private static final int IFF_RUNNING = 0x40;

    @Test
    void shouldFollowTheCarrierAsThePeerGoesDownAndUp() throws Exception {
        try (TestNetwork net = TestNetwork.create("link"); LinkState links = LinkState.open()) {
            String ns = net.netns("peer");
            TestNetwork.VethPair v = net.veth("lsa", "lsb", ns, null);
            assertEquals(1, links.carrier(v.a()));

            net.setDown(ns, v.b());
            // No wait: the ioctl reads the driver's state, which changed before `ip` returned.
            assertEquals(0, links.carrier(v.a()));
            assertTrue((links.flags(v.a()) & IFF_UP) != 0, "still administratively up");
            // IFF_RUNNING follows the operstate, which linkwatch updates a moment later, from a work queue.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while ((links.flags(v.a()) & IFF_RUNNING) != 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertEquals(0, links.flags(v.a()) & IFF_RUNNING);

            net.setUp(ns, v.b());
            assertEquals(1, links.carrier(v.a()));

            net.setDown(v.a());
            assertEquals(0, links.carrier(v.a()), "an interface that is down has no carrier");
            net.delete(v.a());
            assertEquals(-1, links.carrier(v.a()));
        }
    }

    @Test
    void shouldTellAVethIsStackedAndLoopbackIsNot() {
        try (TestNetwork net = TestNetwork.create("link")) {
            TestNetwork.VethPair v = net.veth("lsa", "lsb");
            assertTrue(LinkState.isStacked(v.a()));
            assertFalse(LinkState.isStacked("lo"));
            assertFalse(LinkState.isStacked(net.name("none")), "no such interface");
        }
    }

    @Test
    void shouldReadMacMtuAndFlags() throws Exception {
        try (TestNetwork net = TestNetwork.create("link"); LinkState links = LinkState.open()) {
            TestNetwork.VethPair v = net.veth("lsa", "lsb");
            net.ip("link", "set", v.a(), "address", "02:12:34:56:78:9a", "mtu", "1400");
            assertEquals(0x02_12_34_56_78_9aL, links.mac(v.a()));
            assertEquals(1400, links.mtu(v.a()));
            assertEquals(IFF_UP | IFF_RUNNING, links.flags(v.a()) & (IFF_UP | IFF_RUNNING));
            assertEquals(65536, links.mtu("lo"));

            NativeException e = assertThrows(NativeException.class, () -> links.mtu(net.name("none")));
            assertEquals(Errno.ENODEV, e.errno());
            assertThrows(NativeException.class, () -> links.mac("no/such"));
            assertEquals(-1, links.carrier("a name far too long for Linux"));
        }
    }
}
