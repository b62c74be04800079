package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.devmodel.vswitch.MacAddress;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The daemon's configuration, as read from JSON ({@code --config FILE}) or built from the command line.
 * <pre>
 * {
 *   "controlSocket": "/tmp/vnicd/control.sock",
 *   "physicalFunctions": [
 *     { "name": "pf0",
 *       "virtualFunctions": [
 *         { "name": "vf0", "socket": "/tmp/vnicd/vf0.sock", "mode": "server", "queuePairs": 1,
 *           "mac": "52:54:00:00:00:01" } ] } ]
 * }
 * </pre>
 * {@link #validate()} refuses a configuration that cannot run, naming the field and the problem.
 *
 * @param socketGroup  the group given the server-mode VF sockets (name or gid), e.g. QEMU's; their directory
 *                     then lets that group search it (0750), never write
 * @param socketMode   the server-mode VF sockets' mode, octal with no bits for others (default 0600, 0660 with
 *                     a group)
 * @param controlGroup members of this group may use the control socket too (besides root and vnicd's user)
 */
public record VnicdConfig(
        @JsonProperty("controlSocket") String controlSocket,
        @JsonProperty("reconnectMillis") Integer reconnectMillis,
        @JsonProperty("physicalFunctions") List<PfConfig> physicalFunctions,
        @JsonProperty("socketGroup") String socketGroup,
        @JsonProperty("socketMode") String socketMode,
        @JsonProperty("controlGroup") String controlGroup,
        @JsonProperty("http") String http) {

    public VnicdConfig(String controlSocket, Integer reconnectMillis, List<PfConfig> physicalFunctions) {
        this(controlSocket, reconnectMillis, physicalFunctions, null, null, null, null);
    }

    public VnicdConfig(String controlSocket, Integer reconnectMillis, List<PfConfig> physicalFunctions, String socketGroup,
                       String socketMode, String controlGroup) {
        this(controlSocket, reconnectMillis, physicalFunctions, socketGroup, socketMode, controlGroup, null);
    }

    /** The same configuration with these PFs. */
    public VnicdConfig withPhysicalFunctions(List<PfConfig> pfs) {
        return new VnicdConfig(controlSocket, reconnectMillis, pfs, socketGroup, socketMode, controlGroup, http);
    }

    /** The same configuration with the VFs of the PF named pf replaced by what change makes of them. */
    public VnicdConfig withVirtualFunctionsOf(String pf, java.util.function.UnaryOperator<List<VfConfig>> change) {
        return withPhysicalFunctions(physicalFunctions.stream()
                .map(pc -> pc.name().equals(pf) ? pc.withVirtualFunctions(change.apply(pc.virtualFunctions())) : pc)
                .toList());
    }

    /** The same configuration with metrics served on HOST:PORT (null: none). */
    public VnicdConfig withHttp(String hostPort) {
        return new VnicdConfig(controlSocket, reconnectMillis, physicalFunctions, socketGroup, socketMode, controlGroup, hostPort);
    }

    /**
     * The http listener's host and port ("127.0.0.1:9477", "[::1]:9477"; port 0: any free one).
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static Object[] hostPort(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("'" + text + "' is not HOST:PORT");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' has no port number");
        }
        if (port < 0 || port > 65535 || host.isEmpty()) {
            throw new IllegalArgumentException("'" + text + "': port " + port + " is not in 0..65535");
        }
        return new Object[] {host, port};
    }

    public static final String DEFAULT_DIR = "/tmp/vnicd";
    public static final int MAX_QUEUE_PAIRS = 8;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,31}");
    private static final Pattern MAC = Pattern.compile("([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}");
    private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}");
    private static final Pattern MODE = Pattern.compile("0?[0-7][0-7]0");
    /** What Linux accepts as an interface name (dev_valid_name): 1-15 bytes, no '/', ':' or white space. */
    private static final Pattern IFNAME = Pattern.compile("[^/:\\s]{1,15}");
    /** The name of a PF's switch port to the wire. */
    public static final String UPLINK_PORT = "uplink";

    /**
     * One emulated physical function and its virtual functions, joined by its embedded switch.
     *
     * @param tables flow tables besides "root" (each with an optional miss action)
     * @param rules  flow rules applied to every frame a VF transmits, before the switch
     * @param dos    DoS containment: the standby budget and the attacks contained from the start
     * @param numa   where the PF's buffers come from (topology, NIC node, allocation policy)
     * @param uplinks the backing interfaces (any Linux netdev) in order of preference; none: the PF switches only
     *                among its VFs
     * @param aggregation how several healthy uplinks share the traffic, and whether the preferred one is taken back
     * @param quotaWaitMicros how long a sender waits for a destination whose RX quota is full (default 5000)
     * @param peers  unix sockets that join this PF to other vnicd daemons on the host (proxy VNICs over shared
     *               memory): the first daemon to name a socket listens there, the others connect
     * @param vxlan  VXLAN segments to other hosts
     * @param subnet the IPv4 subnet the PF serves and its gateway address: the PF gets a VNIC of the virtual router,
     *               which routes for hosts of other PFs' subnets that move here and for this subnet's hosts that move away
     * @param uplinkTransport the socket each uplink is opened with: af_packet (default), af_xdp, or auto (AF_XDP where
     *                        it opens and suits the interface, else AF_PACKET)
     */
    public record PfConfig(@JsonProperty("name") String name,
                           @JsonProperty("virtualFunctions") List<VfConfig> virtualFunctions,
                           @JsonProperty("tables") List<TableSpec> tables,
                           @JsonProperty("rules") List<RuleSpec> rules,
                           @JsonProperty("dos") DosConfig dos,
                           @JsonProperty("numa") NumaConfig numa,
                           @JsonProperty("uplinks") List<String> uplinks,
                           @JsonProperty("aggregation") AggregationConfig aggregation,
                           @JsonProperty("quotaWaitMicros") Long quotaWaitMicros,
                           @JsonProperty("peers") List<String> peers,
                           @JsonProperty("vxlan") VxlanConfig vxlan,
                           @JsonProperty("uplinkTransport") String uplinkTransport,
                           @JsonProperty("subnet") SubnetConfig subnet) {
        public PfConfig(String name, List<VfConfig> virtualFunctions) {
            this(name, virtualFunctions, null, null, null, null, null, null, null, null, null, null, null);
        }

        public PfConfig(String name, List<VfConfig> virtualFunctions, List<String> uplinks, AggregationConfig aggregation) {
            this(name, virtualFunctions, uplinks, aggregation, null);
        }

        public PfConfig(String name, List<VfConfig> virtualFunctions, List<String> uplinks, AggregationConfig aggregation,
                        String uplinkTransport) {
            this(name, virtualFunctions, null, null, null, null, uplinks, aggregation, null, null, null, uplinkTransport, null);
        }

        /** The same PF with these VFs. */
        public PfConfig withVirtualFunctions(List<VfConfig> vfs) {
            return new PfConfig(name, vfs, tables, rules, dos, numa, uplinks, aggregation, quotaWaitMicros,
                    peers, vxlan, uplinkTransport, subnet);
        }

        /** The same PF with these peer sockets. */
        public PfConfig withPeers(List<String> sockets) {
            return new PfConfig(name, virtualFunctions, tables, rules, dos, numa, uplinks, aggregation, quotaWaitMicros,
                    sockets, vxlan, uplinkTransport, subnet);
        }

        /** The same PF with this VXLAN configuration. */
        public PfConfig withVxlan(VxlanConfig v) {
            return new PfConfig(name, virtualFunctions, tables, rules, dos, numa, uplinks, aggregation, quotaWaitMicros,
                    peers, v, uplinkTransport, subnet);
        }

        /** The same PF serving this subnet (a VNIC of the virtual router). */
        public PfConfig withSubnet(SubnetConfig s) {
            return new PfConfig(name, virtualFunctions, tables, rules, dos, numa, uplinks, aggregation, quotaWaitMicros,
                    peers, vxlan, uplinkTransport, s);
        }

        public List<String> peersOrEmpty() {
            return peers == null ? List.of() : peers;
        }

        public String uplinkTransportOrDefault() {
            return uplinkTransport == null ? "af_packet" : uplinkTransport;
        }

        public List<String> uplinksOrEmpty() {
            return uplinks == null ? List.of() : uplinks;
        }

        public long quotaWaitMicrosOrDefault() {
            return quotaWaitMicros == null ? 5000 : quotaWaitMicros;
        }

        public List<TableSpec> tablesOrEmpty() {
            return tables == null ? List.of() : tables;
        }

        public List<RuleSpec> rulesOrEmpty() {
            return rules == null ? List.of() : rules;
        }
    }

    /**
     * The IPv4 subnet a PF serves, for the virtual router (US7941539).
     *
     * @param cidr    the subnet, "10.1.0.0/24"
     * @param gateway the router's address in it, "10.1.0.254" (the hosts' default gateway)
     */
    public record SubnetConfig(@JsonProperty("cidr") String cidr, @JsonProperty("gateway") String gateway) {
    }

    /**
     * VXLAN (RFC 7348) for a PF: the UDP port and address it listens on, the path MTU, and its segments.
     *
     * @param port  UDP port (default 4789, IANA's; the Linux driver defaults to 8472 without {@code dstport})
     * @param local IPv4 address to listen on (default any: datagrams leave from the address the host routes from)
     * @param mtu   the path MTU toward the VTEPs (default 1500; guests then need an MTU of 1450)
     */
    public record VxlanConfig(@JsonProperty("port") Integer port, @JsonProperty("local") String local,
                              @JsonProperty("mtu") Integer mtu, @JsonProperty("segments") List<SegmentConfig> segments) {
        public int portOrDefault() {
            return port == null ? 4789 : port;
        }

        public int mtuOrDefault() {
            return mtu == null ? 1500 : mtu;
        }

        public List<SegmentConfig> segmentsOrEmpty() {
            return segments == null ? List.of() : segments;
        }
    }

    /**
     * @param vni     the segment's VNI, 0..16777215
     * @param vlan    the PF VLAN whose frames it carries (default 0, untagged)
     * @param remotes the VTEPs that get its flooded frames: "IP" or "IP:PORT"
     * @param fdb     static entries: a MAC behind a remote VTEP
     */
    public record SegmentConfig(@JsonProperty("vni") Integer vni, @JsonProperty("vlan") Integer vlan,
                                @JsonProperty("remotes") List<String> remotes, @JsonProperty("fdb") List<FdbConfig> fdb) {
        public int vlanOrDefault() {
            return vlan == null ? 0 : vlan;
        }
    }

    /** A static VXLAN forwarding entry: mac is behind the VTEP remote ("IP" or "IP:PORT"). */
    public record FdbConfig(@JsonProperty("mac") String mac, @JsonProperty("remote") String remote) {
    }

    /** "IP" or "IP:PORT" as an address and port (defaultPort when absent); IllegalArgumentException otherwise. */
    public static int[] endpoint(String text, int defaultPort) {
        if (text == null) {
            throw new IllegalArgumentException("missing address");
        }
        int colon = text.lastIndexOf(':');
        String ip = colon < 0 ? text : text.substring(0, colon);
        int port = defaultPort;
        if (colon >= 0) {
            try {
                port = Integer.parseInt(text.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + text + "': the port is not a number", e);
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("'" + text + "': port " + port + " is not in 1..65535");
            }
        }
        return new int[] {io.vnicd.nativeio.UdpSocket.parseIp(ip), port};
    }

    /**
     * @param policy   active-backup (default), vf, l2 or l34
     * @param failback take the preferred uplink back as soon as it returns (default false, as bonding's
     *                 primary_reselect=failure would)
     * @param downDelayMillis how long no uplink must be healthy before the VFs' links go down (default 100,
     *                 bonding's downdelay): a flap storm or NICs failing over each other cost the guests nothing
     */
    public record AggregationConfig(@JsonProperty("policy") String policy, @JsonProperty("failback") Boolean failback,
                                    @JsonProperty("downDelayMillis") Integer downDelayMillis) {
        public AggregationConfig(String policy, Boolean failback) {
            this(policy, failback, null);
        }

        public int downDelayOrDefault() {
            return downDelayMillis == null ? 100 : downDelayMillis;
        }

        public String policyOrDefault() {
            return policy == null ? "active-backup" : policy;
        }

        public boolean failbackOrDefault() {
            return failback != null && failback;
        }
    }

    /**
     * @param topology    "node:cpus;node:cpus", e.g. "0:0-3;1:4-7"; absent: this machine's, from /sys
     * @param nicNode     the node the PF's NIC sits on (default 0)
     * @param allocPolicy LOCAL_TO_SENDER, LOCAL_TO_NIC (default) or INTERLEAVE
     */
    public record NumaConfig(@JsonProperty("topology") String topology,
                             @JsonProperty("nicNode") Integer nicNode,
                             @JsonProperty("allocPolicy") String allocPolicy) {
    }

    /**
     * @param standbyFramesPerSecond what the standby ring admits of contained traffic (default 1000)
     * @param attacks                attacks contained from the start
     */
    public record DosConfig(@JsonProperty("standbyFramesPerSecond") Long standbyFramesPerSecond,
                            @JsonProperty("attacks") List<AttackDescriptor> attacks) {
        public long standbyOrDefault() {
            return standbyFramesPerSecond == null ? 1000 : standbyFramesPerSecond;
        }

        public List<AttackDescriptor> attacksOrEmpty() {
            return attacks == null ? List.of() : attacks;
        }
    }

    /**
     * One virtual function: a virtio-net device on a vhost-user socket.
     *
     * @param mode       "server" (vnicd listens; default) or "client" (vnicd connects and reconnects)
     * @param queuePairs queue pairs offered (multiqueue), 1 to {@link #MAX_QUEUE_PAIRS}; default 1
     * @param mac        the VF's administratively set MAC, pinned in the switch; optional (learned otherwise)
     * @param vlan       the VF's port VLAN, 0..4094; VFs switch only within their VLAN
     * @param rxQuotaBytes the VF's RX backlog quota (default 256 KiB, 0 disables the backlog)
     * @param socketGroup  server mode: the group given the socket (overrides the daemon's {@code socketGroup})
     * @param socketMode   server mode: the socket's mode (overrides the daemon's {@code socketMode})
     */
    public record VfConfig(@JsonProperty("name") String name,
                           @JsonProperty("socket") String socket,
                           @JsonProperty("mode") String mode,
                           @JsonProperty("queuePairs") Integer queuePairs,
                           @JsonProperty("mac") String mac,
                           @JsonProperty("vlan") Integer vlan,
                           @JsonProperty("rxQuotaBytes") Long rxQuotaBytes,
                           @JsonProperty("socketGroup") String socketGroup,
                           @JsonProperty("socketMode") String socketMode) {
        /** The same VF with this MAC (null: learned) and VLAN. */
        public VfConfig withAddress(String newMac, Integer newVlan) {
            return new VfConfig(name, socket, mode, queuePairs, newMac, newVlan, rxQuotaBytes, socketGroup, socketMode);
        }

        public VfConfig(String name, String socket, String mode, Integer queuePairs, String mac) {
            this(name, socket, mode, queuePairs, mac, null, null);
        }

        public VfConfig(String name, String socket, String mode, Integer queuePairs, String mac, Integer vlan,
                        Long rxQuotaBytes) {
            this(name, socket, mode, queuePairs, mac, vlan, rxQuotaBytes, null, null);
        }

        /** What the VF's RX backlog may hold in the PF's pool while its driver has no buffers posted. */
        public long rxQuotaOrDefault() {
            return rxQuotaBytes == null ? 256 * 1024 : rxQuotaBytes;
        }

        /** The VF's port VLAN in the switch (0 = untagged, the default): it reaches only VFs of its VLAN. */
        public int vlanOrDefault() {
            return vlan == null ? 0 : vlan;
        }

        public boolean clientMode() {
            return "client".equals(mode);
        }

        public int queuePairsOrDefault() {
            return queuePairs == null ? 1 : queuePairs;
        }
    }

    /** With no arguments: one PF "pf0" with two VFs listening on /tmp/vnicd/vf0.sock and vf1.sock. */
    public static VnicdConfig defaults() {
        return new VnicdConfig(DEFAULT_DIR + "/control.sock", null, List.of(new PfConfig("pf0", List.of(
                new VfConfig("vf0", DEFAULT_DIR + "/vf0.sock", "server", 1, null),
                new VfConfig("vf1", DEFAULT_DIR + "/vf1.sock", "server", 1, null)))));
    }

    /** The group of a VF's socket: its own, else the daemon's; null for none. */
    public String socketGroupOf(VfConfig vf) {
        return vf.socketGroup() != null ? vf.socketGroup() : socketGroup;
    }

    /**
     * The mode of a VF's socket: its own, else the daemon's, else 0660 when the socket has a group (its members
     * are the ones meant to connect) and 0600 when not.
     */
    public String socketModeOf(VfConfig vf) {
        String mode = vf.socketMode() != null ? vf.socketMode() : socketMode;
        return mode != null ? mode : socketGroupOf(vf) != null ? "0660" : "0600";
    }

    /** The control socket's mode: 0660 with a {@code controlGroup} (whose members may use it), 0600 without. */
    public String controlModeOrDefault() {
        return controlGroup != null ? "0660" : "0600";
    }

    /** The same configuration with another control socket. */
    public VnicdConfig withControlSocket(String path) {
        return new VnicdConfig(path, reconnectMillis, physicalFunctions, socketGroup, socketMode, controlGroup, http);
    }

    public int reconnectMillisOrDefault() {
        return reconnectMillis == null ? 1000 : reconnectMillis;
    }

    /** Every problem found, each naming where it is; empty when the configuration can run. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (reconnectMillis != null && (reconnectMillis < 10 || reconnectMillis > 60_000)) {
            problems.add("reconnectMillis " + reconnectMillis + " is outside 10..60000");
        }
        checkGroup(problems, "socketGroup", socketGroup);
        checkGroup(problems, "controlGroup", controlGroup);
        checkMode(problems, "socketMode", socketMode);
        if (physicalFunctions == null || physicalFunctions.isEmpty()) {
            problems.add("physicalFunctions: at least one physical function is needed");
            return problems;
        }
        if (http != null) {
            try {
                hostPort(http);
            } catch (IllegalArgumentException e) {
                problems.add("http: " + e.getMessage());
            }
        }
        Set<String> names = new HashSet<>();
        Set<String> sockets = new HashSet<>();
        List<io.vnicd.sriov.router.Ipv4Subnet> subnets = new ArrayList<>();
        Set<String> macs = new HashSet<>();
        Set<String> allUplinks = new HashSet<>();
        for (int p = 0; p < physicalFunctions.size(); p++) {
            PfConfig pf = physicalFunctions.get(p);
            String where = "physicalFunctions[" + p + "]";
            if (pf == null) {
                problems.add(where + " is null");
                continue;
            }
            checkName(problems, where, pf.name(), names);
            if (pf.numa() != null) {
                if (pf.numa().allocPolicy() != null && java.util.Arrays.stream(io.vnicd.devmodel.numa.AllocationPolicy.values())
                        .noneMatch(a -> a.name().equals(pf.numa().allocPolicy()))) {
                    problems.add(where + " (" + pf.name() + "): numa.allocPolicy '" + pf.numa().allocPolicy()
                            + "' is not LOCAL_TO_SENDER, LOCAL_TO_NIC or INTERLEAVE");
                }
                if (pf.numa().topology() != null) {
                    try {
                        io.vnicd.devmodel.numa.Topology.parse(pf.numa().topology());
                    } catch (RuntimeException e) {
                        problems.add(where + " (" + pf.name() + "): numa.topology '" + pf.numa().topology() + "': " + e.getMessage());
                    }
                }
                if (pf.numa().nicNode() != null && (pf.numa().nicNode() < 0 || pf.numa().nicNode() > 63)) {
                    problems.add(where + " (" + pf.name() + "): numa.nicNode " + pf.numa().nicNode() + " is outside 0..63");
                }
            }
            Set<String> ifnames = new HashSet<>();
            for (String ifname : pf.uplinksOrEmpty()) {
                if (ifname == null || !IFNAME.matcher(ifname).matches()) {
                    problems.add(where + " (" + pf.name() + "): uplink '" + ifname
                            + "' is not an interface name (1-15 characters, no '/', ':' or spaces)");
                } else if (!ifnames.add(ifname) || !allUplinks.add(ifname)) {
                    problems.add(where + " (" + pf.name() + "): uplink " + ifname + " is given twice");
                }
            }
            if (pf.aggregation() != null) {
                if (pf.uplinksOrEmpty().isEmpty()) {
                    problems.add(where + " (" + pf.name() + "): aggregation is set but the PF has no uplinks");
                }
                if (pf.aggregation().downDelayMillis() != null
                        && (pf.aggregation().downDelayMillis() < 0 || pf.aggregation().downDelayMillis() > 60_000)) {
                    problems.add(where + " (" + pf.name() + "): aggregation.downDelayMillis " + pf.aggregation().downDelayMillis()
                            + " is outside 0..60000");
                }
                try {
                    io.vnicd.sriov.uplink.AggregationPolicy.parse(pf.aggregation().policyOrDefault());
                } catch (IllegalArgumentException e) {
                    problems.add(where + " (" + pf.name() + "): aggregation.policy " + e.getMessage());
                }
            }
            Set<String> peerSockets = new HashSet<>();
            for (String peer : pf.peersOrEmpty()) {
                if (peer == null || peer.isBlank()) {
                    problems.add(where + " (" + pf.name() + "): a peer socket path is empty");
                } else if (peer.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 107) {
                    problems.add(where + " (" + pf.name() + "): peer socket " + peer + " is longer than the 107 bytes a unix socket allows");
                } else if (!peerSockets.add(peer) || sockets.contains(peer)) {
                    problems.add(where + " (" + pf.name() + "): peer socket " + peer + " is used twice");
                }
            }
            if (pf.vxlan() != null) {
                checkVxlan(problems, where + " (" + pf.name() + "): vxlan", pf.vxlan());
            }
            if (pf.uplinkTransport() != null) {
                if (pf.uplinksOrEmpty().isEmpty()) {
                    problems.add(where + " (" + pf.name() + "): uplinkTransport is set but the PF has no uplinks");
                }
                try {
                    io.vnicd.sriov.uplink.Transport.parse(pf.uplinkTransport());
                } catch (IllegalArgumentException e) {
                    problems.add(where + " (" + pf.name() + "): uplinkTransport " + e.getMessage());
                }
            }
            if (pf.subnet() != null) {
                String at = where + " (" + pf.name() + "): subnet";
                try {
                    io.vnicd.sriov.router.Ipv4Subnet net = io.vnicd.sriov.router.Ipv4Subnet.parse(String.valueOf(pf.subnet().cidr()));
                    int gw = io.vnicd.sriov.router.Ipv4Subnet.parseAddress(String.valueOf(pf.subnet().gateway()));
                    if (!net.contains(gw) || net.isNetworkOrBroadcast(gw)) {
                        problems.add(at + ".gateway " + pf.subnet().gateway() + " is not a host of " + net);
                    }
                    for (io.vnicd.sriov.router.Ipv4Subnet other : subnets) {
                        if (other.contains(net.network()) || net.contains(other.network())) {
                            problems.add(at + " " + net + " overlaps " + other + " of another PF");
                        }
                    }
                    subnets.add(net);
                } catch (IllegalArgumentException e) {
                    problems.add(at + ": " + e.getMessage());
                }
            }
            if (pf.quotaWaitMicros() != null && (pf.quotaWaitMicros() < 0 || pf.quotaWaitMicros() > 1_000_000)) {
                problems.add(where + " (" + pf.name() + "): quotaWaitMicros " + pf.quotaWaitMicros() + " is outside 0..1000000");
            }
            if (pf.dos() != null && pf.dos().standbyFramesPerSecond() != null && pf.dos().standbyFramesPerSecond() < 1) {
                problems.add(where + " (" + pf.name() + "): dos.standbyFramesPerSecond must be at least 1");
            }
            if (pf.virtualFunctions() == null || pf.virtualFunctions().isEmpty()) {
                problems.add(where + " (" + pf.name() + "): virtualFunctions: at least one VF is needed");
                continue;
            }
            for (int v = 0; v < pf.virtualFunctions().size(); v++) {
                VfConfig vf = pf.virtualFunctions().get(v);
                String at = where + ".virtualFunctions[" + v + "]";
                if (vf == null) {
                    problems.add(at + " is null");
                    continue;
                }
                checkName(problems, at, vf.name(), names);
                if (UPLINK_PORT.equals(vf.name())) {
                    problems.add(at + ": name '" + UPLINK_PORT + "' is the name of the PF's port to the wire");
                }
                if (vf.socket() == null || vf.socket().isBlank()) {
                    problems.add(at + " (" + vf.name() + "): socket path is missing");
                } else if (vf.socket().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 107) {
                    problems.add(at + " (" + vf.name() + "): socket path is longer than the 107 bytes a unix socket allows");
                } else if (!sockets.add(vf.socket())) {
                    problems.add(at + " (" + vf.name() + "): socket " + vf.socket() + " is used twice");
                }
                checkGroup(problems, at + " (" + vf.name() + "): socketGroup", vf.socketGroup());
                checkMode(problems, at + " (" + vf.name() + "): socketMode", vf.socketMode());
                if (vf.mode() != null && !vf.mode().equals("server") && !vf.mode().equals("client")) {
                    problems.add(at + " (" + vf.name() + "): mode '" + vf.mode() + "' is neither server nor client");
                }
                if (vf.rxQuotaBytes() != null && (vf.rxQuotaBytes() < 0 || vf.rxQuotaBytes() > (64L << 20))) {
                    problems.add(at + " (" + vf.name() + "): rxQuotaBytes " + vf.rxQuotaBytes() + " is outside 0..67108864");
                }
                if (vf.vlan() != null && (vf.vlan() < 0 || vf.vlan() > 4094)) {
                    problems.add(at + " (" + vf.name() + "): vlan " + vf.vlan() + " is outside 0..4094");
                }
                if (vf.queuePairs() != null && (vf.queuePairs() < 1 || vf.queuePairs() > MAX_QUEUE_PAIRS)) {
                    problems.add(at + " (" + vf.name() + "): queuePairs " + vf.queuePairs() + " is outside 1.." + MAX_QUEUE_PAIRS);
                }
                if (vf.mac() != null) {
                    if (!MAC.matcher(vf.mac()).matches()) {
                        problems.add(at + " (" + vf.name() + "): mac '" + vf.mac() + "' is not of the form 52:54:00:12:34:56");
                    } else if (MacAddress.isGroup(MacAddress.parse(vf.mac()))) {
                        problems.add(at + " (" + vf.name() + "): mac " + vf.mac() + " is a multicast address");
                    } else if (!macs.add(vf.mac().toLowerCase(Locale.ROOT))) {
                        problems.add(at + " (" + vf.name() + "): mac " + vf.mac() + " is used twice");
                    }
                }
            }
        }
        return problems;
    }

    private static void checkVxlan(List<String> problems, String where, VxlanConfig v) {
        if (v.port() != null && (v.port() < 1 || v.port() > 65535)) {
            problems.add(where + ".port " + v.port() + " is not in 1..65535");
        }
        if (v.mtu() != null && (v.mtu() < 576 || v.mtu() > 9216)) {
            problems.add(where + ".mtu " + v.mtu() + " is not in 576..9216");
        }
        if (v.local() != null) {
            try {
                io.vnicd.nativeio.UdpSocket.parseIp(v.local());
            } catch (IllegalArgumentException e) {
                problems.add(where + ".local: " + e.getMessage());
            }
        }
        if (v.segmentsOrEmpty().isEmpty()) {
            problems.add(where + ".segments: at least one segment is needed");
        }
        Set<Integer> vnis = new HashSet<>();
        Set<Integer> vlans = new HashSet<>();
        for (int i = 0; i < v.segmentsOrEmpty().size(); i++) {
            SegmentConfig seg = v.segmentsOrEmpty().get(i);
            String at = where + ".segments[" + i + "]";
            if (seg == null) {
                problems.add(at + " is null");
                continue;
            }
            if (seg.vni() == null || seg.vni() < 0 || seg.vni() > 0xff_ffff) {
                problems.add(at + ": vni " + seg.vni() + " is not in 0..16777215");
            } else if (!vnis.add(seg.vni())) {
                problems.add(at + ": vni " + seg.vni() + " is given twice");
            }
            if (seg.vlanOrDefault() < 0 || seg.vlanOrDefault() > 4094) {
                problems.add(at + ": vlan " + seg.vlan() + " is not in 0..4094");
            } else if (!vlans.add(seg.vlanOrDefault())) {
                problems.add(at + ": vlan " + seg.vlanOrDefault() + " is carried by another segment too");
            }
            for (String r : seg.remotes() == null ? List.<String>of() : seg.remotes()) {
                try {
                    endpoint(r, v.portOrDefault());
                } catch (IllegalArgumentException e) {
                    problems.add(at + ": remote " + e.getMessage());
                }
            }
            for (FdbConfig f : seg.fdb() == null ? List.<FdbConfig>of() : seg.fdb()) {
                if (f == null || f.mac() == null || !MAC.matcher(f.mac()).matches() || MacAddress.isGroup(MacAddress.parse(f.mac()))) {
                    problems.add(at + ": fdb mac '" + (f == null ? null : f.mac()) + "' is not a unicast MAC address");
                }
                try {
                    endpoint(f == null ? null : f.remote(), v.portOrDefault());
                } catch (IllegalArgumentException e) {
                    problems.add(at + ": fdb remote " + e.getMessage());
                }
            }
        }
    }

    private static void checkGroup(List<String> problems, String where, String group) {
        if (group != null && !GROUP.matcher(group).matches()) {
            problems.add(where + " '" + group + "' is not a group name or number");
        }
    }

    private static void checkMode(List<String> problems, String where, String mode) {
        if (mode != null && !MODE.matcher(mode).matches()) {
            problems.add(where + " '" + mode + "' must be octal like \"0660\", for the owner and group only "
                    + "(a socket other users can open would hand them a VF)");
        }
    }

    private static void checkName(List<String> problems, String where, String name, Set<String> names) {
        if (name == null || !NAME.matcher(name).matches()) {
            problems.add(where + ": name '" + name + "' must be 1-32 letters, digits, '_', '.' or '-'");
        } else if (!names.add(name)) {
            problems.add(where + ": name '" + name + "' is used twice");
        }
    }

    /** Throws with every problem listed when the configuration cannot run. */
    public VnicdConfig validate() throws ConfigException {
        List<String> problems = problems();
        if (!problems.isEmpty()) {
            throw new ConfigException("invalid configuration:\n  " + String.join("\n  ", problems));
        }
        return this;
    }
}
