package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.TableSpec;
import io.vnicd.devmodel.dos.AttackDescriptor;
import io.vnicd.sriov.pf.PhysicalFunction;
import java.util.List;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The control socket of a running daemon: one JSON request per line, one JSON answer per line.
 * <pre>
 *   {"command":"status"}    → PFs, VFs, connections, negotiated features, counters
 * </pre>
 * An answer is {@code {"ok":true,...}} or {@code {"ok":false,"error":"..."}}; a bad request never affects the
 * data path.
 */
final class ControlServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ControlServer.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final Vnicd vnicd;
    private ServerSocketChannel server;
    private volatile boolean closed;

    ControlServer(Path path, Vnicd vnicd) {
        this.path = path;
        this.vnicd = vnicd;
    }

    void start() throws IOException {
        if (path.getParent() != null) {
            Files.createDirectories(path.getParent());
        }
        Files.deleteIfExists(path);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Thread.ofPlatform().name("vnicd-control").daemon().start(this::acceptLoop);
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel client = server.accept();
                Thread.ofPlatform().name("vnicd-control-client").daemon().start(() -> serve(client));
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.ERROR, () -> "control socket " + path + " failed: " + e.getMessage());
                }
                return;
            }
        }
    }

    private void serve(SocketChannel client) {
        try (client; BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                StandardCharsets.UTF_8)); OutputStream out = Channels.newOutputStream(client)) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode answer = answer(line);
                out.write((JSON.writeValueAsString(answer) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "control client went away: " + e.getMessage());
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
                case "" -> error("the request has no \"command\"");
                default -> error("unknown command '" + command + "' (known: status, rules, contain)");
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

    /** The request's array field as records; an absent field is an empty list. */
    private static <T> List<T> list(JsonNode request, String field, TypeReference<List<T>> type) {
        JsonNode node = request.get(field);
        return JSON.convertValue(node == null ? JSON.createArrayNode() : node, type);
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("ok", false).put("error", message);
    }

    @Override
    public void close() {
        closed = true;
        try {
            if (server != null) {
                server.close();
            }
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // the daemon is stopping
        }
    }
}
