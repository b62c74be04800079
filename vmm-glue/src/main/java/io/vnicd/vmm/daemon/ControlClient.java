package io.vnicd.vmm.daemon;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Talks to a running daemon's control socket: {@code vnicctl [--control PATH] status} prints the status as JSON.
 */
public final class ControlClient {
    private ControlClient() {
    }

    /** Sends one request line and returns the answer line. */
    public static String request(Path socket, String json) throws IOException {
        // The protocol is one JSON document per line: a request written over several lines is compacted.
        String jsonLine;
        try {
            jsonLine = JSON.writeValueAsString(JSON.readTree(json));
        } catch (IOException notJson) {
            jsonLine = json.replace('\n', ' ');
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(java.nio.ByteBuffer.wrap((jsonLine + "\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            String answer = in.readLine();
            if (answer == null) {
                throw new IOException("vnicd closed the control connection without answering");
            }
            return answer;
        }
    }

    static final String USAGE = """
            usage: vnicctl [--control PATH] COMMAND
              status                          the daemon's PFs, VFs, switch, rules and counters (JSON)
              rules FILE.json [--pf NAME]     replaces a PF's flow rules: {"tables":[...],"rules":[...]}
              contain FILE.json [--pf NAME]   contains attacks: {"attacks":[...]} (empty list releases)
              capture --out FILE.pcap [--pf NAME] [--count N] [--timeout SECONDS]
                                              writes what the PF's monitor rules capture to a pcap file
              router [HOST --at PF | --remove HOST]
                                              the virtual router: hosts away from home and its VNICs; route for
                                              HOST on PF (as if seen there), or stop routing for it
              '{"command":...}'               a raw JSON request""";

    public static void main(String[] args) {
        Path socket = Path.of(VnicdConfig.DEFAULT_DIR, "control.sock");
        int i = 0;
        if (args.length >= 2 && args[0].equals("--control")) {
            socket = Path.of(args[1]);
            i = 2;
        }
        if (i >= args.length || args[i].equals("--help")) {
            System.err.println(USAGE);
            System.exit(i >= args.length ? 2 : 0);
        }
        String cmd = args[i];
        java.util.List<String> rest = java.util.Arrays.asList(args).subList(i + 1, args.length);
        try {
            switch (cmd) {
                case "status" -> answer(request(socket, "{\"command\":\"status\"}"));
                case "rules", "contain" -> {
                    if (rest.isEmpty()) {
                        fail(cmd + " needs a JSON file", 2);
                    }
                    com.fasterxml.jackson.databind.node.ObjectNode body = (com.fasterxml.jackson.databind.node.ObjectNode)
                            JSON.readTree(java.nio.file.Files.readString(Path.of(rest.getFirst())));
                    body.put("command", cmd);
                    int pf = rest.indexOf("--pf");
                    if (pf >= 0 && pf + 1 < rest.size()) {
                        body.put("pf", rest.get(pf + 1));
                    }
                    answer(request(socket, JSON.writeValueAsString(body)));
                }
                case "capture" -> capture(socket, rest);
                case "router" -> {
                    com.fasterxml.jackson.databind.node.ObjectNode body = JSON.createObjectNode().put("command", "router");
                    int remove = rest.indexOf("--remove");
                    int at = rest.indexOf("--at");
                    if (remove >= 0 && remove + 1 < rest.size()) {
                        body.put("host", rest.get(remove + 1)).put("remove", true);
                    } else if (!rest.isEmpty()) {
                        if (at < 0 || at + 1 >= rest.size() || at == 0) {
                            fail("router HOST needs --at PF", 2);
                        }
                        body.put("host", rest.getFirst()).put("at", rest.get(at + 1));
                    }
                    answer(request(socket, JSON.writeValueAsString(body)));
                }
                default -> {
                    if (!cmd.startsWith("{")) {
                        fail("unknown command '" + cmd + "'\n" + USAGE, 2);
                    }
                    answer(request(socket, cmd));
                }
            }
        } catch (IOException e) {
            fail("cannot reach vnicd at " + socket + ": " + e.getMessage(), 1);
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    private static String pretty(String json) throws IOException {
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(JSON.readTree(json));
    }

    /** Prints the answer; a refusal goes to stderr with exit status 1. */
    private static void answer(String json) throws IOException {
        com.fasterxml.jackson.databind.JsonNode a = JSON.readTree(json);
        if (a.path("ok").asBoolean(false)) {
            System.out.println(pretty(json));
        } else {
            fail(a.path("error").asText(json), 1);
        }
    }

    /** Finds the PF's monitor ring through the status, then runs the capture reader on it. */
    private static void capture(Path socket, java.util.List<String> rest) throws IOException {
        java.util.List<String> args = new java.util.ArrayList<>(rest);
        String pfName = null;
        int pf = args.indexOf("--pf");
        if (pf >= 0 && pf + 1 < args.size()) {
            pfName = args.get(pf + 1);
            args.remove(pf + 1);
            args.remove(pf);
        }
        com.fasterxml.jackson.databind.JsonNode status = JSON.readTree(request(socket, "{\"command\":\"status\"}"));
        if (!status.path("ok").asBoolean(false)) {
            fail(status.path("error").asText(status.toString()), 1);
        }
        String ring = null;
        for (com.fasterxml.jackson.databind.JsonNode p : status.path("pfs")) {
            if (pfName == null || pfName.equals(p.path("name").asText())) {
                ring = p.path("monitor").path("ring").asText(null);
                break;
            }
        }
        if (ring == null) {
            fail("no PF " + (pfName == null ? "" : "'" + pfName + "' ") + "with a monitor ring", 1);
        }
        args.add("--ring");
        args.add(ring);
        io.vnicd.devmodel.monitor.CaptureCommand.main(args.toArray(new String[0]));
    }

    private static void fail(String message, int status) {
        System.err.println("vnicctl: " + message);
        System.exit(status);
    }
}
