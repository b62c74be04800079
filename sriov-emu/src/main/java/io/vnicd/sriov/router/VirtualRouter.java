package io.vnicd.sriov.router;

import io.vnicd.devmodel.proxy.ChannelLayout;
import io.vnicd.devmodel.proxy.FrameChannel;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.nativeio.NativeException;
import io.vnicd.virtio.datapath.DataPathAgent;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The virtual router of US7941539: when a VM moves to a PF (a chassis) that does not serve its subnet, vnicd routes
 * for it there, so that it keeps its address and both kinds of peer still reach it: those on its own subnet, left
 * behind on the PF it came from, and those on the subnet of the PF it moved to.
 * <p>
 * Each PF that serves a subnet (its {@code subnet} and {@code gateway} in the configuration) has one VNIC of the
 * router in its switch ({@link RouterPort}), idle while no VM is away from home. A host is seen away when a frame
 * from it (its ARP: the gratuitous ARP a migrated guest sends, or any request) enters a PF whose subnet does not
 * hold its address but another PF's does. From then on the router is active:
 * <ul>
 * <li>on the PF the VM moved to, the router's VNIC holds the gateway address of the VM's subnet beside that PF's
 * own gateway, and answers ARP for the rest of the VM's subnet (proxy ARP), so the VM's frames to its old
 * neighbours and to its gateway reach the router;</li>
 * <li>on the VM's home PF, the router's VNIC answers ARP for the VM's address and announces it (gratuitous ARP), so
 * the neighbours it left send to the router;</li>
 * <li>IPv4 between the subnets is forwarded, TTL decremented (ICMP time exceeded at 1), ICMP destination
 * unreachable where no subnet holds the destination, echo requests to the router's addresses answered.</li>
 * </ul>
 * Packets between VNICs on different PFs cross between the PFs' data-path threads through an in-process
 * {@link FrameChannel}. A host seen at home again, or removed on command, is no longer routed for; with no host
 * away the router is idle again (its VNICs stay in the switches, holding no address). Thread-safe: the host table
 * is an immutable snapshot replaced under the lock, each VNIC reading its own view.
 */
