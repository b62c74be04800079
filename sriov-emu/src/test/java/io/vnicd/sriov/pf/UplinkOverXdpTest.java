package io.vnicd.sriov.pf;

import io.vnicd.sriov.uplink.AggregationPolicy;
import io.vnicd.sriov.uplink.Transport;
import io.vnicd.sriov.uplink.Uplink;
import io.vnicd.testkit.TestNetwork;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link UplinkTest} with the uplink's NICs over AF_XDP (veth: the program in the driver, frames copied), and the
 * choice the uplink makes with auto, or where AF_XDP cannot serve a NIC.
 */
class UplinkOverXdpTest extends UplinkTest {
    @Override
    Transport transport() {
        return Transport.AF_XDP;
    }

    @Test
    void shouldTakeAfXdpWhereItServesTheNicAndAfPacketWhereNotWithAuto() throws Exception {
        TestNetwork.VethPair plain = pair("xa", "ya");
        TestNetwork.VethPair jumbo = pair("xj", "yj");
        net.ip("link", "set", jumbo.a(), "mtu", "9000");
        start(Transport.AUTO, AggregationPolicy.ACTIVE_BACKUP, 0, plain.a(), jumbo.a());
        List<Uplink.NicStatus> nics = awaitStates(List.of("active", "standby"));
        assertEquals("auto", pf.uplink().transport().word());
        assertEquals(List.of("af_xdp (drv, copy)", "af_packet"), nics.stream().map(Uplink.NicStatus::transport).toList(),
                "a 9000-byte MTU does not fit a UMEM frame");
    }

    @Test
    void shouldFailANicAfXdpCannotServeAndKeepTheOthers() throws Exception {
        TestNetwork.VethPair jumbo = pair("xk", "yk");
        TestNetwork.VethPair plain = pair("xb", "yb");
        net.ip("link", "set", jumbo.a(), "mtu", "9000");
        start(Transport.AF_XDP, AggregationPolicy.ACTIVE_BACKUP, 0, jumbo.a(), plain.a());
        List<Uplink.NicStatus> nics = awaitStates(List.of("failed", "active"));
        assertEquals("af_xdp", nics.getFirst().transport(), "never opened: the uplink's choice");
        assertTrue(pf.uplink().linkUp(), "the other NIC carries the wire");
        // it stays failed, tried again every second, not taken
        Thread.sleep(1500);
        assertEquals("failed", pf.uplink().nics().getFirst().state());
        assertFalse(pf.uplink().failovers().stream().anyMatch(f -> jumbo.a().equals(f.to())));
    }

    private List<Uplink.NicStatus> awaitStates(List<String> want) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!want.equals(states()) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(want, states());
        return pf.uplink().nics();
    }

    private List<String> states() {
        return pf.uplink().nics().stream().map(Uplink.NicStatus::state).toList();
    }
}
