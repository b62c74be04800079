package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.vmm.runtime.RuntimeDirectory;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The control socket of a running daemon: one JSON request per line, one JSON answer per line.
 * <pre>
 *   {"command":"status"}    → PFs, VFs, connections, negotiated features, counters
 * </pre>
 * An answer is {@code {"ok":true,...}} or {@code {"ok":false,"error":"..."}}; a bad request never affects the
 * data path.
 * <p>
 * Who may ask: the peer's credentials (SO_PEERCRED) must be root's, the daemon's user's, or those of a member of
 * the configured {@code controlGroup}; anyone else gets one error line and is disconnected. What a client may
 * hold: a request line of at most {@link Limits#maxLineBytes} (rule sets can be large), one of at most
 * {@link Limits#maxClients} connections at once, and a connection that sends nothing for {@link Limits#idle} is
 * dropped. Each refusal is a one-line JSON error before the connection closes.
 */
final class ControlServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ControlServer.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param maxClients   control connections served at once; more are refused
     * @param maxLineBytes the longest request line, newline excluded
     * @param idle         a client that sends nothing for this long is dropped
     */
    record Limits(int maxClients, int maxLineBytes, Duration idle) {
        /** 16 clients, 1 MiB lines (several thousand rules), 60 s of silence. */
        static final Limits DEFAULT = new Limits(16, 1 << 20, Duration.ofSeconds(60));
    }

    private final Path path;
    private final Vnicd vnicd;
    private final Limits limits;
    private final GroupPrincipal group;
    private final Set<PosixFilePermission> mode;
    private final Semaphore slots;
    /** Clients being served, each with the selector its thread waits in. */
    private final Map<SocketChannel, Selector> clients = new ConcurrentHashMap<>();
    private UserPrincipal self;
    private UserPrincipal root;
    private ServerSocketChannel server;
    private volatile boolean bound;
    private volatile boolean closed;

    /**
     * @param group members of this group may use the socket too; null for none
     * @param mode  the socket file's mode, given after bind
     */
    ControlServer(Path path, Vnicd vnicd, Limits limits, GroupPrincipal group, Set<PosixFilePermission> mode) {
        this.path = path;
        this.vnicd = vnicd;
        this.limits = limits;
        this.group = group;
        this.mode = mode;
        this.slots = new Semaphore(limits.maxClients());
    }

    /** Binds; the path must be held (SocketLock) and free, a stale socket already removed. */
    void start() throws IOException {
        self = Files.getOwner(Path.of("/proc/self"));
        root = path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("0");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(path));
            bound = true;
            RuntimeDirectory.grant(path, mode, group);
        } catch (IOException e) {
            close();
            throw e;
        }
        Thread.ofPlatform().name("vnicd-control").daemon().start(this::acceptLoop);
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.ERROR, () -> "control socket " + path + " failed: " + e.getMessage());
                }
                return;
            }
            String refusal = refusal(client);
            if (refusal == null && !slots.tryAcquire()) {
                refusal = "too many control connections (at most " + limits.maxClients() + "): try again later";
            }
            if (refusal != null) {
                String why = refusal;
                LOG.log(System.Logger.Level.WARNING, () -> "control socket: " + why);
                refuse(client, why);
                continue;
            }
            Thread.ofPlatform().name("vnicd-control-client").daemon().start(() -> {
                try {
                    serve(client);
                } finally {
                    clients.remove(client);
                    slots.release();
                }
            });
        }
    }

    /** Why this peer may not use the socket, or null when it may. */
    private String refusal(SocketChannel client) {
        UnixDomainPrincipal peer;
        try {
            peer = client.getOption(ExtendedSocketOptions.SO_PEERCRED);
        } catch (IOException | UnsupportedOperationException e) {
            return "cannot read the peer's credentials: " + e.getMessage();
        }
        if (peer.user().equals(root) || peer.user().equals(self)) {
            return null;
        }
        if (group != null && (peer.group().equals(group) || listedIn(group, peer.user()))) {
            return null;
        }
        List<String> may = new ArrayList<>(List.of("root"));
        if (!self.equals(root)) {
            may.add(self.getName());
        }
        if (group != null) {
            may.add("members of group " + group.getName());
        }
        return "user " + peer.user().getName() + " may not use this control socket: only "
                + String.join(", ", may) + " may";
    }

    /** Whether /etc/group lists user as a member of group (the peer's primary group is checked apart). */
    private static boolean listedIn(GroupPrincipal group, UserPrincipal user) {
        try {
            for (String line : Files.readAllLines(Path.of("/etc/group"))) {
                String[] f = line.split(":", -1);
                if (f.length == 4 && f[0].equals(group.getName())) {
                    return Arrays.asList(f[3].split(",")).contains(user.getName());
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, () -> "cannot read /etc/group: " + e.getMessage());
        }
        return false;
    }

    /** Refused clients whose connection is closed a little later, at most this many at once. */
    private static final int MAX_LINGERING = 64;
    private static final long LINGER_MILLIS = 500;
    private static final java.util.concurrent.atomic.AtomicInteger LINGERING = new java.util.concurrent.atomic.AtomicInteger();
    private static final java.util.concurrent.ScheduledExecutorService CLOSER =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform()
                    .name("vnicd-control-closer").daemon().unstarted(r));

    /**
     * Answers the refusal without waiting (one line fits a new connection's socket buffer) and closes the connection
     * a little later: a client that writes its
     * request just after connecting then still reads why, instead of a broken pipe.
     */
    private static void refuse(SocketChannel client, String why) {
        try {
            client.configureBlocking(false);
            client.write(line(error(why)));
            client.shutdownOutput();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "refused control client went away: " + e.getMessage());
        }
        if (LINGERING.incrementAndGet() > MAX_LINGERING) {
            LINGERING.decrementAndGet();
            closeQuietly(client);
            return;
        }
        CLOSER.schedule(() -> {
            LINGERING.decrementAndGet();
            closeQuietly(client);
        }, LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private static void closeQuietly(SocketChannel client) {
        try {
            client.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "closing a refused control client: " + e.getMessage());
        }
    }

    private static ByteBuffer line(JsonNode answer) throws IOException {
        return ByteBuffer.wrap((JSON.writeValueAsString(answer) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads request lines, waiting at most the idle limit for each read so that a silent client is dropped, and
     * holding at most one line of at most the line limit.
     */
    private void serve(SocketChannel client) {
        try (client; Selector selector = Selector.open()) {
            client.configureBlocking(false);
            SelectionKey key = client.register(selector, SelectionKey.OP_READ);
            clients.put(client, selector);
            if (closed) {
                return;
            }
            ByteBuffer in = ByteBuffer.allocate(64 * 1024);
            ByteArrayOutputStream request = new ByteArrayOutputStream();
            long idle = limits.idle().toNanos();
            long heard = System.nanoTime();
            while (!closed) {
                int n = client.read(in);
                if (n < 0) {
                    return;
                }
                if (n == 0) {
                    long left = idle - (System.nanoTime() - heard);
                    if (left <= 0) {
                        LOG.log(System.Logger.Level.INFO, () -> "control client silent for " + limits.idle().toSeconds() + " s: dropped");
                        send(client, key, error("nothing received for " + limits.idle().toSeconds() + " s: closing the connection"));
                        return;
                    }
                    selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                    selector.selectedKeys().clear();
                    continue;
                }
                heard = System.nanoTime();
                byte[] bytes = in.array();
                int from = 0;
                for (int i = 0; i < in.position() && request.size() <= limits.maxLineBytes(); i++) {
                    if (bytes[i] != '\n') {
                        continue;
                    }
                    request.write(bytes, from, i - from);
                    from = i + 1;
                    if (request.size() <= limits.maxLineBytes()) {
                        String text = request.toString(StandardCharsets.UTF_8);
                        request.reset();
                        if (!text.isBlank()) {
                            send(client, key, answer(text));
                        }
                    }
                }
                if (request.size() <= limits.maxLineBytes()) {
                    request.write(bytes, from, in.position() - from);
                }
                in.clear();
                if (request.size() > limits.maxLineBytes()) {
                    LOG.log(System.Logger.Level.WARNING, () -> "control request longer than " + limits.maxLineBytes() + " bytes: dropped");
                    send(client, key, error("request line longer than " + limits.maxLineBytes() + " bytes: closing the connection"));
                    return;
                }
            }
        } catch (IOException | ClosedSelectorException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "control client went away: " + e.getMessage());
        }
    }

    /** Writes the answer; a client that reads none of it for the idle limit is dropped. */
    private void send(SocketChannel client, SelectionKey key, JsonNode answer) throws IOException {
        ByteBuffer out = line(answer);
        long deadline = System.nanoTime() + limits.idle().toNanos();
        key.interestOps(SelectionKey.OP_WRITE);
        try {
            while (out.hasRemaining()) {
                if (client.write(out) > 0) {
                    deadline = System.nanoTime() + limits.idle().toNanos();
                    continue;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || closed) {
                    throw new IOException("the client read none of its answer for " + limits.idle().toSeconds() + " s");
                }
                key.selector().select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                key.selector().selectedKeys().clear();
            }
        } finally {
            key.interestOps(SelectionKey.OP_READ);
        }
    }

    /** The answer to one request line (package-private: the fuzz target asks it directly, without a socket). */
    JsonNode answer(String line) {
        try {
            JsonNode request = JSON.readTree(line);
            String command = request.path("command").asText("");
            return switch (command) {
                case "status" -> StatusReport.of(vnicd).put("ok", true);
                case "rules" -> rules(request);
                case "contain" -> contain(request);
                case "router" -> router(request);
                case "vf-set" -> vfSet(request);
                case "vf-add" -> vfAdd(request);
                case "vf-del" -> vfDel(request);
                case "flow-add" -> flowAdd(request);
                case "flow-remove" -> flowRemove(request);
                case "" -> error("the request has no \"command\"");
                default -> error("unknown command '" + command + "' (known: status, rules, contain, router, vf-add, vf-del, vf-set, flow-add, flow-remove)");
            };
        } catch (IOException e) {
            return error("the request is not JSON: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            return error("the request does not fit: " + e.getMessage());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "control request failed", e);
            return error("internal error: " + e);
        }
    }

    private PhysicalFunction pf(JsonNode request) {
        String name = request.path("pf").asText(vnicd.physicalFunctions().getFirst().name());
        return vnicd.physicalFunction(name);
    }

    /** {"command":"rules","pf":"pf0","tables":[...],"rules":[...]}: replaces the PF's rules, or changes nothing. */
    private ObjectNode rules(JsonNode request) {
        PhysicalFunction pf = pf(request);
        if (pf == null) {
            return error("no PF '" + request.path("pf").asText() + "'");
        }
        List<TableSpec> tables = list(request, "tables", new TypeReference<>() { });
        List<RuleSpec> rules = list(request, "rules", new TypeReference<>() { });
        try {
            pf.installRules(tables, rules);
        } catch (RuleSetException e) {
            return error(pf.name() + ": rules refused, the rules in force stay: " + e.getMessage());
        }
        LOG.log(System.Logger.Level.INFO, () -> pf.name() + ": " + rules.size() + " rule(s) installed over the control socket");
        return JSON.createObjectNode().put("ok", true).put("rules", rules.size());
    }

    /**
     * {"command":"flow-add","pf":"pf0","name":"web","match":"proto=tcp,dst-port=80" (or an object),"action":"vf:vf1",
     * "table":"root","order":N}: adds one rule to those in force (the table defaults to root, the order to after
     * the table's last rule); the set is compiled whole again, and a bad rule changes nothing.
     */
    private ObjectNode flowAdd(JsonNode request) {
        PhysicalFunction pf = pf(request);
        if (pf == null) {
            return error("no PF '" + request.path("pf").asText() + "'");
        }
        String name = request.path("name").asText("");
        String action = request.path("action").asText("");
        if (name.isEmpty() || action.isEmpty()) {
            return error("flow-add needs \"name\" and \"action\"");
        }
        String table = request.path("table").asText("root");
        java.util.Map<String, String> match = new java.util.LinkedHashMap<>();
        JsonNode m = request.path("match");
        if (m.isTextual()) {
            for (String part : m.asText().split(",")) {
                if (part.isBlank()) {
                    continue;
                }
                int eq = part.indexOf('=');
                if (eq <= 0) {
                    return error("match: '" + part.trim() + "' is not FIELD=VALUE (e.g. proto=tcp,dst-port=80)");
                }
                match.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
            }
        } else if (m.isObject()) {
            m.properties().forEach(e -> match.put(e.getKey(), e.getValue().asText()));
        } else if (!m.isMissingNode()) {
            return error("match must be FIELD=VALUE,... or an object");
        }
        int after = 10;
        for (RuleSpec r : pf.rules()) {
            if (r.table().equals(table)) {
                after = Math.max(after, r.order() + 10);
            }
        }
        int order = request.has("order") ? request.path("order").asInt() : after;
        RuleSpec rule = new RuleSpec(name, table, order, match, action);
        try {
            pf.addFlow(rule);
        } catch (RuleSetException e) {
            return error(pf.name() + ": flow " + name + " refused, the rules in force stay: " + e.getMessage());
        }
        LOG.log(System.Logger.Level.INFO, () -> pf.name() + ": flow " + name + " added (" + table + ", order " + order + ")");
        return JSON.createObjectNode().put("ok", true).put("pf", pf.name()).put("flow", name).put("table", table)
                .put("order", order).put("rules", pf.rules().size());
    }

    /** {"command":"flow-remove","pf":"pf0","name":"web"}: removes that rule. */
    private ObjectNode flowRemove(JsonNode request) {
        PhysicalFunction pf = pf(request);
        if (pf == null) {
            return error("no PF '" + request.path("pf").asText() + "'");
        }
        String name = request.path("name").asText("");
        try {
            if (!pf.removeFlow(name)) {
                return error(pf.name() + " has no flow '" + name + "'");
            }
        } catch (RuleSetException e) {
            return error(pf.name() + ": removing flow " + name + " was refused, the rules in force stay: " + e.getMessage());
        }
        LOG.log(System.Logger.Level.INFO, () -> pf.name() + ": flow " + name + " removed");
        return JSON.createObjectNode().put("ok", true).put("pf", pf.name()).put("removed", name).put("rules", pf.rules().size());
    }

    /** {"command":"contain","pf":"pf0","attacks":[...]}: contains these attacks (an empty list releases them). */
    private ObjectNode contain(JsonNode request) {
        PhysicalFunction pf = pf(request);
        if (pf == null) {
            return error("no PF '" + request.path("pf").asText() + "'");
        }
        List<AttackDescriptor> attacks = list(request, "attacks", new TypeReference<>() { });
        try {
            pf.contain(attacks);
        } catch (RuleSetException e) {
            return error(pf.name() + ": attacks refused, the containment in force stays: " + e.getMessage());
        }
        LOG.log(System.Logger.Level.INFO, () -> pf.name() + ": containing " + attacks.size() + " attack(s)");
        return JSON.createObjectNode().put("ok", true).put("attacks", attacks.size());
    }

    /**
     * The virtual router: {"command":"router"} shows it; with "host":"10.1.0.5" and "at":"pf1" it routes for that
     * host on pf1 (as if it had been seen there); with "host" and "remove":true it stops routing for it.
     */
    private ObjectNode router(JsonNode request) {
        io.vnicd.sriov.router.VirtualRouter r = vnicd.router();
        if (r == null) {
            return error("no virtual router: no PF serves a subnet (\"subnet\": {\"cidr\", \"gateway\"} in the configuration)");
        }
        String host = request.path("host").asText("");
        if (!host.isEmpty()) {
            int ip;
            try {
                ip = io.vnicd.sriov.router.Ipv4Subnet.parseAddress(host);
            } catch (IllegalArgumentException e) {
                return error("host: " + e.getMessage());
            }
            if (request.path("remove").asBoolean(false)) {
                if (!r.remove(ip, "removed on command")) {
                    return error("the router does not route for " + host);
                }
            } else {
                try {
                    r.declare(ip, request.path("at").asText(""));
                } catch (IllegalArgumentException e) {
                    return error(e.getMessage());
                }
            }
        }
        return StatusReport.router(JSON.createObjectNode(), r).put("ok", true);
    }

    /**
     * {@code vf-add}: {"pf": PF, "vf": NAME, "socket": PATH, "mode": "server|client", "queuePairs": N, "mac": M,
     * "vlan": V}: a VF added to a running daemon, checked as the configuration would be.
     */
    private ObjectNode vfAdd(JsonNode request) {
        String pfName = request.path("pf").asText(vnicd.physicalFunctions().getFirst().name());
        VnicdConfig.VfConfig vc = new VnicdConfig.VfConfig(request.path("vf").asText(null), request.path("socket").asText(null),
                request.path("mode").asText(null), request.has("queuePairs") ? request.path("queuePairs").asInt() : null,
                request.path("mac").asText(null), request.has("vlan") ? request.path("vlan").asInt() : null, null);
        io.vnicd.sriov.pf.VirtualFunction vf;
        try {
            vf = vnicd.addVirtualFunction(pfName, vc);
        } catch (ConfigException e) {
            return error("vf-add refused: " + e.getMessage());
        } catch (java.io.IOException | RuntimeException e) {
            return error("vf-add " + vc.name() + " failed: " + e.getMessage());
        }
        return JSON.createObjectNode().put("ok", true).put("pf", pfName).put("vf", vf.name())
                .put("socket", vf.socket().toString()).put("port", vf.port());
    }

    /** {@code vf-del}: {"pf": PF, "vf": NAME}: the VF removed from the running daemon. */
    private ObjectNode vfDel(JsonNode request) {
        String pfName = request.path("pf").asText(vnicd.physicalFunctions().getFirst().name());
        String vfName = request.path("vf").asText("");
        try {
            vnicd.removeVirtualFunction(pfName, vfName);
        } catch (ConfigException e) {
            return error("vf-del refused: " + e.getMessage());
        }
        return JSON.createObjectNode().put("ok", true).put("pf", pfName).put("removed", vfName);
    }

    /**
     * {@code vf-set}: {"vf": NAME, "pf": PF (optional when one PF has it), "rate": "100mbit" (0: none), "state":
     * "auto|enable|disable"}: the VF's TX rate and link state, at run time. Checked as a whole before anything
     * changes.
     */
    private ObjectNode vfSet(JsonNode request) {
        String vfName = request.path("vf").asText("");
        if (vfName.isEmpty()) {
            return error("vf-set needs \"vf\"");
        }
        String pfName = request.path("pf").asText("");
        io.vnicd.sriov.pf.PhysicalFunction pf = null;
        for (io.vnicd.sriov.pf.PhysicalFunction p : vnicd.physicalFunctions()) {
            if ((pfName.isEmpty() || p.name().equals(pfName))
                    && p.virtualFunctions().stream().anyMatch(v -> v.name().equals(vfName))) {
                if (pf != null) {
                    return error("VF '" + vfName + "' is on several PFs: say which with \"pf\"");
                }
                pf = p;
            }
        }
        if (pf == null) {
            return error("no VF '" + vfName + "'" + (pfName.isEmpty() ? "" : " on PF '" + pfName + "'"));
        }
        Long rate = null;
        io.vnicd.sriov.pf.PhysicalFunction.LinkState state = null;
        Boolean spoofchk = null;
        Boolean trust = null;
        try {
            if (request.has("spoofchk")) {
                spoofchk = onOff("spoofchk", request.path("spoofchk").asText());
            }
            if (request.has("trust")) {
                trust = onOff("trust", request.path("trust").asText());
            }
            if (request.has("rate")) {
                rate = io.vnicd.virtio.net.TxShaper.parseRate(request.path("rate").asText());
            }
            if (request.has("state")) {
                String word = request.path("state").asText();
                state = switch (word) {
                    case "auto" -> io.vnicd.sriov.pf.PhysicalFunction.LinkState.AUTO;
                    case "enable" -> io.vnicd.sriov.pf.PhysicalFunction.LinkState.ENABLE;
                    case "disable" -> io.vnicd.sriov.pf.PhysicalFunction.LinkState.DISABLE;
                    default -> throw new IllegalArgumentException("state must be auto, enable or disable: '" + word + "'");
                };
            }
        } catch (IllegalArgumentException e) {
            return error(e.getMessage());
        }
        String mac = request.has("mac") ? request.path("mac").asText() : null;
        Integer vlan = request.has("vlan") ? request.path("vlan").asInt(-1) : null;
        if (rate == null && state == null && spoofchk == null && trust == null && mac == null && vlan == null) {
            return error("vf-set needs \"rate\", \"state\", \"spoofchk\", \"trust\", \"mac\" or \"vlan\"");
        }
        if (mac != null || vlan != null) {
            try {
                vnicd.setVfAddress(pf.name(), vfName, mac, vlan);
            } catch (ConfigException e) {
                return error("vf-set refused: " + e.getMessage());
            }
        }
        if (spoofchk != null || trust != null) {
            pf.setSourceChecks(vfName, spoofchk, trust);
        }
        if (rate != null) {
            pf.setTxRate(vfName, rate);
        }
        if (state != null) {
            pf.setLinkState(vfName, state);
        }
        io.vnicd.sriov.pf.VirtualFunction vf = pf.virtualFunction(vfName);
        boolean[] checks = pf.sourceChecks(vfName);
        return JSON.createObjectNode().put("ok", true).put("pf", pf.name()).put("vf", vfName)
                .put("txRateBitsPerSecond", vf.device().txRate()).put("linkState", pf.linkState(vfName).word())
                .put("carrier", vf.endpoint().carrier()).put("spoofchk", checks[0]).put("trust", checks[1]);
    }

    private static boolean onOff(String what, String word) {
        return switch (word) {
            case "on", "true" -> true;
            case "off", "false" -> false;
            default -> throw new IllegalArgumentException(what + " must be on or off: '" + word + "'");
        };
    }

    /** The request's array field as records; an absent field is an empty list. */
    private static <T> List<T> list(JsonNode request, String field, TypeReference<List<T>> type) {
        JsonNode node = request.get(field);
        return JSON.convertValue(node == null ? JSON.createArrayNode() : node, type);
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("ok", false).put("error", message);
    }

    /** Stops accepting, drops the clients, and removes the socket file if this server bound it. */
    @Override
    public void close() {
        closed = true;
        try {
            if (server != null) {
                server.close();
            }
            for (Map.Entry<SocketChannel, Selector> c : clients.entrySet()) {
                c.getKey().close();
                c.getValue().wakeup();
            }
            if (bound) {
                Files.deleteIfExists(path);
            }
        } catch (IOException ignored) {
            // the daemon is stopping
        }
    }
}
