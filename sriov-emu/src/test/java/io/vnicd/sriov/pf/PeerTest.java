package io.vnicd.sriov.pf;

import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.proxy.ChannelLayout;
import io.vnicd.nativeio.LibC;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.nativeio.UnixSocket;
import io.vnicd.sriov.peer.ProxyCounter;
import io.vnicd.sriov.peer.ProxyPort;
import io.vnicd.virtio.testing.TestGuest;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two PFs joined through one peer socket, as two daemons on one host would be (here in one process, each with
 * its own data path): their VFs reach each other through proxy ports and the shared-memory channel; a peer that
 * goes is noticed at once and one that comes back is taken again; a peer that writes garbage into the channel is
 * cut off while the other's own VFs keep switching.
 */
class PeerTest {
    private static final long MAC_A0 = 0x02_00_00_00_0a_01L;
    private static final long MAC_A1 = 0x02_00_00_00_0a_02L;
    private static final long MAC_B0 = 0x02_00_00_00_0b_01L;
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private PhysicalFunction pf(String name, long... macs) throws Exception {
        PhysicalFunction pf = new PhysicalFunction(name);
        for (int i = 0; i < macs.length; i++) {
            pf.addVirtualFunction("vf" + i, dir.resolve(name + "-vf" + i + ".sock"), VhostUserEndpoint.Mode.SERVER, 1,
                    macs[i], Duration.ofMillis(100));
        }
        pf.addPeer(dir.resolve("peers/peer.sock"));
        pf.start();
        open.add(pf);
        return pf;
    }

