package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The control socket of a running daemon: status, rules and containment changed at run time. */
class ControlServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private JsonNode ask(Path socket, String request) throws Exception {
        return JSON.readTree(ControlClient.request(socket, request));
    }

    @Test
    void shouldChangeRulesAndContainmentWhileRunningAndRefuseBadOnesWithoutDisturbingThem() throws Exception {
        Path control = dir.resolve("control.sock");
        VnicdConfig config = new VnicdConfig(control.toString(), null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, null),
                new VnicdConfig.VfConfig("vf1", dir.resolve("vf1.sock").toString(), "server", 1, null)))));
        try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
            JsonNode ok = ask(control, """
                    {"command":"rules","pf":"pf0","rules":[
                      {"name":"web","table":"root","order":10,"match":{"proto":"tcp","dst-port":"80"},"action":"vf:vf1"},
                      {"name":"dns","table":"root","order":20,"match":{"proto":"udp","dst-port":"53"},"action":"monitor"}]}""");
            assertTrue(ok.path("ok").asBoolean(), ok.toString());
            JsonNode bad = ask(control, """
                    {"command":"rules","rules":[
                      {"name":"oops","table":"root","order":1,"match":{"src-ip":"300.1.2.3"},"action":"drop"}]}""");
            assertFalse(bad.path("ok").asBoolean());
            assertTrue(bad.path("error").asText().contains("oops"), bad.toString());
            JsonNode status = ask(control, "{\"command\":\"status\"}");
            List<String> rules = status.findValues("rule").stream().map(JsonNode::asText).toList();
            assertTrue(rules.containsAll(List.of("web", "dns")), "the rules in force stayed: " + status);

            JsonNode contained = ask(control, """
                    {"command":"contain","attacks":[{"name":"flood","srcIp":"198.51.100.0/24","protocol":"udp"}]}""");
            assertTrue(contained.path("ok").asBoolean(), contained.toString());
            assertEquals(1, vnicd.physicalFunction("pf0").dos().attacks().size());
            JsonNode badAttack = ask(control, "{\"command\":\"contain\",\"attacks\":[{\"name\":\"x\",\"srcIp\":\"nope\"}]}");
            assertFalse(badAttack.path("ok").asBoolean(), badAttack.toString());
            assertEquals(1, vnicd.physicalFunction("pf0").dos().attacks().size(), "the containment in force stayed");

            assertFalse(ask(control, "{\"command\":\"reboot\"}").path("ok").asBoolean());
            assertFalse(ask(control, "not json").path("ok").asBoolean());
            assertFalse(ask(control, "{\"command\":\"rules\",\"pf\":\"pf9\",\"rules\":[]}").path("ok").asBoolean());
            assertTrue(ask(control, "{\"command\":\"status\"}").path("ok").asBoolean(), "the daemon still answers");
        }
    }
}
