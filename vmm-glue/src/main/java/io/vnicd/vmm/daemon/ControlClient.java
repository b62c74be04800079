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
    public static String request(Path socket, String jsonLine) throws IOException {
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

    public static void main(String[] args) {
        Path socket = Path.of(VnicdConfig.DEFAULT_DIR, "control.sock");
        int i = 0;
        if (args.length >= 2 && args[0].equals("--control")) {
            socket = Path.of(args[1]);
            i = 2;
        }
        if (i >= args.length) {
            System.err.println("usage: vnicctl [--control PATH] status | raw JSON");
            System.exit(2);
        }
        String cmd = args[i];
        String line = cmd.startsWith("{") ? cmd : "{\"command\":\"" + cmd + "\"}";
        try {
            System.out.println(request(socket, line));
        } catch (IOException e) {
            System.err.println("vnicctl: cannot reach vnicd at " + socket + ": " + e.getMessage());
            System.exit(1);
        }
    }
}
