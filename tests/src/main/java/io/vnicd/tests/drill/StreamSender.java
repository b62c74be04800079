package io.vnicd.tests.drill;

import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * The far end of a drill's TCP stream, started by the drill inside the wire's network namespace
 * ({@code ip netns exec}): connects to a guest's {@code tcp-recv} job (retrying while it is refused), sends
 * BYTES of a numbered pattern paced over SECONDS, and prints {@code sent BYTES md5 HEX}, which the drill compares
 * with the md5 the guest computed of what arrived.
 * <pre>java io.vnicd.tests.drill.StreamSender IP PORT BYTES SECONDS</pre>
 */
public final class StreamSender {
    private static final int CHUNK = 16 * 1024;

    private StreamSender() {
    }

    public static void main(String[] args) throws Exception {
        String ip = args[0];
        int port = Integer.parseInt(args[1]);
        long bytes = Long.parseLong(args[2]);
        double seconds = Double.parseDouble(args[3]);
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        try (Socket s = connect(ip, port)) {
            OutputStream out = s.getOutputStream();
            byte[] chunk = new byte[CHUNK];
            long start = System.nanoTime();
            long sent = 0;
            long line = 0;
            while (sent < bytes) {
                int n = (int) Math.min(CHUNK, bytes - sent);
                line = fill(chunk, n, line);
                out.write(chunk, 0, n);
                md5.update(chunk, 0, n);
                sent += n;
                // pace: sent bytes by now, at bytes / seconds
                long due = start + (long) (sent / (bytes / seconds) * 1e9);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
            }
            out.flush();
            s.shutdownOutput();
            // wait for the receiver to close: everything was read
            s.getInputStream().read();
        }
        System.out.println("sent " + bytes + " md5 " + HexFormat.of().formatHex(md5.digest()));
    }

    /** Fills n bytes with numbered lines, continuing from line; returns the next line number. */
    private static long fill(byte[] chunk, int n, long line) {
        int at = 0;
        while (at < n) {
            byte[] text = String.format("vnicd drill stream line %012d\n", line++).getBytes(StandardCharsets.US_ASCII);
            int k = Math.min(text.length, n - at);
            System.arraycopy(text, 0, chunk, at, k);
            at += k;
            if (k < text.length) {
                // a line cut by the chunk's end starts again in the next chunk: still deterministic
                line--;
            }
        }
        return line;
    }

    private static Socket connect(String ip, int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(ip, port), 2000);
                s.setTcpNoDelay(true);
                return s;
            } catch (ConnectException e) {
                s.close();
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }
}
