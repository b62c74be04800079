package io.vnicd.vmm.daemon;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing (Jazzer) of what a user or local process hands the daemon as text: the JSON
 * configuration (read and validated as {@code --config} does) and the control socket's request lines (answered
 * by a {@link ControlServer} of a small running daemon, one PF and one VF, without its socket: the answer is
 * computed as for a line read from it). The first byte picks which; the rest is the text.
 *
 * <p>Invariants: a bad configuration is refused with a {@link ConfigException} and nothing else; every request
 * gets an {@code {"ok":...}} answer and none is an internal error (an exception the handler did not expect).
 */
class ConfigControlFuzzTest {
    private static final Path DIR = tempDir();
    private static final Vnicd DAEMON = daemon();
    private static final ControlServer CONTROL = new ControlServer(DIR.resolve("control.sock"), DAEMON,
            ControlServer.Limits.DEFAULT, null, java.util.Set.of());

    private static Path tempDir() {
        try {
            return Files.createTempDirectory("vnicd-fuzz-control");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Vnicd daemon() {
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", DIR.resolve("vf0.sock").toString(), "server", 1, null)))));
        try {
            return new Vnicd(config.validate()).start();
        } catch (ConfigException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void release() throws IOException {
        DAEMON.close();
        try (Stream<Path> files = Files.walk(DIR)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @FuzzTest(maxDuration = "30s")
    @DictionaryEntries({"\"physicalFunctions\"", "\"virtualFunctions\"", "\"controlSocket\"", "\"reconnectMillis\"",
        "\"name\"", "\"socket\"", "\"mode\"", "\"queuePairs\"", "\"mac\"", "\"vlan\"", "\"rxQuotaBytes\"", "\"tables\"",
        "\"rules\"", "\"numa\"", "\"topology\"", "\"nicNode\"", "\"allocPolicy\"", "\"dos\"", "\"standbyFramesPerSecond\"",
        "\"attacks\"", "\"srcIp\"", "\"dstIp\"", "\"protocol\"", "\"srcPort\"", "\"dstPort\"", "\"framesPerInterval\"",
        "\"command\"", "\"status\"", "\"contain\"", "\"pf\"", "\"pf0\"", "\"vf:vf0\"", "\"table\"", "\"order\"",
        "\"match\"", "\"action\"", "\"miss\"", "\"root\"", "\"dst-ip\"", "\"src-ip\"", "\"proto\"", "\"dst-port\"",
        "\"src-port\"", "\"dst-mac\"", "\"src-mac\"", "\"ethertype\"", "\"monitor\"", "\"monitor-only\"", "\"drop\"",
        "\"switch\"", "\"table:\"", "\"client\"", "\"server\"", "\"LOCAL_TO_SENDER\"", "\"INTERLEAVE\"", "\"10.0.0.0/8\"",
        "\"2001:db8::/32\"", "\"52:54:00:00:00:01\"", "\"0:0-3;1:4-7\""})
    void configAndControlRequests(byte[] input) {
        if (input.length == 0) {
            return;
        }
        String text = new String(input, 1, input.length - 1, StandardCharsets.UTF_8);
        if ((input[0] & 1) == 0) {
            try {
                VnicdConfig valid = CommandLine.read(text, "fuzz.json").validate();
                assertNotNull(valid);
            } catch (ConfigException refused) {
                assertNotNull(refused.getMessage());
            }
        } else {
            // Lines as the control socket's reader splits them.
            for (String line : text.split("\\R", 8)) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode answer = CONTROL.answer(line);
                assertTrue(answer.path("ok").isBoolean(), () -> "no ok field in " + answer);
                assertFalse(answer.path("error").asText("").startsWith("internal error"), () -> line + " -> " + answer);
            }
        }
    }
}
