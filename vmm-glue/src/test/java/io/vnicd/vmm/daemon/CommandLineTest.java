package io.vnicd.vmm.daemon;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandLineTest {
    @TempDir
    Path dir;

    @Test
    void shouldStartTheDefaultConfigurationWithoutArguments() throws Exception {
        VnicdConfig c = CommandLine.parse();
        assertEquals("pf0", c.physicalFunctions().getFirst().name());
        assertEquals(2, c.physicalFunctions().getFirst().virtualFunctions().size());
        assertEquals("/tmp/vnicd/vf0.sock", c.physicalFunctions().getFirst().virtualFunctions().get(0).socket());
        assertEquals("/tmp/vnicd/control.sock", c.controlSocket());
    }

    @Test
    void shouldBuildOnePfFromRepeatedVfArguments() throws Exception {
        VnicdConfig c = CommandLine.parse("--vf", "a=/tmp/a.sock", "--vf", "b=/tmp/b.sock", "--client", "--queues", "2");
        var vfs = c.physicalFunctions().getFirst().virtualFunctions();
        assertEquals(2, vfs.size());
        assertEquals("b", vfs.get(1).name());
        assertTrue(vfs.get(1).clientMode());
        assertEquals(2, vfs.get(0).queuePairsOrDefault());
    }

    @Test
    void shouldServeMetricsWhereHttpSays() throws Exception {
        assertEquals("127.0.0.1:9477", CommandLine.parse("--vf", "a=/tmp/a.sock", "--http", "127.0.0.1:9477").http());
        assertEquals("[::1]:9477", CommandLine.parse("--http", "[::1]:9477").http(), "with the default PF too");
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--http", "9477")).getMessage().contains("http"));
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--http", "h:70000")).getMessage().contains("70000"));
    }

    @Test
    void shouldExplainWhatIsWrongWithArguments() throws ConfigException {
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--vf", "nosocket")).getMessage().contains("NAME=SOCKET"));
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--bogus")).getMessage().contains("--bogus"));
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--vf")).getMessage().contains("needs a value"));
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--vf", "a=/x", "--queues", "9"))
                .getMessage().contains("queuePairs 9"));
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--vf", "a=/x", "--vf", "a=/y"))
                .getMessage().contains("used twice"));
        assertNull(assertThrowsNothing());
    }

    private static VnicdConfig assertThrowsNothing() throws ConfigException {
        return CommandLine.parse("--help");
    }

    @Test
    void shouldReadAConfigurationFile() throws Exception {
        Path f = dir.resolve("vnicd.json");
        Files.writeString(f, """
                {"controlSocket": "/tmp/x/control.sock",
                 "physicalFunctions": [{"name": "pf0", "virtualFunctions": [
                    {"name": "vf0", "socket": "/tmp/x/vf0.sock", "mac": "52:54:00:00:00:01"},
                    {"name": "vf1", "socket": "/tmp/x/vf1.sock", "mode": "client", "queuePairs": 4}]}]}
                """);
        VnicdConfig c = CommandLine.parse("--config", f.toString());
        assertEquals("52:54:00:00:00:01", c.physicalFunctions().getFirst().virtualFunctions().getFirst().mac());
        assertEquals(4, c.physicalFunctions().getFirst().virtualFunctions().get(1).queuePairsOrDefault());
    }

    @Test
    void shouldNameEveryProblemOfABadConfigurationFile() throws Exception {
        Path f = dir.resolve("bad.json");
        Files.writeString(f, """
                {"physicalFunctions": [{"name": "pf 0", "virtualFunctions": [
                    {"name": "vf0", "socket": "/tmp/x/vf0.sock", "mac": "01:00:5e:00:00:01", "mode": "both"},
                    {"name": "vf1", "socket": "/tmp/x/vf0.sock", "queuePairs": 0}]}]}
                """);
        String m = assertThrows(ConfigException.class, () -> CommandLine.parse("--config", f.toString())).getMessage();
        assertTrue(m.contains("name 'pf 0'"), m);
        assertTrue(m.contains("multicast"), m);
        assertTrue(m.contains("mode 'both'"), m);
        assertTrue(m.contains("used twice"), m);
        assertTrue(m.contains("queuePairs 0"), m);
    }

    @Test
    void shouldTakeTheUplinkTransportFromTheCommandLineAndTheFile() throws Exception {
        VnicdConfig.PfConfig pf0 = CommandLine.parse("--vf", "a=/tmp/a.sock", "--uplink", "eth1", "--uplink-transport", "af_xdp")
                .physicalFunctions().getFirst();
        assertEquals("af_xdp", pf0.uplinkTransport());
        assertEquals(List.of("eth1"), pf0.uplinksOrEmpty());
        assertEquals("af_packet", CommandLine.parse("--vf", "a=/tmp/a.sock", "--uplink", "eth1")
                .physicalFunctions().getFirst().uplinkTransportOrDefault(), "the default");
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--vf", "a=/x", "--uplink-transport", "auto"))
                .getMessage().contains("apply to uplinks given with --uplink"));
        String m = assertThrows(ConfigException.class,
                () -> CommandLine.parse("--vf", "a=/x", "--uplink", "eth1", "--uplink-transport", "dpdk")).getMessage();
        assertTrue(m.contains("uplinkTransport 'dpdk' is not an uplink transport (af_packet, af_xdp, auto)"), m);

        Path f = dir.resolve("xdp.json");
        Files.writeString(f, """
                {"physicalFunctions": [
                   {"name": "pf0", "virtualFunctions": [{"name": "vf0", "socket": "/tmp/x/vf0.sock"}],
                    "uplinks": ["eth1"], "aggregation": {"policy": "active-backup"}, "uplinkTransport": "auto"},
                   {"name": "pf1", "virtualFunctions": [{"name": "vf1", "socket": "/tmp/x/vf1.sock"}],
                    "uplinkTransport": "af_xdp"},
                   {"name": "pf2", "virtualFunctions": [{"name": "vf2", "socket": "/tmp/x/vf2.sock"}],
                    "uplinks": ["eth2"], "uplinkTransport": "xdp"}]}
                """);
        String bad = assertThrows(ConfigException.class, () -> CommandLine.parse("--config", f.toString())).getMessage();
        assertTrue(bad.contains("(pf1): uplinkTransport is set but the PF has no uplinks"), bad);
        assertTrue(bad.contains("(pf2): uplinkTransport 'xdp' is not an uplink transport"), bad);
        assertFalse(bad.contains("(pf0)"), bad);
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.parse("--config", f.toString(),
                "--uplink-transport", "auto")).getMessage().contains("--uplink-transport"));
    }

    @Test
    void shouldTakeWhoMayUseTheSocketsFromTheFileAndLetTheCommandLineOverrideIt() throws Exception {
        Path f = dir.resolve("groups.json");
        Files.writeString(f, """
                {"socketGroup": "kvm", "controlGroup": "adm", "physicalFunctions": [{"name": "pf0", "virtualFunctions": [
                    {"name": "vf0", "socket": "/tmp/x/vf0.sock"},
                    {"name": "vf1", "socket": "/tmp/y/vf1.sock", "socketGroup": "qemu", "socketMode": "0640"}]}]}
                """);
        VnicdConfig c = CommandLine.parse("--config", f.toString());
        List<VnicdConfig.VfConfig> vfs = c.physicalFunctions().getFirst().virtualFunctions();
        assertEquals("kvm", c.socketGroupOf(vfs.get(0)));
        assertEquals("0660", c.socketModeOf(vfs.get(0)), "a socket with a group is for its members");
        assertEquals("qemu", c.socketGroupOf(vfs.get(1)));
        assertEquals("0640", c.socketModeOf(vfs.get(1)));
        assertEquals("0660", c.controlModeOrDefault());

        VnicdConfig o = CommandLine.parse("--config", f.toString(), "--socket-group", "libvirt-qemu", "--socket-mode", "0600");
        assertEquals("libvirt-qemu", o.socketGroupOf(o.physicalFunctions().getFirst().virtualFunctions().get(0)));
        assertEquals("0600", o.socketModeOf(o.physicalFunctions().getFirst().virtualFunctions().get(0)));
        assertEquals("adm", o.controlGroup());
        assertEquals("/tmp/vnicd/control.sock", o.controlSocket());

        VnicdConfig plain = CommandLine.parse("--vf", "a=/tmp/vn/a.sock");
        assertEquals("0600", plain.socketModeOf(plain.physicalFunctions().getFirst().virtualFunctions().getFirst()));
        assertEquals("0600", plain.controlModeOrDefault());
    }

    @Test
    void shouldRefuseSocketModesForOtherUsersAndMalformedGroups() {
        String m = assertThrows(ConfigException.class, () -> CommandLine.parse("--vf", "a=/tmp/vn/a.sock",
                "--socket-mode", "0666", "--socket-group", "no such", "--control-group", "x:y")).getMessage();
        assertTrue(m.contains("socketMode '0666' must be octal like \"0660\", for the owner and group only"), m);
        assertTrue(m.contains("socketGroup 'no such' is not a group name or number"), m);
        assertTrue(m.contains("controlGroup 'x:y' is not a group name or number"), m);
        assertThrows(ConfigException.class, () -> CommandLine.parse("--vf", "a=/tmp/vn/a.sock", "--socket-mode", "rw"));
    }

    @Test
    void shouldPointAtTheLineOfAnUnknownField() throws Exception {
        Path f = dir.resolve("typo.json");
        Files.writeString(f, "{\n \"physicalFunction\": []\n}\n");
        String m = assertThrows(ConfigException.class, () -> CommandLine.parse("--config", f.toString())).getMessage();
        assertTrue(m.contains("physicalFunction") && m.contains("line 2"), m);
    }

    @Test
    void shouldRefuseMissingFilesClearly() {
        String m = assertThrows(ConfigException.class, () -> CommandLine.parse("--config", "/nonexistent/v.json")).getMessage();
        assertTrue(m.contains("/nonexistent/v.json"), m);
    }

    @Test
    void shouldNameBadPlacementSettings() throws Exception {
        Path f = dir.resolve("numa.json");
        Files.writeString(f, """
                { "physicalFunctions": [ { "name": "pf0",
                    "virtualFunctions": [ { "name": "vf0", "socket": "/tmp/x.sock", "rxQuotaBytes": -1 } ],
                    "numa": { "topology": "zero:0-3", "allocPolicy": "NEAREST", "nicNode": 99 } } ] }
                """);
        String m = assertThrows(ConfigException.class, () -> CommandLine.parse("--config", f.toString())).getMessage();
        assertTrue(m.contains("NEAREST") && m.contains("numa.topology 'zero:0-3'") && m.contains("nicNode 99")
                && m.contains("rxQuotaBytes -1"), m);
    }

    /** The configuration example in the README is what users copy: it must be valid. */
    @Test
    void shouldAcceptTheReadmeExample() throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("user.dir")).getParent().resolve("README.md"));
        int start = readme.indexOf("```json") + "```json".length();
        Path f = dir.resolve("readme.json");
        Files.writeString(f, readme.substring(start, readme.indexOf("```", start)));
        VnicdConfig c = CommandLine.parse("--config", f.toString());
        assertEquals(3, c.physicalFunctions().getFirst().rulesOrEmpty().size());
        assertEquals(1, c.physicalFunctions().getFirst().dos().attacksOrEmpty().size());
    }
}
