package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns vnicd's arguments into a configuration:
 * <pre>
 *   vnicd                                  the default configuration (VnicdConfig.defaults())
 *   vnicd --vf NAME=SOCKET [--vf ...]      one PF "pf0" with these VFs, vnicd listening on each socket
 *   vnicd --vf NAME=SOCKET --client        the same, vnicd connecting to frontends that listen
 *   vnicd --config FILE                    everything from a JSON file
 *   vnicd ... --control PATH               where the control socket listens
 *   vnicd ... --socket-group G [--socket-mode 0660] [--control-group G]   who may use the sockets
 *   vnicd ... --uplink IF [--uplink IF2] [--aggregation P] [--failback] [--uplink-transport T]   pf0's backing NICs
 *   vnicd ... --peer SOCKET                 pf0 joins the other daemons on this host that name SOCKET
 *   vnicd ... --vxlan VNI=IP[:PORT]         pf0's untagged VLAN in a VXLAN segment with that remote VTEP
 *   vnicd ... --http HOST:PORT              Prometheus metrics at http://HOST:PORT/metrics
 * </pre>
 */
public final class CommandLine {
    public static final String USAGE = """
            usage: vnicd [--vf NAME=SOCKET]... [--client] [--queues N] [--config FILE] [--control PATH]
                         [--uplink IFNAME]... [--aggregation POLICY] [--failback] [--uplink-transport T]
                         [--peer SOCKET]... [--vxlan VNI=REMOTE_IP[:PORT]]... [--http HOST:PORT]
                         [--socket-group GROUP] [--socket-mode MODE] [--control-group GROUP]
              --vf NAME=SOCKET   a virtual function named NAME on vhost-user socket SOCKET (repeatable)
              --client           vnicd connects to the sockets (the frontend listens) and reconnects
              --queues N         queue pairs per VF given with --vf (default 1, at most 8)
              --config FILE      read the configuration from a JSON file (see README)
              --control PATH     control socket (default /tmp/vnicd/control.sock)
              --uplink IFNAME    a backing NIC of pf0 (any Linux interface: a veth end, a NIC, a bond);
                                 repeatable, in order of preference
              --aggregation P    how pf0 shares several healthy uplinks: active-backup (default), vf (each VF
                                 on one NIC), l2 or l34 (a hash per connection; the far switch must aggregate)
              --failback         take the preferred uplink back as soon as it returns (default: keep the one in use)
              --uplink-transport T   the socket each uplink is opened with: af_packet (default), af_xdp (AF_XDP,
                                 an XDP program redirecting the NIC's queue 0), or auto (AF_XDP where it opens and
                                 suits the interface, else af_packet)
              --peer SOCKET      join pf0 to the other vnicd daemons on this host that name SOCKET (repeatable): their
                                 VFs are reached through proxy ports over shared memory; the first to come listens
              --vxlan VNI=IP[:PORT]
                                 carry pf0's untagged VLAN in VXLAN segment VNI to the VTEP at IP (UDP port 4789 by
                                 default; Linux's vxlan device needs "dstport 4789"); repeat for more VTEPs of the
                                 segment; guests need an MTU of 1450 on a 1500-byte path
              --http HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9477; off
                                 unless asked; also "http" in the configuration file)
              --socket-group G   give the VF sockets to group G (QEMU's), mode 0660; their directory gets 0750
              --socket-mode M    the VF sockets' mode (default 0600, 0660 with --socket-group; no bits for others)
              --control-group G  members of G may use the control socket too (besides root and vnicd's user)
              --help             this text
            With no arguments vnicd runs pf0 with vf0 and vf1 on /tmp/vnicd/vf0.sock and /tmp/vnicd/vf1.sock.
            Sockets live in a directory of vnicd's user that no one else can write (created 0700 if missing).""";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private CommandLine() {
    }

