package io.vnicd.vmm.daemon;

import io.vnicd.testkit.Peers;
import io.vnicd.virtio.testing.TestGuest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code /metrics}: a daemon with {@code http} configured serves Prometheus's text format; its counters move with
 * the traffic two VFs exchange, and {@code promtool check metrics} finds nothing wrong with it.
 */
class MetricsEndpointTest {
    private static final long MAC0 = 0x5254_0000_0a01L;
    private static final long MAC1 = 0x5254_0000_0a02L;

    @TempDir
    Path dir;

    private static String scrape(int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return r.body();
    }

    private static double sample(String text, String name, String vf) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\{[^}]*vf=\"" + vf + "\"[^}]*\\} (\\S+)$").matcher(text);
        assertTrue(m.find(), () -> "no " + name + " for " + vf + " in:\n" + text);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void shouldServeCountersThatMoveWithTraffic() throws Exception {
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, null),
                new VnicdConfig.VfConfig("vf1", dir.resolve("vf1.sock").toString(), "server", 1, null))))).withHttp("127.0.0.1:0");
        try (Vnicd vnicd = new Vnicd(config.validate()).start();
             TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            int port = vnicd.metrics().port();
            String before = scrape(port);
            assertTrue(before.contains("# TYPE vnicd_queue_tx_frames_total counter"), before);
            assertEquals(1.0, sample(before, "vnicd_vf_connected", "vf0"));
            double sent0 = sample(before, "vnicd_queue_tx_frames_total", "vf0");

            g1.send(TestGuest.frame(MAC0, MAC1, 60, 0));
            assertNotNull(g0.receive(Duration.ofSeconds(5)));
            for (int i = 0; i < 100; i++) {
                g0.send(TestGuest.frame(MAC1, MAC0, 200, i));
                assertNotNull(g1.receive(Duration.ofSeconds(5)), "frame " + i);
            }
            vnicd.physicalFunction("pf0").installRules(List.of(), List.of(new io.vnicd.devmodel.classify.RuleSpec(
                    "web", "root", 10, java.util.Map.of("proto", "tcp"), "vf:vf1")));
            String after = scrape(port);
            assertTrue(after.contains("vnicd_rule_hits_total{pf=\"pf0\",rule=\"web\",table=\"root\"} 0"), after);
            assertEquals(sent0 + 100, sample(after, "vnicd_queue_tx_frames_total", "vf0"));
            assertTrue(sample(after, "vnicd_queue_rx_bytes_total", "vf1") >= 100 * 200);
            assertTrue(after.contains("vnicd_datapath_rounds_total{pf=\"pf0\"}"), after);
            assertTrue(after.contains("vnicd_table_misses_total{pf=\"pf0\",table=\"root\"}"), after);
            assertTrue(after.contains("vnicd_vf_tx_rate_limit_bytes_per_second{pf=\"pf0\",vf=\"vf0\"} 0"), after);

            Path promtool = Peers.executable("promtool", "apt-get install prometheus (promtool)");
            Path file = dir.resolve("metrics.txt");
            Files.writeString(file, after);
            Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true)
                    .redirectInput(file.toFile()).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), "promtool check metrics:\n" + out);
        }
    }
    @Test
    void shouldServeTheTopologyPageItsStatusAndItsEventStream() throws Exception {
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, null))))).withHttp("127.0.0.1:0");
        try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
            String base = "http://127.0.0.1:" + vnicd.metrics().port();
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, page.statusCode());
            assertTrue(page.body().contains("new EventSource(\"events\")"), "the page listens to the event stream");
            HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create(base + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(status.body().contains("\"name\":\"vf0\""), status.body());
            assertEquals(404, http.send(HttpRequest.newBuilder(URI.create(base + "/nothing")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(405, http.send(HttpRequest.newBuilder(URI.create(base + "/status"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());

            // every stream slot taken: the next page is told to come back, and scrapes still answer
            List<java.io.InputStream> streams = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) {
                    HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base + "/events")).build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    assertEquals(200, r.statusCode());
                    streams.add(r.body());
                }
                byte[] first = streams.getFirst().readNBytes(64);
                assertTrue(new String(first, StandardCharsets.UTF_8).contains("data: {"), new String(first, StandardCharsets.UTF_8));
                assertEquals(503, http.send(HttpRequest.newBuilder(URI.create(base + "/events")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode());
                assertTrue(scrape(vnicd.metrics().port()).contains("vnicd_vf_connected"));
            } finally {
                for (java.io.InputStream in : streams) {
                    in.close();
                }
            }
        }
    }
}
