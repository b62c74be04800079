package io.vnicd.nativeio;

import org.junit.jupiter.api.Test;

import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The batching UDP socket on loopback: datagrams the kernel dropped for a full receive buffer are counted. */
class UdpSocketTest {
    private static final int LOOPBACK = 0x7f00_0001;

    private static int freePort() throws Exception {
        try (DatagramSocket s = new DatagramSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static long drain(UdpSocket socket) {
        long n = 0;
        int got;
        while ((got = socket.receive((segment, offset, length, ip, port) -> true, 64)) > 0) {
            n += got;
        }
        return n;
    }

    @Test
    void shouldCountDatagramsTheKernelDroppedForAFullReceiveBuffer() throws Exception {
        int port = freePort();
        try (UdpSocket socket = UdpSocket.bind(LOOPBACK, port, 32, 2048);
             DatagramChannel sender = DatagramChannel.open()) {
            InetSocketAddress to = new InetSocketAddress("127.0.0.1", port);
            ByteBuffer datagram = ByteBuffer.allocate(64);
            // far more than the 4 MiB receive buffer holds, none read meanwhile
            int sent = 60_000;
            for (int i = 0; i < sent; i++) {
                datagram.clear();
                datagram.putInt(0, i);
                sender.send(datagram, to);
            }
            long received = drain(socket);
            // the drops are reported by the datagrams that arrive after them: one more
            datagram.clear();
            sender.send(datagram, to);
            received += drain(socket);
            long overflows = socket.rxOverflows();
            assertTrue(received < sent, "the buffer overflowed: " + received + " of " + sent + " read");
            assertTrue(overflows > 0, "the kernel's drops are counted");
            assertEquals(sent + 1, received + overflows, "every datagram sent was read or counted as dropped");
            assertEquals(received, socket.rxDatagrams());
        }
    }
}
