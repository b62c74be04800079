package io.vnicd.tests.drill;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The host end of a guest's {@code tcp-send-many} job, started in the wire's namespace: listens on N ports from
 * PORT on, takes one connection on each, and prints {@code received PORT BYTES md5 HEX} as each one ends.
 * <pre>java io.vnicd.tests.drill.StreamReceiver PORT N</pre>
 */
public final class StreamReceiver {
    private StreamReceiver() {
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int n = Integer.parseInt(args[1]);
        List<ServerSocket> servers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(port + i));
            servers.add(s);
        }
        System.out.println("listening " + port + " " + n);
        System.out.flush();
        List<Thread> threads = new ArrayList<>();
        for (ServerSocket server : servers) {
            threads.add(Thread.ofPlatform().start(() -> receive(server)));
        }
        for (Thread t : threads) {
            t.join();
        }
    }

    private static void receive(ServerSocket server) {
        try (server; Socket s = server.accept(); InputStream in = s.getInputStream()) {
            MessageDigest md5 = MessageDigest.getInstance("MD5");
            byte[] buf = new byte[65536];
            long bytes = 0;
            int r;
            while ((r = in.read(buf)) > 0) {
                md5.update(buf, 0, r);
                bytes += r;
            }
            synchronized (StreamReceiver.class) {
                System.out.println("received " + server.getLocalPort() + " " + bytes + " md5 " + HexFormat.of().formatHex(md5.digest()));
                System.out.flush();
            }
        } catch (Exception e) {
            synchronized (StreamReceiver.class) {
                System.out.println("failed " + server.getLocalPort() + " " + e);
            }
        }
    }
}
