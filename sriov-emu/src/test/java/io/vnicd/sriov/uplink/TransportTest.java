package io.vnicd.sriov.uplink;

import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.NicSocket;
import io.vnicd.nativeio.PacketSocket;
import io.vnicd.nativeio.XdpSocket;
import io.vnicd.testkit.TestNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The choice of a backing NIC's socket: the configuration's words, and what auto picks on interfaces it suits or not. */
class TransportTest {
    private static final PacketSocket.Options PACKET = PacketSocket.Options.defaults();
    private static final XdpSocket.Options XDP = XdpSocket.Options.defaults();
    private TestNetwork net;

    @BeforeEach
    void setUp() {
        net = TestNetwork.create("transport");
    }

    @AfterEach
    void tearDown() {
        net.close();
    }

    @Test
    void shouldParseTheConfigurationWords() {
        assertEquals(Transport.AF_PACKET, Transport.parse("af_packet"));
        assertEquals(Transport.AF_XDP, Transport.parse(" AF-XDP "));
        assertEquals(Transport.AUTO, Transport.parse("auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Transport.parse("dpdk"));
        assertEquals("'dpdk' is not an uplink transport (af_packet, af_xdp, auto)", e.getMessage());
    }

    @Test
    void shouldTakeAfXdpWhereItSuitsTheInterfaceAndAfPacketElse() throws Exception {
        TestNetwork.VethPair plain = net.veth("tpa", "tpb");
        try (NicSocket s = Transport.AUTO.open(plain.a(), PACKET, XDP, "test")) {
            assertInstanceOf(XdpSocket.class, s);
            assertTrue(s.transport().startsWith("af_xdp"), s.transport());
        }
        try (NicSocket s = Transport.AF_PACKET.open(plain.a(), PACKET, XDP, "test")) {
            assertEquals("af_packet", s.transport());
        }

        TestNetwork.VethPair jumbo = net.veth("tja", "tjb");
        net.ip("link", "set", jumbo.a(), "mtu", "9000");
        try (NicSocket s = Transport.AUTO.open(jumbo.a(), PACKET, XDP, "test")) {
            assertEquals("af_packet", s.transport(), "a 9000-byte frame does not fit a UMEM frame");
        }
        NativeException refused = assertThrows(NativeException.class, () -> Transport.AF_XDP.open(jumbo.a(), PACKET, XDP, "test"));
        assertTrue(refused.getMessage().contains("MTU 9000 exceeds what a UMEM frame of 4096 bytes receives (3822)"),
                refused.getMessage());

        // made again under the fixture's name with two receive queues: the fixture still removes it
        String a = net.veth("tqa", "tqb").a();
        net.delete(a);
        net.ip("link", "add", a, "numrxqueues", "2", "type", "veth", "peer", "name", net.name("tqb"));
        assertEquals(2, XdpSocket.rxQueues(a));
        String why = Transport.unsuitableForXdp(a, XDP);
        assertTrue(why != null && why.contains("has 2 receive queues and AF_XDP serves queue 0 only"), why);
    }
}
