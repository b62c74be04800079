package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vnicd.devmodel.monitor.CaptureCommand;
import io.vnicd.virtio.net.NetQueuePair;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code vnicctl}, the operator's command line, in iproute2's and dladm's habits (picocli: help, completion, exit
 * codes): {@code link show}, {@code stats [-w]}, {@code flow show [-s]} read the daemon's status and print tables,
 * or JSON with {@code -o json}; {@code status}, {@code rules}, {@code contain}, {@code capture} and {@code router}
 * as before. Exit status 0 on success, 1 when the daemon refuses or cannot be reached, 2 for a usage error.
 */
@Command(name = "vnicctl", mixinStandardHelpOptions = true, version = "vnicctl 0.1.0",
        description = "Talks to a running vnicd over its control socket.",
        subcommands = {Vnicctl.Status.class, Vnicctl.Link.class, Vnicctl.Stats.class, Vnicctl.Flow.class,
                Vnicctl.Vf.class, Vnicctl.Rules.class, Vnicctl.Contain.class, Vnicctl.Capture.class, Vnicctl.Router.class,
                Vnicctl.Request.class, AutoComplete.GenerateCompletion.class})
public final class Vnicctl implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--control", paramLabel = "PATH", description = "the daemon's control socket (default: ${DEFAULT-VALUE})")
    Path control = Path.of(VnicdConfig.DEFAULT_DIR, "control.sock");

    @Spec
    CommandLine.Model.CommandSpec spec;

    /** A refusal or an unreachable daemon: exit status 1 with the message. */
    static final class Refused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    /** What every command has: the spec it runs under, and the top command (its parent, or its parent's). */
    abstract static class Sub implements Callable<Integer> {
        @ParentCommand
        Object parent;
        @Spec
        CommandLine.Model.CommandSpec spec;

        Vnicctl top() {
            return parent instanceof Vnicctl v ? v : ((Sub) parent).top();
        }

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        /** Sends request to the daemon and prints its answer; 0. */
        int answer(ObjectNode request) throws IOException {
            top().printJson(out(), top().ask(request));
            return 0;
        }
    }

    /** A command of commands (link, flow, vf): alone, it prints its usage and exits 2. */
    abstract static class Group extends Sub {
        @Override
        public Integer call() {
            spec.commandLine().usage(out());
            return 2;
        }
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs vnicctl with args; returns the exit status. A first argument that is a JSON document is sent as it is. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        List<String> list = new ArrayList<>(List.of(args));
        int first = list.size() >= 2 && list.getFirst().equals("--control") ? 2 : 0;
        if (first < list.size() && list.get(first).startsWith("{")) {
            list.add(first, "request");
        }
        CommandLine cl = new CommandLine(new Vnicctl()).setOut(out).setErr(err)
                .setExecutionExceptionHandler((e, line, parsed) -> {
                    if (e instanceof Refused) {
                        err.println("vnicctl: " + e.getMessage());
                        return 1;
                    }
                    if (e instanceof IOException) {
                        err.println("vnicctl: " + e.getMessage());
                        return 1;
                    }
                    throw e;
                });
        return cl.execute(list.toArray(new String[0]));
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 2;
    }

    /** Sends a request; its answer when the daemon says ok, otherwise {@link Refused}. */
    JsonNode ask(ObjectNode request) throws IOException {
        String answer;
        try {
            answer = ControlClient.request(control, JSON.writeValueAsString(request));
        } catch (IOException e) {
            throw new Refused("cannot reach vnicd at " + control + ": " + e.getMessage());
        }
        JsonNode a = JSON.readTree(answer);
        if (!a.path("ok").asBoolean(false)) {
            throw new Refused(a.path("error").asText(answer));
        }
        return a;
    }

    JsonNode status() throws IOException {
        return ask(JSON.createObjectNode().put("command", "status"));
    }

    void printJson(PrintWriter out, JsonNode node) throws IOException {
        out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node));
        out.flush();
    }

    /** Output formats of the read commands. */
    enum Format { text, json }

    /** Prints rows (the first is the header) in aligned columns. */
    static void table(PrintWriter out, List<String[]> rows) {
        int[] width = new int[rows.getFirst().length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        for (String[] r : rows) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                b.append(i == r.length - 1 ? r[i] : String.format("%-" + (width[i] + 2) + "s", r[i]));
            }
            out.println(b.toString().stripTrailing());
        }
        out.flush();
    }

    @Command(name = "status", description = "The daemon's PFs, VFs, switch, rules and counters (JSON).")
    static final class Status extends Sub {

        @Override
        public Integer call() throws IOException {
            top().printJson(out(), top().status());
            return 0;
        }
    }

    @Command(name = "link", description = "Links: PFs, their uplinks' NICs, VFs, proxy VNICs and tunnels.",
            subcommands = Link.Show.class)
    static final class Link extends Group {

        @Command(name = "show", description = "Shows links with class, state, MAC and what they are over or connected"
                + " to (as ip -d link / dladm show-link).")
        static final class Show extends Sub {
            @Parameters(arity = "0..1", paramLabel = "NAME", description = "one link (pf0, pf0/vf1, vf1, a NIC's name)")
            String name;
            @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "text or json")
            Format format = Format.text;

            @Override
            public Integer call() throws IOException {
                ArrayNode links = links(top().status());
                if (name != null) {
                    ArrayNode one = JSON.createArrayNode();
                    for (JsonNode l : links) {
                        if (l.path("link").asText().equals(name) || l.path("name").asText().equals(name)) {
                            one.add(l);
                        }
                    }
                    if (one.isEmpty()) {
                        throw new Refused("no link named '" + name + "'");
                    }
                    links = one;
                }
                PrintWriter out = out();
                if (format == Format.json) {
                    top().printJson(out, links);
                    return 0;
                }
                List<String[]> rows = new ArrayList<>();
                rows.add(new String[] {"LINK", "CLASS", "STATE", "MAC", "VLAN", "OVER / FRONTEND"});
                for (JsonNode l : links) {
                    rows.add(new String[] {l.path("link").asText(), l.path("class").asText(), l.path("state").asText(),
                            l.path("mac").asText("--"), l.has("vlan") ? l.path("vlan").asText() : "--", l.path("over").asText("--")});
                }
                table(out, rows);
                return 0;
            }
        }
    }

    /** Every link of the status, one object each: link, name, class, state, mac, over (and pf). */
    static ArrayNode links(JsonNode status) {
        ArrayNode links = JSON.createArrayNode();
        for (JsonNode pf : status.path("pfs")) {
            String p = pf.path("name").asText();
            JsonNode up = pf.path("uplink");
            List<String> nics = new ArrayList<>();
            up.path("nics").forEach(n -> nics.add(n.path("name").asText()));
            links.addObject().put("link", p).put("name", p).put("class", "pf").put("pf", p)
                    .put("state", up.isMissingNode() ? "up" : up.path("linkUp").asBoolean() ? "up" : "down")
                    .put("over", up.isMissingNode() ? "--" : String.join(" ", nics) + " (" + up.path("policy").asText()
                            + ", " + up.path("transport").asText() + ")");
            for (JsonNode n : up.path("nics")) {
                String state = n.path("state").asText();
                links.addObject().put("link", n.path("name").asText()).put("name", n.path("name").asText())
                        .put("class", "nic").put("pf", p).put("state", state.equals("absent") ? "failed (gone)" : state)
                        .put("over", p);
            }
            for (JsonNode vf : pf.path("vfs")) {
                String v = vf.path("name").asText();
                String linkState = vf.path("linkState").asText("auto");
                ObjectNode l = links.addObject().put("link", p + "/" + v).put("name", v).put("class", "vf").put("pf", p)
                        .put("state", (vf.path("linkReady").asBoolean() ? "up" : "down")
                                + (linkState.equals("auto") ? "" : " (" + linkState + "d)"))
                        .put("linkState", linkState).put("txRateBitsPerSecond", vf.path("txRateBitsPerSecond").asLong())
                        .put("vlan", vf.path("vlan").asInt()).put("spoofchk", vf.path("spoofchk").asBoolean(true))
                        .put("trust", vf.path("trust").asBoolean(false));
                if (vf.has("mac")) {
                    l.put("mac", vf.path("mac").asText());
                }
                l.put("over", (vf.path("connected").asBoolean() ? "connected" : "no frontend") + " ("
                        + vf.path("mode").asText() + ") " + vf.path("socket").asText());
                l.put("connected", vf.path("connected").asBoolean()).put("socket", vf.path("socket").asText());
            }
            for (JsonNode x : pf.path("proxies")) {
                String n = x.path("name").asText();
                links.addObject().put("link", p + "/" + n).put("name", n).put("class", "proxy").put("pf", p)
                        .put("state", x.path("linkUp").asBoolean() ? "up" : "down")
                        .put("over", "peer " + x.path("peer").asText("--"));
            }
            JsonNode vx = pf.path("vxlan");
            for (JsonNode seg : vx.path("segments")) {
                List<String> remotes = new ArrayList<>();
                seg.path("remotes").forEach(r -> remotes.add(r.asText()));
                String n = "vxlan" + seg.path("vni").asText();
                links.addObject().put("link", p + "/" + n).put("name", n).put("class", "tunnel").put("pf", p)
                        .put("state", "up").put("over", "VNI " + seg.path("vni").asText() + " VLAN " + seg.path("vlan").asText()
                                + " to " + String.join(" ", remotes) + " (udp " + vx.path("port").asText() + ")");
            }
        }
        return links;
    }

    @Command(name = "stats", description = "Per VF frames, bytes and drops; with -w, rates every SECONDS.")
    static final class Stats extends Sub {
        @Option(names = {"-w", "--watch"}, paramLabel = "SECONDS", arity = "0..1", fallbackValue = "1",
                description = "print rates every SECONDS (default 1) until interrupted")
        Double watch;
        @Option(names = {"-c", "--count"}, paramLabel = "N", description = "with -w: stop after N intervals")
        int count = Integer.MAX_VALUE;
        @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "text or json")
        Format format = Format.text;

        @Override
        public Integer call() throws IOException, InterruptedException {
            if (watch != null && !(watch > 0 && watch <= 3600)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "-w needs a number of seconds in (0, 3600]");
            }
            PrintWriter out = out();
            Map<String, long[]> before = watch == null ? null : sample(top().status());
            long t0 = System.nanoTime();
            for (int i = 0; i < (watch == null ? 1 : count); i++) {
                if (watch != null) {
                    Thread.sleep((long) (watch * 1000));
                }
                JsonNode status = top().status();
                long t1 = System.nanoTime();
                Map<String, long[]> now = sample(status);
                ArrayNode rows = JSON.createArrayNode();
                for (Map.Entry<String, long[]> e : now.entrySet()) {
                    long[] v = e.getValue();
                    ObjectNode r = rows.addObject().put("link", e.getKey()).put("rxFrames", v[0]).put("rxBytes", v[1])
                            .put("txFrames", v[2]).put("txBytes", v[3]).put("drops", v[4]);
                    long[] b = before == null ? null : before.get(e.getKey());
                    if (b != null) {
                        double s = (t1 - t0) / 1e9;
                        r.put("rxFramesPerSecond", (v[0] - b[0]) / s).put("txFramesPerSecond", (v[2] - b[2]) / s)
                                .put("rxBitsPerSecond", (v[1] - b[1]) * 8 / s).put("txBitsPerSecond", (v[3] - b[3]) * 8 / s);
                    }
                }
                if (format == Format.json) {
                    top().printJson(out, rows);
                } else {
                    List<String[]> t = new ArrayList<>();
                    t.add(before == null
                            ? new String[] {"LINK", "RX-FRAMES", "RX-BYTES", "TX-FRAMES", "TX-BYTES", "DROPS"}
                            : new String[] {"LINK", "RX-FRAMES/S", "RX-MBIT/S", "TX-FRAMES/S", "TX-MBIT/S", "DROPS"});
                    for (JsonNode r : rows) {
                        t.add(before == null
                                ? new String[] {r.path("link").asText(), r.path("rxFrames").asText(), r.path("rxBytes").asText(),
                                        r.path("txFrames").asText(), r.path("txBytes").asText(), r.path("drops").asText()}
                                : new String[] {r.path("link").asText(), rate(r.path("rxFramesPerSecond").asDouble()),
                                        mbit(r.path("rxBitsPerSecond").asDouble()), rate(r.path("txFramesPerSecond").asDouble()),
                                        mbit(r.path("txBitsPerSecond").asDouble()), r.path("drops").asText()});
                    }
                    table(out, t);
                    if (watch != null) {
                        out.println();
                    }
                }
                before = now;
                t0 = t1;
            }
            return 0;
        }

        private static String rate(double perSecond) {
            return String.format(Locale.ROOT, "%.0f", perSecond);
        }

        private static String mbit(double bitsPerSecond) {
            return String.format(Locale.ROOT, "%.2f", bitsPerSecond / 1e6);
        }

        /** Per VF (pf/vf): rx frames, rx bytes, tx frames, tx bytes, and the sum of its drop counters. */
        static Map<String, long[]> sample(JsonNode status) {
            Map<String, long[]> m = new java.util.LinkedHashMap<>();
            Map<String, Boolean> drop = new HashMap<>();
            for (NetQueuePair.Counter c : NetQueuePair.Counter.values()) {
                drop.put(c.reportName(), c.isDrop());
            }
            for (JsonNode pf : status.path("pfs")) {
                for (JsonNode vf : pf.path("vfs")) {
                    JsonNode c = vf.path("counters");
                    long drops = 0;
                    for (Map.Entry<String, JsonNode> e : c.properties()) {
                        if (drop.getOrDefault(e.getKey(), false)) {
                            drops += e.getValue().asLong();
                        }
                    }
                    drops += vf.path("switchPort").path("outDrops").asLong() + vf.path("rxBacklog").path("flushed").asLong()
                            + vf.path("rxBacklog").path("overQuota").asLong();
                    m.put(pf.path("name").asText() + "/" + vf.path("name").asText(), new long[] {
                        c.path("rxFrames").asLong(), c.path("rxBytes").asLong(), c.path("txFrames").asLong(),
                        c.path("txBytes").asLong(), drops});
                }
            }
            return m;
        }
    }

    @Command(name = "flow", description = "Flow rules (as flowadm).", subcommands = {Flow.Show.class, Flow.Add.class,
            Flow.Remove.class})
    static final class Flow extends Group {

        @Command(name = "add", description = "Adds a flow rule at run time (as flowadm add-flow): flow add NAME"
                + " --match 'proto=tcp,dst-port=80' --action vf:vf1 [--pf PF] [--table T] [--order N].")
        static final class Add extends Sub {
            @Parameters(index = "0", paramLabel = "NAME")
            String name;
            @Option(names = "--pf", paramLabel = "PF")
            String pf;
            @Option(names = "--match", paramLabel = "FIELD=VALUE,...", description = "proto, src-ip, dst-ip, src-port,"
                    + " dst-port, vlan, src-mac, dst-mac, ... (as in the rules' \"match\")")
            String match = "";
            @Option(names = "--action", required = true, paramLabel = "ACTION", description = "vf:NAME, drop, monitor, ...")
            String action;
            @Option(names = "--table", paramLabel = "T")
            String table;
            @Option(names = "--order", paramLabel = "N")
            Integer order;

            @Override
            public Integer call() throws IOException {
                ObjectNode body = JSON.createObjectNode().put("command", "flow-add").put("name", name).put("match", match)
                        .put("action", action);
                if (pf != null) {
                    body.put("pf", pf);
                }
                if (table != null) {
                    body.put("table", table);
                }
                if (order != null) {
                    body.put("order", order);
                }
                return answer(body);
            }
        }

        @Command(name = "remove", description = "Removes a flow rule (as flowadm remove-flow).")
        static final class Remove extends Sub {
            @Parameters(index = "0", paramLabel = "NAME")
            String name;
            @Option(names = "--pf", paramLabel = "PF")
            String pf;

            @Override
            public Integer call() throws IOException {
                ObjectNode body = JSON.createObjectNode().put("command", "flow-remove").put("name", name);
                if (pf != null) {
                    body.put("pf", pf);
                }
                return answer(body);
            }
        }

        @Command(name = "show", description = "Shows each PF's flow rules by table; -s adds their hits.")
        static final class Show extends Sub {
            @Option(names = {"-s", "--statistics"}, description = "the hits of each rule")
            boolean statistics;
            @Option(names = "--pf", paramLabel = "PF", description = "one PF")
            String pf;
            @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "text or json")
            Format format = Format.text;

            @Override
            public Integer call() throws IOException {
                ArrayNode flows = JSON.createArrayNode();
                for (JsonNode p : top().status().path("pfs")) {
                    if (pf != null && !pf.equals(p.path("name").asText())) {
                        continue;
                    }
                    Map<String, JsonNode> specs = new HashMap<>();
                    p.path("rules").path("flows").forEach(f -> specs.put(f.path("table").asText() + "/" + f.path("name").asText(), f));
                    for (JsonNode r : p.path("rules").path("entries")) {
                        ObjectNode f = flows.addObject().put("pf", p.path("name").asText()).put("table", r.path("table").asText())
                                .put("flow", r.path("rule").asText());
                        JsonNode spec = specs.get(r.path("table").asText() + "/" + r.path("rule").asText());
                        List<String> match = new ArrayList<>();
                        if (spec != null) {
                            spec.path("match").properties().forEach(e -> match.add(e.getKey() + "=" + e.getValue().asText()));
                            f.put("order", spec.path("order").asInt()).put("match", String.join(",", match))
                                    .put("action", spec.path("action").asText());
                        } else {
                            f.put("match", "(table miss)").put("action", "--");
                        }
                        if (statistics) {
                            f.put("hits", r.path("hits").asLong());
                        }
                    }
                }
                PrintWriter out = out();
                if (format == Format.json) {
                    top().printJson(out, flows);
                    return 0;
                }
                List<String[]> rows = new ArrayList<>();
                rows.add(statistics ? new String[] {"FLOW", "PF", "TABLE", "MATCH", "ACTION", "HITS"}
                        : new String[] {"FLOW", "PF", "TABLE", "MATCH", "ACTION"});
                for (JsonNode f : flows) {
                    String[] base = {f.path("flow").asText(), f.path("pf").asText(), f.path("table").asText(),
                        f.path("match").asText().isEmpty() ? "(any)" : f.path("match").asText(), f.path("action").asText()};
                    if (statistics) {
                        String[] r = java.util.Arrays.copyOf(base, 6);
                        r[5] = f.path("hits").asText();
                        rows.add(r);
                    } else {
                        rows.add(base);
                    }
                }
                table(out, rows);
                return 0;
            }
        }
    }

    @Command(name = "vf", description = "VFs at run time (as ip link set DEV vf N ..., echo N > sriov_numvfs).",
            subcommands = {Vf.Add.class, Vf.Del.class, Vf.Set.class})
    static final class Vf extends Group {

        @Command(name = "add", description = "Adds a VF to a running daemon: vf add PF NAME --socket PATH [--mac M]"
                + " [--vlan V] [--queues N] [--mode server|client].")
        static final class Add extends Sub {
            @Parameters(index = "0", paramLabel = "PF")
            String pf;
            @Parameters(index = "1", paramLabel = "NAME")
            String name;
            @Option(names = "--socket", required = true, paramLabel = "PATH")
            String socket;
            @Option(names = "--mac", paramLabel = "M")
            String mac;
            @Option(names = "--vlan", paramLabel = "V")
            Integer vlan;
            @Option(names = "--queues", paramLabel = "N")
            Integer queues;
            @Option(names = "--mode", paramLabel = "MODE", description = "server (default: vnicd listens) or client")
            String mode;

            @Override
            public Integer call() throws IOException {
                ObjectNode body = JSON.createObjectNode().put("command", "vf-add").put("pf", pf).put("vf", name)
                        .put("socket", Path.of(socket).toAbsolutePath().toString());
                if (mac != null) {
                    body.put("mac", mac);
                }
                if (vlan != null) {
                    body.put("vlan", vlan);
                }
                if (queues != null) {
                    body.put("queuePairs", queues);
                }
                if (mode != null) {
                    body.put("mode", mode);
                }
                return answer(body);
            }
        }

        @Command(name = "del", description = "Removes a VF from a running daemon (its guest sees the link go down):"
                + " vf del PF NAME.")
        static final class Del extends Sub {
            @Parameters(index = "0", paramLabel = "PF")
            String pf;
            @Parameters(index = "1", paramLabel = "NAME")
            String name;

            @Override
            public Integer call() throws IOException {
                return answer(JSON.createObjectNode().put("command", "vf-del").put("pf", pf).put("vf", name));
            }
        }

        @Command(name = "set", description = "Sets a VF at run time: vf set NAME [mac M|learn] [vlan V] [rate 100mbit|0]"
                + " [state auto|enable|disable] [spoofchk on|off] [trust on|off].")
        static final class Set extends Sub {
            @Option(names = "--pf", paramLabel = "PF", description = "the VF's PF (when several have one of that name)")
            String pf;
            @Parameters(index = "0", paramLabel = "NAME")
            String name;
            @Parameters(index = "1..*", paramLabel = "SETTING VALUE", arity = "2..*")
            List<String> settings = new ArrayList<>();

            @Override
            public Integer call() throws IOException {
                if (settings.size() % 2 != 0) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "settings come in pairs: rate R, state S");
                }
                ObjectNode body = JSON.createObjectNode().put("command", "vf-set").put("vf", name);
                if (pf != null) {
                    body.put("pf", pf);
                }
                for (int i = 0; i < settings.size(); i += 2) {
                    String key = settings.get(i);
                    String value = settings.get(i + 1);
                    switch (key) {
                        case "rate", "max_tx_rate", "maxbw" -> body.put("rate", value);
                        case "state" -> body.put("state", value);
                        case "spoofchk" -> body.put("spoofchk", value);
                        case "trust" -> body.put("trust", value);
                        case "mac" -> body.put("mac", value);
                        case "vlan" -> {
                            try {
                                body.put("vlan", Integer.parseInt(value));
                            } catch (NumberFormatException e) {
                                throw new CommandLine.ParameterException(spec.commandLine(), "vlan must be a number: " + value);
                            }
                        }
                        default -> throw new CommandLine.ParameterException(spec.commandLine(), "unknown setting '" + key
                                + "' (rate, state, spoofchk, trust, mac, vlan)");
                    }
                }
                return answer(body);
            }
        }
    }

    /** rules and contain: a JSON file sent with its command and an optional PF. */
    abstract static class FileCommand extends Sub {
        @Parameters(index = "0", paramLabel = "FILE.json")
        Path file;
        @Option(names = "--pf", paramLabel = "PF")
        String pf;

        abstract String command();

        @Override
        public Integer call() throws IOException {
            JsonNode body;
            try {
                body = JSON.readTree(Files.readString(file));
            } catch (IOException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "cannot read " + file + ": " + e.getMessage());
            }
            if (!(body instanceof ObjectNode o)) {
                throw new CommandLine.ParameterException(spec.commandLine(), file + " holds no JSON object");
            }
            o.put("command", command());
            if (pf != null) {
                o.put("pf", pf);
            }
            return answer(o);
        }
    }

    @Command(name = "rules", description = "Replaces a PF's flow rules: {\"tables\":[...],\"rules\":[...]} (refused as a whole if bad).")
    static final class Rules extends FileCommand {
        @Override
        String command() {
            return "rules";
        }
    }

    @Command(name = "contain", description = "Contains attacks: {\"attacks\":[...]} (an empty list releases them).")
    static final class Contain extends FileCommand {
        @Override
        String command() {
            return "contain";
        }
    }

    @Command(name = "capture", description = "Writes what the PF's monitor rules capture to a pcap file:"
            + " --out FILE.pcap [--count N] [--timeout SECONDS].")
    static final class Capture extends Sub {
        @Option(names = "--pf", paramLabel = "PF")
        String pf;
        /** The capture reader's own options: --out FILE.pcap [--count N] [--timeout SECONDS]. */
        @CommandLine.Unmatched
        List<String> rest = new ArrayList<>();

        @Override
        public Integer call() throws IOException {
            String ring = null;
            for (JsonNode p : top().status().path("pfs")) {
                if (pf == null || pf.equals(p.path("name").asText())) {
                    ring = p.path("monitor").path("ring").asText(null);
                    break;
                }
            }
            if (ring == null) {
                throw new Refused("no PF " + (pf == null ? "" : "'" + pf + "' ") + "with a monitor ring");
            }
            List<String> args = new ArrayList<>(rest);
            args.add("--ring");
            args.add(ring);
            return CaptureCommand.run(args.toArray(new String[0]), System.err);
        }
    }

    @Command(name = "router", description = "The virtual router: hosts away from home and its VNICs; route for HOST on"
            + " PF (as if seen there), or stop routing for it.")
    static final class Router extends Sub {
        @Parameters(arity = "0..1", paramLabel = "HOST")
        String host;
        @Option(names = "--at", paramLabel = "PF")
        String at;
        @Option(names = "--remove", paramLabel = "HOST")
        String remove;

        @Override
        public Integer call() throws IOException {
            ObjectNode body = JSON.createObjectNode().put("command", "router");
            if (remove != null) {
                body.put("host", remove).put("remove", true);
            } else if (host != null) {
                if (at == null) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "router HOST needs --at PF");
                }
                body.put("host", host).put("at", at);
            }
            return answer(body);
        }
    }

    @Command(name = "request", description = "Sends a raw JSON request ('{\"command\":...}'); a first argument that is"
            + " a JSON document is one too.")
    static final class Request extends Sub {
        @Parameters(index = "0", paramLabel = "JSON")
        String json;

        @Override
        public Integer call() throws IOException {
            JsonNode body;
            try {
                body = JSON.readTree(json);
            } catch (IOException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "not JSON: " + e.getMessage());
            }
            if (!(body instanceof ObjectNode o)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "the request must be a JSON object");
            }
            return answer(o);
        }
    }
}
