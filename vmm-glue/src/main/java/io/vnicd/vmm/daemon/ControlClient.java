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
 * The control socket's client side: one JSON request line, one answer line. {@code vnicctl} ({@link Vnicctl}) is
 * built on it.
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

    /** {@code vnicctl}: see {@link Vnicctl}. */
    public static void main(String[] args) {
        Vnicctl.main(args);
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
}
