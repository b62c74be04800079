package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;

/**
 * The live topology page on the metrics listener: {@code /} the page (PFs, uplinks with each NIC's state, VFs with
 * their frontends and rates, proxies, tunnels, flows, the router, and an event list), {@code /status} the status
 * JSON, {@code /events} the status pushed twice a second as server-sent events (at most {@link #STREAMS} at once; a
 * page that finds none free retries, as EventSource does).
 */
final class TopologyPage implements HttpHandler {
    static final int STREAMS = 8;
    private static final long PERIOD_MILLIS = 500;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Vnicd vnicd;
    private final byte[] page;
    private final Semaphore streams = new Semaphore(STREAMS);

    TopologyPage(Vnicd vnicd) {
        this.vnicd = vnicd;
        try (InputStream in = TopologyPage.class.getResourceAsStream("topology.html")) {
            if (in == null) {
                throw new IllegalStateException("topology.html is missing from the class path");
            }
            page = in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read topology.html: " + e.getMessage(), e);
        }
    }

    @Override
    public void handle(HttpExchange x) throws IOException {
        try (x) {
            if (!x.getRequestMethod().equals("GET") && !x.getRequestMethod().equals("HEAD")) {
                send(x, 405, "text/plain", "GET only\n".getBytes(StandardCharsets.UTF_8));
                return;
            }
            switch (x.getRequestURI().getPath()) {
                case "/", "/index.html" -> send(x, 200, "text/html; charset=utf-8", page);
                case "/status" -> send(x, 200, "application/json", status());
                case "/events" -> stream(x);
                default -> send(x, 404, "text/plain", "not found; see / and /metrics\n".getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private byte[] status() throws IOException {
        return JSON.writeValueAsBytes(StatusReport.of(vnicd));
    }

    private static void send(HttpExchange x, int code, String type, byte[] body) throws IOException {
        x.getResponseHeaders().set("Content-Type", type);
        x.getResponseHeaders().set("Cache-Control", "no-store");
        x.sendResponseHeaders(code, x.getRequestMethod().equals("HEAD") ? -1 : body.length);
        if (!x.getRequestMethod().equals("HEAD")) {
            try (OutputStream out = x.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** Server-sent events: the status every half second until the page goes away. */
    private void stream(HttpExchange x) throws IOException {
        if (!streams.tryAcquire()) {
            x.getResponseHeaders().set("Retry-After", "2");
            send(x, 503, "text/plain", ("at most " + STREAMS + " live pages at once\n").getBytes(StandardCharsets.UTF_8));
            return;
        }
        try {
            x.getResponseHeaders().set("Content-Type", "text/event-stream");
            x.getResponseHeaders().set("Cache-Control", "no-store");
            x.sendResponseHeaders(200, 0);
            OutputStream out = x.getResponseBody();
            out.write("retry: 1000\n\n".getBytes(StandardCharsets.UTF_8));
            while (true) {
                out.write(("data: " + new String(status(), StandardCharsets.UTF_8) + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                Thread.sleep(PERIOD_MILLIS);
            }
        } catch (IOException gone) {
            // the page was closed: the stream ends
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            streams.release();
        }
    }
}
