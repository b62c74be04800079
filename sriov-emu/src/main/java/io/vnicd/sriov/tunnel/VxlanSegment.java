package io.vnicd.sriov.tunnel;

import java.util.List;

/**
 * One VXLAN segment a PF joins: its VNI, the PF VLAN whose frames it carries, the VTEPs that receive its flooded
 * frames (broadcast, multicast, unknown destinations) and static forwarding entries, as {@code bridge fdb append}.
 *
 * @param remotes IPv4 VTEPs, each with its UDP port
 * @param fdb     static entries: a MAC behind one VTEP
 */
public record VxlanSegment(int vni, int vlan, List<Vtep> remotes, List<FdbEntry> fdb) {
    /** A remote VTEP: IPv4 address and UDP port. */
    public record Vtep(int ip, int port) {
        @Override
        public String toString() {
            return io.vnicd.nativeio.UdpSocket.ipString(ip) + ":" + port;
        }
    }

    /** A static entry: mac is behind vtep. */
    public record FdbEntry(long mac, Vtep vtep) {
    }

    public VxlanSegment {
        if (vni < 0 || vni > 0xff_ffff) {
            throw new IllegalArgumentException("VNI " + vni + " is not in 0..16777215");
        }
        if (vlan < 0 || vlan > 4094) {
            throw new IllegalArgumentException("VLAN " + vlan + " is not in 0..4094");
        }
        remotes = List.copyOf(remotes);
        fdb = List.copyOf(fdb);
    }
}
