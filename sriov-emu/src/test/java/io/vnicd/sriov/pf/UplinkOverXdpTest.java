package io.vnicd.sriov.pf;

import io.vnicd.sriov.uplink.Transport;

/** {@link UplinkTest} with the uplink's NICs over AF_XDP (veth: the program in the driver, frames copied). */
class UplinkOverXdpTest extends UplinkTest {
    @Override
    Transport transport() {
        return Transport.AF_XDP;
    }
}