public final class VirtualRouter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtualRouter.class.getName());
    static final int SLOTS = 256;
    static final int SLOT_SIZE = 2048;

    /**
     * A host routed for away from home.
     *
     * @param ip   its address
     * @param mac  its MAC (0 when declared on command before it was seen)
     * @param at   the PF it is on now
     * @param home the PF whose subnet holds its address
     */
    public record Host(int ip, long mac, String at, String home) {
        @Override
        public String toString() {
            return Ipv4Subnet.format(ip) + (mac == 0 ? "" : " (" + MacAddress.format(mac) + ")") + " of " + home + " on " + at;
        }
    }

    /** What one VNIC needs to know, rebuilt at each change (arrays: the data path reads them without allocating). */
    record View(boolean active, int[] addresses, int[] visitors, long[] visitorMacs, Ipv4Subnet[] visitorSubnets,
                int[] visitorGateways, int[] awayHosts) {
        static final View IDLE = new View(false, new int[0], new int[0], new long[0], new Ipv4Subnet[0], new int[0], new int[0]);
    }

    private final List<RouterPort> ports = new ArrayList<>();
    private final List<Arena> arenas = new ArrayList<>();
    private volatile RouterPort[] portArray = new RouterPort[0];
    private volatile Host[] hosts = new Host[0];

    /** A VNIC of the router on a PF serving subnet with gateway; before the PFs start. */
    public synchronized RouterPort join(String pf, Ipv4Subnet subnet, int gateway, DataPathAgent agent) {
        for (RouterPort p : ports) {
            if (p.pf().equals(pf)) {
                throw new IllegalArgumentException(pf + " has a router VNIC already");
            }
            if (p.subnet().contains(subnet.network()) || subnet.contains(p.subnet().network())) {
                throw new IllegalArgumentException(pf + "'s subnet " + subnet + " overlaps " + p.pf() + "'s " + p.subnet());
            }
        }
        if (!subnet.contains(gateway) || subnet.isNetworkOrBroadcast(gateway)) {
            throw new IllegalArgumentException(pf + ": gateway " + Ipv4Subnet.format(gateway) + " is not a host of " + subnet);
        }
        RouterPort p = new RouterPort(this, ports.size(), pf, subnet, gateway, agent);
        ports.add(p);
        portArray = ports.toArray(new RouterPort[0]);
        return p;
    }

    /**
     * Joins every pair of VNICs with a channel (after every PF joined, before they start).
     *
     * @throws NativeException when an eventfd cannot be made
     */
    public synchronized void connect() throws NativeException {
        int n = ports.size();
        for (RouterPort p : ports) {
            p.prepare(n);
        }
        for (int a = 0; a < n; a++) {
            for (int b = a + 1; b < n; b++) {
                Arena arena = Arena.ofShared();
                arenas.add(arena);
                MemorySegment region = arena.allocate(ChannelLayout.byteSize(SLOTS, SLOT_SIZE), 4096);
                FrameChannel ab = FrameChannel.create(region, SLOTS, SLOT_SIZE);
                FrameChannel ba = FrameChannel.join(region);
                ports.get(a).link(b, ab, ports.get(b));
                ports.get(b).link(a, ba, ports.get(a));
            }
        }
    }

    public List<RouterPort> ports() {
        return List.of(portArray);
    }

    public List<Host> hosts() {
        return List.of(hosts);
    }

    /** True while some host is away from home: the VNICs route. */
    public boolean isActive() {
        return hosts.length > 0;
    }

    /** The VNIC on the PF whose subnet holds ip, or null. Any thread. */
    RouterPort homeOf(int ip) {
        for (RouterPort p : portArray) {
            if (p.subnet().contains(ip)) {
                return p;
            }
        }
        return null;
    }

    RouterPort portOf(String pf) {
        for (RouterPort p : portArray) {
            if (p.pf().equals(pf)) {
                return p;
            }
        }
        return null;
    }

    /** The VNIC behind which ip lies: the PF a host away is on, else the PF whose subnet holds it; or null. */
    RouterPort egressFor(int ip) {
        for (Host h : hosts) {
            if (h.ip == ip) {
                return portOf(h.at);
            }
        }
        return homeOf(ip);
    }

    /**
     * A frame from ip (with mac) entered at's PF. Data-path threads: cheap unless the host's whereabouts change.
     */
    void seen(RouterPort at, int ip, long mac) {
        RouterPort home = homeOf(ip);
        if (home == null || ip == 0) {
            return;
        }
        Host known = null;
        for (Host h : hosts) {
            if (h.ip == ip) {
                known = h;
                break;
            }
        }
        if (home == at) {
            if (known != null && !at.subnet().isNetworkOrBroadcast(ip) && ip != at.gateway()) {
                remove(ip, "seen at home again");
            }
            return;
        }
        if (known != null && known.at.equals(at.pf()) && known.mac == mac) {
            return;
        }
        put(new Host(ip, mac, at.pf(), home.pf()), "seen on " + at.pf());
    }

    /** Declares (on command) that ip, of some PF's subnet, is on PF at: routed for from now on. */
    public synchronized Host declare(int ip, String at) {
        RouterPort port = portOf(at);
        RouterPort home = homeOf(ip);
        if (port == null) {
            throw new IllegalArgumentException("no router VNIC on " + at + " (a PF needs a subnet and a gateway)");
        }
        if (home == null) {
            throw new IllegalArgumentException(Ipv4Subnet.format(ip) + " is in no PF's subnet");
        }
        if (home == port) {
            throw new IllegalArgumentException(Ipv4Subnet.format(ip) + " is at home on " + at + ": nothing to route");
        }
        long mac = 0;
        for (Host h : hosts) {
            if (h.ip == ip && h.at.equals(at)) {
                mac = h.mac;
            }
        }
        Host h = new Host(ip, mac, at, home.pf());
        put(h, "declared on command");
        return h;
    }

    private synchronized void put(Host host, String why) {
        List<Host> next = new ArrayList<>();
        for (Host h : hosts) {
            if (h.ip != host.ip) {
                next.add(h);
            }
        }
        next.add(host);
        boolean wasActive = hosts.length > 0;
        publish(next.toArray(new Host[0]));
        LOG.log(System.Logger.Level.INFO, () -> "router: routing for " + host + " (" + why + ")"
                + (wasActive ? "" : "; the router is active on " + ports.stream().map(RouterPort::pf).toList()));
        RouterPort homePort = portOf(host.home);
        if (homePort != null) {
            homePort.announce();
        }
        RouterPort atPort = portOf(host.at);
        if (atPort != null) {
            atPort.announce();
        }
    }

    /** Stops routing for ip; returns false when it was not routed for. */
    public synchronized boolean remove(int ip, String why) {
        List<Host> next = new ArrayList<>();
        Host gone = null;
        for (Host h : hosts) {
            if (h.ip == ip) {
                gone = h;
            } else {
                next.add(h);
            }
        }
        if (gone == null) {
            return false;
        }
        publish(next.toArray(new Host[0]));
        Host g = gone;
        LOG.log(System.Logger.Level.INFO, () -> "router: no longer routing for " + g + " (" + why + ")"
                + (next.isEmpty() ? "; no host is away: the router is idle" : ""));
        RouterPort home = portOf(g.home);
        if (home != null) {
            home.forget(ip);
        }
        return true;
    }

    /** The VNIC of at learned the MAC of a host declared without one. */
    void learned(RouterPort at, int ip, long mac) {
        for (Host h : hosts) {
            if (h.ip == ip && h.at.equals(at.pf()) && h.mac != mac) {
                put(new Host(ip, mac, h.at, h.home), "its MAC learned");
                return;
            }
        }
    }

    private void publish(Host[] next) {
        hosts = next;
        for (RouterPort p : portArray) {
            p.setView(viewOf(p, next));
        }
    }

    private View viewOf(RouterPort p, Host[] hs) {
        if (hs.length == 0) {
            return View.IDLE;
        }
        List<Integer> addresses = new ArrayList<>(List.of(p.gateway()));
        List<Host> visitors = new ArrayList<>();
        List<Integer> away = new ArrayList<>();
        List<RouterPort> visitorHomes = new ArrayList<>();
        for (Host h : hs) {
            if (h.at.equals(p.pf())) {
                visitors.add(h);
                RouterPort home = portOf(h.home);
                if (home != null && !visitorHomes.contains(home)) {
                    visitorHomes.add(home);
                    addresses.add(home.gateway());
                }
            }
            if (h.home.equals(p.pf())) {
                away.add(h.ip);
            }
        }
        return new View(true, addresses.stream().mapToInt(Integer::intValue).toArray(),
                visitors.stream().mapToInt(Host::ip).toArray(), visitors.stream().mapToLong(Host::mac).toArray(),
                visitorHomes.stream().map(RouterPort::subnet).toArray(Ipv4Subnet[]::new),
                visitorHomes.stream().mapToInt(RouterPort::gateway).toArray(),
                away.stream().mapToInt(Integer::intValue).toArray());
    }

    @Override
    public synchronized void close() {
        for (RouterPort p : ports) {
            p.close();
        }
        // the data paths stopped before: nothing reads the channels any more
        arenas.forEach(Arena::close);
        arenas.clear();
    }

    @Override
    public String toString() {
        return "router over " + Arrays.toString(portArray) + ", hosts " + Arrays.toString(hosts);
    }
}
