package io.vnicd.devmodel.monitor;

import io.vnicd.testkit.Peers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The capture path end to end: data path → monitor ring → capture reader → pcap → the real tshark. */
class CaptureCommandTest {
    private static final Path TSHARK = Path.of("/usr/bin/tshark");
    private final Path ringPath = MonitorRing.pathFor("capture-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime());

    @TempDir
    Path dir;

    @AfterEach
    void removeRing() throws IOException {
        Files.deleteIfExists(ringPath);
    }

    @Test
    void shouldWriteCapturedFramesAsPcapThatTsharkReads() throws Exception {
        Path pcap = dir.resolve("out.pcap");
        try (MonitorRing ring = MonitorRing.create(ringPath, 64, 256)) {
            offer(ring, TestFrames.arpRequest());
            offer(ring, TestFrames.udp(60));
            offer(ring, TestFrames.udp(1500));
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = CaptureCommand.run(new String[] {"--ring", ringPath.toString(), "--out", pcap.toString(),
                    "--count", "3", "--timeout", "30"}, new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(0, status, err.toString(StandardCharsets.UTF_8));
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("3 frames written"), err.toString(StandardCharsets.UTF_8));
        }
        assertTsharkSeesTheTestFrames(pcap);
    }

    @Test
    void shouldCaptureFromAReaderInAnotherProcess() throws Exception {
        Path pcap = dir.resolve("other-process.pcap");
        Path log = dir.resolve("capture.log");
        try (MonitorRing ring = MonitorRing.create(ringPath, 64, 256)) {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process reader = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), CaptureCommand.class.getName(),
                    "--ring", ringPath.toString(), "--out", pcap.toString(), "--count", "3", "--timeout", "60")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                offer(ring, TestFrames.arpRequest());
                // The other process takes the first frame out of shared memory while this one keeps running.
                while (ring.consumed() < 1) {
                    assertTrue(reader.isAlive(), () -> "capture process ended early: " + readQuietly(log));
                    Thread.sleep(5);
                }
                offer(ring, TestFrames.udp(60));
                offer(ring, TestFrames.udp(1500));
                assertTrue(reader.waitFor(60, TimeUnit.SECONDS), "capture process finished");
                assertEquals(0, reader.exitValue(), readQuietly(log));
                assertEquals(3, ring.consumed());
            } finally {
                reader.destroyForcibly();
            }
        }
        assertTrue(readQuietly(log).contains("3 frames written"), readQuietly(log));
        assertTsharkSeesTheTestFrames(pcap);
    }

    @Test
    void shouldExplainBadArguments() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, CaptureCommand.run(new String[] {"--ring", "/dev/shm/x"}, new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("usage: capture"));
    }

    private static void offer(MonitorRing ring, byte[] frame) {
        assertTrue(ring.offer(MemorySegment.ofArray(frame), 0, frame.length));
    }

    private static void assertTsharkSeesTheTestFrames(Path pcap) throws Exception {
        Peers.executable(TSHARK.toString(), "tshark reads the pcap: apt-get install tshark");
        Process tshark = new ProcessBuilder(TSHARK.toString(), "-r", pcap.toString(), "-T", "fields", "-E", "separator=,",
                "-e", "eth.src", "-e", "eth.type", "-e", "ip.dst", "-e", "arp.dst.proto_ipv4", "-e", "udp.dstport",
                "-e", "udp.payload", "-e", "frame.len", "-e", "frame.cap_len")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String output = new String(tshark.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(tshark.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, tshark.exitValue(), output);
        List<String> lines = new ArrayList<>(output.lines().toList());
        assertEquals(3, lines.size(), output);
        String payloadHex = HexFormat.of().formatHex(TestFrames.PAYLOAD.getBytes(StandardCharsets.US_ASCII));
        assertEquals(TestFrames.SRC_MAC + ",0x0806,," + TestFrames.DST_IP + ",,,60,60", lines.get(0));
        assertEquals(TestFrames.SRC_MAC + ",0x0800," + TestFrames.DST_IP + ",," + TestFrames.UDP_PORT + "," + payloadHex + ",60,60", lines.get(1));
        String big = lines.get(2);
        assertTrue(big.startsWith(TestFrames.SRC_MAC + ",0x0800," + TestFrames.DST_IP + ",," + TestFrames.UDP_PORT + ","), big);
        assertTrue(big.endsWith(",1500,256"), "original length kept, captured cut at the snap length: " + big);
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