    private TestGuest guest(String socket) throws Exception {
        TestGuest g = TestGuest.connect(dir.resolve(socket));
        open.add(g);
        return g;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(10);
        }
    }

    private static ProxyPort proxy(PhysicalFunction pf) {
        return pf.proxies().isEmpty() ? null : pf.proxies().getFirst();
    }

    /** Until pf's proxy is up and maps the peer's address mac (its announcements arrive about once a second). */
    private static void awaitMapped(PhysicalFunction pf, long mac) throws InterruptedException {
        await(() -> proxy(pf) != null && proxy(pf).linkUp()
                && pf.vswitch().entryPort(mac, 0) == proxy(pf).switchPort(), pf.name() + " maps " + Long.toHexString(mac) + " to its proxy");
    }

    @Test
    void shouldSwitchBetweenTheVfsOfTwoPeeredDaemonsAndResumeWhenAPeerComesBack() throws Exception {
        PhysicalFunction a = pf("pfa", MAC_A0, MAC_A1);
        PhysicalFunction b = pf("pfb", MAC_B0);
        TestGuest a0 = guest("pfa-vf0.sock");
        TestGuest a1 = guest("pfa-vf1.sock");
        TestGuest b0 = guest("pfb-vf0.sock");
        Links.awaitUp(a, 2);
        Links.awaitUp(b, 1);
        awaitMapped(a, MAC_B0);
        awaitMapped(b, MAC_A0);
        assertTrue(a.peerLinks().getFirst().listening() ^ b.peerLinks().getFirst().listening(), "one listens, one joined");
        for (int i = 0; i < 200; i++) {
            byte[] f = TestGuest.frame(MAC_B0, MAC_A0, 64 + i, i);
            a0.send(f);
            assertArrayEquals(f, b0.receive(WAIT), "frame " + i + " across the channel");
            byte[] back = TestGuest.frame(MAC_A0, MAC_B0, 1514, i);
            b0.send(back);
            assertArrayEquals(back, a0.receive(WAIT), "and back, 1514 bytes");
        }
        assertNull(a1.receive(Duration.ofMillis(200)), "a known peer address is not flooded to a's other VF");
        assertEquals(200, proxy(a).counters().get(PortCounter.OUT_FRAMES));
        assertEquals(200, proxy(a).counters().get(PortCounter.IN_FRAMES));

        // The peer goes (its daemon stops): a notices at once, forgets its addresses, keeps switching its own VFs.
        b.close();
        open.remove(b);
        await(() -> !proxy(a).linkUp(), "a sees its peer gone");
        assertEquals(1, proxy(a).proxyStatus().get(ProxyCounter.PEER_LOSSES));
        assertEquals(-1, a.vswitch().entryPort(MAC_B0, 0), "the gone peer's address is flushed");
        byte[] local = TestGuest.frame(MAC_A1, MAC_A0, 100, 1);
        a0.send(local);
        assertArrayEquals(local, a1.receive(WAIT), "a's own VFs still switch");

        // It comes back: the channel is built again, on the same proxy port, and traffic resumes.
        PhysicalFunction b2 = pf("pfb", MAC_B0);
        TestGuest b20 = guest("pfb-vf0.sock");
        Links.awaitUp(b2, 1);
        awaitMapped(a, MAC_B0);
        byte[] again = TestGuest.frame(MAC_B0, MAC_A0, 300, 2);
        a0.send(again);
        assertArrayEquals(again, b20.receive(WAIT));
        assertEquals(2, proxy(a).proxyStatus().get(ProxyCounter.SESSIONS));
        assertEquals(1, a.proxies().size(), "the peer came back to the same proxy port");
    }

    @Test
    void shouldCutOffAPeerThatWritesGarbageIntoTheChannel() throws Exception {
        PhysicalFunction a = pf("pfa", MAC_A0, MAC_A1);
        TestGuest a0 = guest("pfa-vf0.sock");
        TestGuest a1 = guest("pfa-vf1.sock");
        Links.awaitUp(a, 2);
        await(() -> a.peerLinks().getFirst().listening(), "a listens for peers");
        // A hostile peer: says hello, takes the channel, then lies about what it produced.
        try (UnixSocket evil = UnixSocket.connect(dir.resolve("peers/peer.sock")); Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(1024, 8);
            byte[] name = "evil".getBytes(StandardCharsets.UTF_8);
            buf.set(ValueLayout.JAVA_INT, 0, 1);
            buf.set(ValueLayout.JAVA_INT, 4, 14 + name.length);
            buf.set(ValueLayout.JAVA_INT, 8, 1);
            buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 12, 4242);
            buf.set(ValueLayout.JAVA_SHORT_UNALIGNED, 20, (short) name.length);
            MemorySegment.copy(name, 0, buf, ValueLayout.JAVA_BYTE, 22, name.length);
            evil.send(buf, 22 + name.length, new int[0], 0);
            int[] fds = new int[8];
            MemorySegment header = arena.allocate(8, 8);
            // the daemon's hello, then its channel with three descriptors
            assertTrue(evil.readFully(header, 8));
            evil.readFully(buf, header.get(ValueLayout.JAVA_INT, 4));
            long n = evil.receive(header, 8, fds);
            assertEquals(8, n);
            assertEquals(3, evil.lastFdCount());
            evil.readFully(buf, header.get(ValueLayout.JAVA_INT, 4));
            await(() -> proxy(a) != null && proxy(a).linkUp(), "the hostile peer got a channel");
            try (SharedMemory m = SharedMemory.mapSealed(fds[0], ChannelLayout.RING0)) {
                // ring 0 is the daemon's; the peer produces ring 1 and claims 2^40 frames in it
                long ring1 = ChannelLayout.ring(1, 1024, 2048);
                m.segment().set(ValueLayout.JAVA_LONG, ring1 + ChannelLayout.PRODUCER, 1L << 40);
                LibC.writeWord(fds[1], 1);
                await(() -> !proxy(a).linkUp(), "the channel is torn down");
            }
            for (int fd : java.util.Arrays.copyOf(fds, 3)) {
                LibC.closeQuietly(fd);
            }
        }
        assertEquals(1, proxy(a).proxyStatus().get(ProxyCounter.CORRUPTIONS));
        for (int i = 0; i < 100; i++) {
            byte[] f = TestGuest.frame(MAC_A1, MAC_A0, 64, i);
            a0.send(f);
            assertArrayEquals(f, a1.receive(WAIT), "a's own VFs keep switching");
        }
        assertEquals(0, a.agent().failures(), "nothing the peer wrote failed the data path");
    }
}
