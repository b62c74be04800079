package io.vnicd.tests.monitor;

import io.vnicd.testkit.Peers;

import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.tests.peers.Testpmd;
import io.vnicd.vmm.daemon.CommandLine;
import io.vnicd.vmm.daemon.Vnicd;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A daemon configured with a monitor rule switches testpmd's traffic while {@code scripts/vnicctl capture}, a
 * separate process, reads the PF's monitor ring and writes a pcap that tshark parses.
 */
@Tag("slow")
class CaptureTest {
    @TempDir
    Path dir;

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @Test
    void shouldCaptureMonitoredFramesIntoAPcapThatTsharkReads() throws Exception {
        Path config = dir.resolve("vnicd.json");
        Files.writeString(config, """
                {
                  "controlSocket": "%1$s/control.sock",
                  "physicalFunctions": [
                    { "name": "pfcap",
                      "virtualFunctions": [
                        { "name": "vf0", "socket": "%1$s/vf0.sock" },
                        { "name": "vf1", "socket": "%1$s/vf1.sock" } ],
                      "rules": [
                        { "name": "udp-copy", "table": "root", "order": 10, "match": { "proto": "udp" }, "action": "monitor" } ] } ]
                }
                """.formatted(dir));
        try (Vnicd vnicd = new Vnicd(CommandLine.read(config).validate()).start();
             Testpmd testpmd = Testpmd.frontend("vnicd-it-capture", List.of(dir.resolve("vf0.sock"), dir.resolve("vf1.sock")),
                     1, false, dir.resolve("testpmd.log"))) {
            Path pcap = dir.resolve("out.pcap");
            Process capture = new ProcessBuilder(ROOT.resolve("scripts/vnicctl").toString(), "--control",
                    dir.resolve("control.sock").toString(), "capture", "--out", pcap.toString(), "--count", "20",
                    "--timeout", "60").redirectErrorStream(true).redirectOutput(dir.resolve("capture.log").toFile()).start();
            Thread.sleep(1500);
            testpmd.command("start tx_first 1");
            assertTrue(capture.waitFor(90, TimeUnit.SECONDS), "capture finished");
            assertEquals(0, capture.exitValue(), Files.readString(dir.resolve("capture.log")));
            Process tshark = new ProcessBuilder(Peers.executable("tshark", "apt-get install tshark").toString(), "-r", pcap.toString(), "-T", "fields", "-e", "ip.src", "-e", "udp.dstport")
                    .redirectErrorStream(true).start();
            String out = new String(tshark.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(tshark.waitFor(60, TimeUnit.SECONDS));
            List<String> lines = out.lines().filter(l -> l.contains("\t")).toList();
            assertEquals(20, lines.size(), out);
            assertTrue(lines.stream().allMatch(l -> l.startsWith("198.18.0.") && l.endsWith("\t9")),
                    "testpmd's UDP frames (198.18.0.x, port 9): " + out);
            PhysicalFunction pf = vnicd.physicalFunction("pfcap");
            assertTrue(pf.ruleMonitored() >= 20);
            assertTrue(pf.virtualFunctions().get(1).device().queuePair(0).rxFrames() >= 20,
                    "the monitored frames were switched as well");
        }
    }

    @Test
    void shouldRefuseToStartWithABadRuleNamingIt() throws Exception {
        Path config = dir.resolve("bad.json");
        Files.writeString(config, """
                { "physicalFunctions": [ { "name": "pfbad",
                    "virtualFunctions": [ { "name": "vf0", "socket": "%1$s/vf0.sock" } ],
                    "rules": [ { "name": "too-wide", "table": "root", "order": 1, "match": { "dst-ip": "10.0.0.0/40" }, "action": "drop" } ] } ] }
                """.formatted(dir));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Vnicd(CommandLine.read(config).validate()).start());
        assertTrue(e.getMessage().contains("too-wide"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("vf0.sock")), "nothing was left listening");
    }
}
