package io.vnicd.vmm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A stand-in for QEMU's QMP socket: sends the greeting, answers {@code qmp_capabilities}, and hands every other
 * request to a script that writes whatever lines it likes (answers, events) or closes the connection.
 */
final class ScriptedQmpServer implements AutoCloseable {
    static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
            + "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}";

    /** What the server does with one request. */
    interface Script {
        void handle(JsonNode request, ScriptedQmpServer server) throws IOException;
    }

    private final ObjectMapper mapper = new ObjectMapper();
    private final ServerSocketChannel listener;
    private final Thread thread;
    private volatile SocketChannel connection;

    ScriptedQmpServer(Path socket, boolean greet, Script script) throws IOException {
        listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(socket));
        thread = Thread.ofPlatform().daemon().name("scripted-qmp").start(() -> serve(greet, script));
    }

    private void serve(boolean greet, Script script) {
        try (SocketChannel c = listener.accept()) {
            connection = c;
            if (greet) {
                send(GREETING);
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                JsonNode request = mapper.readTree(line);
                if (request.path("execute").asText().equals("qmp_capabilities")) {
                    answer(request, "{}");
                } else {
                    script.handle(request, this);
                }
            }
        } catch (IOException e) {
            // The test closed the connection or the client went away: the conversation is over.
        }
    }

    /** Writes one line to the client. */
    void send(String json) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((json + "\r\n").getBytes(StandardCharsets.UTF_8));
        synchronized (this) {
            while (b.hasRemaining()) {
                connection.write(b);
            }
        }
    }

    /** Answers request with a return value (JSON text). */
    void answer(JsonNode request, String returnJson) throws IOException {
        send("{\"return\": " + returnJson + ", \"id\": " + request.get("id") + "}");
    }

    /** Answers request with an error. */
    void error(JsonNode request, String errorClass, String desc) throws IOException {
        send("{\"error\": {\"class\": \"" + errorClass + "\", \"desc\": \"" + desc + "\"}, \"id\": " + request.get("id") + "}");
    }

    /** Sends an event. */
    void event(String name, String dataJson) throws IOException {
        send("{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": \"" + name + "\", \"data\": " + dataJson + "}");
    }

    /** Drops the connection, as QEMU does when it dies. */
    void hangUp() throws IOException {
        connection.close();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        SocketChannel c = connection;
        if (c != null) {
            c.close();
        }
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