    /** Parses args; returns null when only help was asked for. */
    public static VnicdConfig parse(String... args) throws ConfigException {
        List<VnicdConfig.VfConfig> vfs = new ArrayList<>();
        boolean client = false;
        Integer queues = null;
        String configFile = null;
        String control = null;
        String socketGroup = null;
        String socketMode = null;
        String controlGroup = null;
        List<String> uplinks = new ArrayList<>();
        List<String> peers = new ArrayList<>();
        Integer vni = null;
        List<String> vteps = new ArrayList<>();
        String aggregation = null;
        boolean failback = false;
        String uplinkTransport = null;
        String http = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--help", "-h" -> {
                    return null;
                }
                case "--client" -> client = true;
                case "--vf" -> {
                    String v = value(args, ++i, a);
                    int eq = v.indexOf('=');
                    if (eq <= 0 || eq == v.length() - 1) {
                        throw new ConfigException("--vf expects NAME=SOCKET_PATH, got '" + v + "'");
                    }
                    vfs.add(new VnicdConfig.VfConfig(v.substring(0, eq), v.substring(eq + 1), null, null, null));
                }
                case "--queues" -> {
                    String v = value(args, ++i, a);
                    try {
                        queues = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        throw new ConfigException("--queues expects a number, got '" + v + "'");
                    }
                }
                case "--config" -> configFile = value(args, ++i, a);
                case "--control" -> control = value(args, ++i, a);
                case "--socket-group" -> socketGroup = value(args, ++i, a);
                case "--socket-mode" -> socketMode = value(args, ++i, a);
                case "--control-group" -> controlGroup = value(args, ++i, a);
                case "--uplink" -> uplinks.add(value(args, ++i, a));
                case "--aggregation" -> aggregation = value(args, ++i, a);
                case "--failback" -> failback = true;
                case "--peer" -> peers.add(value(args, ++i, a));
                case "--vxlan" -> {
                    String v = value(args, ++i, a);
                    int eq = v.indexOf('=');
                    int id;
                    try {
                        id = Integer.parseInt(v.substring(0, Math.max(0, eq)));
                    } catch (NumberFormatException e) {
                        throw new ConfigException("--vxlan expects VNI=REMOTE_IP[:PORT], got '" + v + "'");
                    }
                    if (vni != null && vni != id) {
                        throw new ConfigException("--vxlan: the command line puts one segment on pf0 (VNI " + vni
                                + "); more segments, each on a VLAN of its own, go in the configuration file");
                    }
                    vni = id;
                    vteps.add(v.substring(eq + 1));
                }
                case "--uplink-transport" -> uplinkTransport = value(args, ++i, a);
                case "--http" -> http = value(args, ++i, a);
                default -> throw new ConfigException("unknown argument '" + a + "'");
            }
        }
        VnicdConfig config;
        if (configFile != null) {
            if (!vfs.isEmpty() || client || queues != null || !uplinks.isEmpty() || aggregation != null || failback
                    || uplinkTransport != null || !peers.isEmpty() || vni != null) {
                throw new ConfigException("--config cannot be combined with --vf, --client, --queues, --uplink, "
                        + "--aggregation, --failback, --uplink-transport, --peer or --vxlan: put those in the file");
            }
            config = read(Path.of(configFile));
        } else if (vfs.isEmpty()) {
            if (client || queues != null) {
                throw new ConfigException("--client and --queues apply to VFs given with --vf");
            }
            config = VnicdConfig.defaults();
        } else {
            String mode = client ? "client" : "server";
            Integer q = queues;
            config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0",
                    vfs.stream().map(v -> new VnicdConfig.VfConfig(v.name(), v.socket(), mode, q, null)).toList())));
        }
        if (uplinks.isEmpty() && (aggregation != null || failback || uplinkTransport != null)) {
            throw new ConfigException("--aggregation, --failback and --uplink-transport apply to uplinks given with --uplink");
        }
        if (!uplinks.isEmpty() && configFile == null) {
            VnicdConfig.AggregationConfig agg = aggregation == null && !failback ? null
                    : new VnicdConfig.AggregationConfig(aggregation, failback ? Boolean.TRUE : null);
            VnicdConfig.PfConfig pf0 = config.physicalFunctions().getFirst();
            config = new VnicdConfig(config.controlSocket(), config.reconnectMillis(), List.of(
                    new VnicdConfig.PfConfig(pf0.name(), pf0.virtualFunctions(), List.copyOf(uplinks), agg, uplinkTransport)),
                    config.socketGroup(), config.socketMode(), config.controlGroup());
        }
        if (!peers.isEmpty() && configFile == null) {
            VnicdConfig.PfConfig pf0 = config.physicalFunctions().getFirst();
            config = new VnicdConfig(config.controlSocket(), config.reconnectMillis(),
                    List.of(pf0.withPeers(List.copyOf(peers))), config.socketGroup(), config.socketMode(), config.controlGroup());
        }
        if (vni != null && configFile == null) {
            VnicdConfig.PfConfig pf0 = config.physicalFunctions().getFirst();
            config = new VnicdConfig(config.controlSocket(), config.reconnectMillis(), List.of(pf0.withVxlan(
                    new VnicdConfig.VxlanConfig(null, null, null, List.of(new VnicdConfig.SegmentConfig(vni, 0, List.copyOf(vteps), null))))),
                    config.socketGroup(), config.socketMode(), config.controlGroup());
        }
        if (http != null) {
            config = config.withHttp(http);
        }
        if (control != null) {
            config = config.withControlSocket(control);
        } else if (config.controlSocket() == null) {
            config = config.withControlSocket(VnicdConfig.DEFAULT_DIR + "/control.sock");
        }
        if (socketGroup != null || socketMode != null || controlGroup != null) {
            // Given on the command line, they override the file's.
            config = new VnicdConfig(config.controlSocket(), config.reconnectMillis(), config.physicalFunctions(),
                    socketGroup != null ? socketGroup : config.socketGroup(),
                    socketMode != null ? socketMode : config.socketMode(),
                    controlGroup != null ? controlGroup : config.controlGroup());
        }
        return config.validate();
    }

    /** Reads a JSON configuration file; errors name the file, line and field. */
    public static VnicdConfig read(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("cannot read configuration " + file + ": " + e, e);
        }
        return read(text, file.toString());
    }

    /** Reads a JSON configuration from text; errors name source (a file name), line and field. */
    static VnicdConfig read(String text, String file) throws ConfigException {
        try {
            VnicdConfig c = JSON.readValue(text, VnicdConfig.class);
            if (c == null) {
                throw new ConfigException(file + ": the file holds no configuration");
            }
            return c;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
            if (e instanceof com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException u) {
                // Records are read through their constructor, so Jackson reports the end of the object: point at
                // the field itself instead.
                int at = text.indexOf('"' + u.getPropertyName() + '"');
                if (at >= 0) {
                    where = " (line " + (1 + text.substring(0, at).chars().filter(ch -> ch == '\n').count()) + ")";
                }
            }
            throw new ConfigException(file + ": " + e.getOriginalMessage() + where, e);
        }
    }

    private static String value(String[] args, int i, String option) throws ConfigException {
        if (i >= args.length || args[i].startsWith("--")) {
            throw new ConfigException(option + " needs a value");
        }
        return args[i];
    }
}
