package io.vnicd.virtio.vhostuser;

import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.virtio.memory.GuestMemory;
import io.vnicd.virtio.testing.VhostUserTestFrontend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The request handler against a recording back-end, over a real socket, driven by the Java test frontend. */
class VhostUserSessionTest {
    @TempDir
    Path dir;

    private final RecordingBackend backend = new RecordingBackend();
    private VhostUserEndpoint endpoint;
    private VhostUserTestFrontend frontend;

    /** Records what the session asked of it. */
    static final class RecordingBackend implements VhostUserBackend {
        final List<String> calls = new ArrayList<>();
        volatile GuestMemory memory;
        volatile VringConfig started;
        volatile long features;

        @Override
        public String name() {
            return "test";
        }

        @Override
        public long features() {
            return (1L << 32) | (1L << 15) | (1L << 29);
        }

        @Override
        public long protocolFeatures() {
            return ProtocolFeatures.bit(ProtocolFeatures.MQ) | ProtocolFeatures.bit(ProtocolFeatures.REPLY_ACK)
                    | ProtocolFeatures.bit(ProtocolFeatures.CONFIGURE_MEM_SLOTS);
        }

        @Override
        public int maxQueuePairs() {
            return 2;
        }

        @Override
        public int queueCount() {
            return 4;
        }

        @Override
        public synchronized void setFeatures(long acked) {
            features = acked;
            calls.add("features");
        }

        @Override
        public synchronized void setMemory(GuestMemory m) {
            if (memory != null) {
                memory.close();
            }
            memory = m;
            calls.add("memory");
        }

        @Override
        public synchronized void startQueue(VringConfig config) {
            started = config;
            calls.add("start " + config.index());
        }

        @Override
        public synchronized int stopQueue(int index) {
            calls.add("stop " + index);
            return 77;
        }

        @Override
        public synchronized void enableQueue(int index, boolean enabled) {
            calls.add((enabled ? "enable " : "disable ") + index);
        }

        @Override
        public synchronized void setCall(int index, EventFd call) {
            calls.add("call " + index);
        }

        @Override
        public synchronized void reset() {
            calls.add("reset");
            if (memory != null) {
                memory.close();
                memory = null;
            }
        }
    }

    @BeforeEach
    void connect() throws Exception {
        endpoint = new VhostUserEndpoint(dir.resolve("vf.sock"), VhostUserEndpoint.Mode.SERVER, backend, Duration.ofMillis(20));
        endpoint.start();
        frontend = VhostUserTestFrontend.connect(dir.resolve("vf.sock"), Duration.ofSeconds(5));
    }

    @AfterEach
    void close() {
        frontend.close();
        endpoint.close();
    }

    @Test
    void shouldOfferFeaturesWithProtocolFeaturesAndAcceptTheAcknowledgedSubset() throws Exception {
        long features = frontend.handshake();
        assertEquals(backend.features() | ProtocolFeatures.bit(ProtocolFeatures.VHOST_USER_F_PROTOCOL_FEATURES), features);
        assertEquals(features, backend.features);
        assertEquals(2, frontend.getQueueNum());
    }

    @Test
    void shouldRefuseFeaturesThatWereNotOffered() throws Exception {
        frontend.handshake();
        frontend.setFeatures(1L << 40);
        assertEquals(backend.features() | ProtocolFeatures.bit(ProtocolFeatures.VHOST_USER_F_PROTOCOL_FEATURES), backend.features,
                "the refused SET_FEATURES changed nothing");
    }

    @Test
    void shouldMapTheMemoryTableAndTranslateItsRegions() throws Exception {
        frontend.handshake();
        try (SharedMemory a = SharedMemory.create("a", 1 << 20); SharedMemory b = SharedMemory.create("b", 2 << 20)) {
            a.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG, 4096 + 8, 0x1122334455667788L);
            boolean ok = frontend.setMemTable(new long[][] {
                    {0x0, 1 << 20, 0x7f0000000000L, 4096 - 4096},
                    {0x100000000L, 1 << 20, 0x7f1000000000L, 1 << 20}}, new int[] {a.fd(), b.fd()});
            assertTrue(ok);
            GuestMemory m = backend.memory;
            assertNotNull(m);
            assertEquals(0x100000000L + 16, m.userToGuest(0x7f1000000000L + 16, 8));
            assertEquals(-1, m.userToGuest(0x7f2000000000L, 8));
        }
    }

    private void handshakeWithMemSlots() throws Exception {
        frontend.setOwner();
        long features = frontend.getFeatures();
        frontend.getProtocolFeatures();
        frontend.setProtocolFeatures(ProtocolFeatures.bit(ProtocolFeatures.REPLY_ACK) | ProtocolFeatures.bit(ProtocolFeatures.CONFIGURE_MEM_SLOTS));
        frontend.setFeatures(features);
    }

    @Test
    void shouldAddAndRemoveMemoryRegionsOneAtATime() throws Exception {
        handshakeWithMemSlots();
        assertEquals(509, frontend.getMaxMemSlots());
        try (SharedMemory a = SharedMemory.create("a", 1 << 20); SharedMemory b = SharedMemory.create("b", 2 << 20)) {
            a.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG, 64, 0x1122334455667788L);
            b.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG, 4096 + 64, 0x0102030405060708L);
            long[] ra = {0x0, 1 << 20, 0x7f0000000000L, 0};
            long[] rb = {0x100000000L, 1 << 20, 0x7f1000000000L, 4096};
            assertTrue(frontend.addMemReg(ra, a.fd()));
            assertEquals(1, backend.memory.regionCount());
            assertTrue(frontend.addMemReg(rb, b.fd()), "a hot-plugged DIMM");
            GuestMemory m = backend.memory;
            assertEquals(2, m.regionCount());
            assertEquals(0x1122334455667788L, m.slice(64, 8).get(java.lang.foreign.ValueLayout.JAVA_LONG, 0),
                    "the first region is still mapped in the second table");
            assertEquals(0x0102030405060708L, m.slice(0x100000000L + 64, 8).get(java.lang.foreign.ValueLayout.JAVA_LONG, 0));

            assertFalse(frontend.addMemReg(new long[] {0x80000, 1 << 20, 0x7f2000000000L, 0}, a.fd()), "overlapping gpa");
            assertEquals(2, backend.memory.regionCount(), "a refused region changes nothing");
            assertFalse(frontend.remMemReg(new long[] {0x200000000L, 1 << 20, 0, 0}), "no such region");

            assertTrue(frontend.remMemReg(rb), "the DIMM unplugged");
            GuestMemory after = backend.memory;
            assertEquals(1, after.regionCount());
            assertNull(after.slice(0x100000000L + 64, 8));
            assertEquals(0x1122334455667788L, after.slice(64, 8).get(java.lang.foreign.ValueLayout.JAVA_LONG, 0));
            assertEquals(2, frontend.getQueueNum(), "the connection still serves");
        }
    }

    @Test
    void shouldOfferAllOf509MemorySlotsAndRefuseOneMore() throws Exception {
        handshakeWithMemSlots();
        try (SharedMemory a = SharedMemory.create("a", 1 << 20)) {
            for (int i = 0; i < 509; i++) {
                assertTrue(frontend.addMemReg(new long[] {(long) i << 20, 4096, 0x7f0000000000L + ((long) i << 20), 0}, a.fd()),
                        "slot " + i);
            }
            assertEquals(509, backend.memory.regionCount());
            assertFalse(frontend.addMemReg(new long[] {509L << 20, 4096, 0x7f0000000000L + (509L << 20), 0}, a.fd()));
            assertEquals(509, backend.memory.regionCount());
            assertTrue(frontend.remMemReg(new long[] {7L << 20, 4096, 0x7f0000000000L + (7L << 20), 0}));
            assertEquals(508, backend.memory.regionCount());
        }
    }

    @Test
    void shouldRefuseMemorySlotRequestsWithoutTheirProtocolFeature() throws Exception {
        frontend.handshake();
        try (SharedMemory a = SharedMemory.create("a", 1 << 20)) {
            assertFalse(frontend.addMemReg(new long[] {0, 1 << 20, 0x7f0000000000L, 0}, a.fd()));
            assertNull(backend.memory);
        }
    }

    @Test
    void shouldRefuseARegionThatLiesBeyondItsFile() throws Exception {
        frontend.handshake();
        try (SharedMemory a = SharedMemory.create("a", 1 << 20)) {
            assertFalse(frontend.setMemTable(new long[][] {{0, 2 << 20, 0x7f0000000000L, 0}}, new int[] {a.fd()}));
            assertFalse(frontend.setMemTable(new long[][] {{0, 1 << 20, 0x7f0000000000L, 4096}}, new int[] {a.fd()}));
            assertNull(backend.memory);
        }
    }

    @Test
    void shouldRefuseAMemoryTableWithoutItsFileDescriptors() throws Exception {
        frontend.handshake();
        assertFalse(frontend.setMemTable(new long[][] {{0, 1 << 20, 0x7f0000000000L, 0}}, new int[0]));
        assertNull(backend.memory);
        assertEquals(2, frontend.getQueueNum(), "the connection still serves");
    }

    @Test
    void shouldStartARingOnItsKickAndStopItOnGetVringBase() throws Exception {
        frontend.handshake();
        assertTrue(frontend.setVringNum(1, 256));
        assertTrue(frontend.setVringBase(1, 5));
        assertTrue(frontend.setVringAddr(1, 0x1000, 0x3000, 0x2000));
        try (EventFd kick = EventFd.create(); EventFd call = EventFd.create()) {
            assertTrue(frontend.setVringCall(1, call));
            assertTrue(frontend.setVringKick(1, kick));
            VringConfig c = backend.started;
            assertEquals(1, c.index());
            assertEquals(256, c.size());
            assertEquals(5, c.base());
            assertEquals(0x1000, c.descAddr());
            assertEquals(0x2000, c.availAddr());
            assertEquals(0x3000, c.usedAddr());
            assertNotNull(c.kick());
            assertNotNull(c.call());
            assertTrue(frontend.setVringEnable(1, true));
            assertEquals(77, frontend.getVringBase(1));
            assertTrue(backend.calls.contains("stop 1"));
            assertTrue(backend.calls.contains("enable 1"));
        }
    }

    @Test
    void shouldRefuseBadVringValues() throws Exception {
        frontend.handshake();
        assertFalse(frontend.setVringNum(1, 100), "not a power of two");
        assertFalse(frontend.setVringNum(1, 65536), "too large");
        assertFalse(frontend.setVringNum(9, 256), "no such queue");
        assertFalse(frontend.setVringBase(0, 70000), "beyond a 16-bit index");
        try (EventFd kick = EventFd.create()) {
            assertFalse(frontend.setVringKick(2, kick), "a ring without size and addresses cannot start");
        }
        assertNull(backend.started);
    }

    @Test
    void shouldAnswerAnUnknownRequestWithAFailureWhenAReplyIsAsked() throws Exception {
        frontend.handshake();
        frontend.sendRaw(77, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 0, new byte[0], null);
        assertEquals(1L, frontend.readReply(77, 8).get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0));
        assertEquals(2, frontend.getQueueNum(), "the connection still serves");
    }

    @Test
    void shouldDropTheConnectionOnAWrongVersionAndServeTheNextFrontend() throws Exception {
        frontend.sendRaw(1, 2, 0, new byte[0], null);
        assertTrue(frontend.isClosedByPeer());
        try (VhostUserTestFrontend next = VhostUserTestFrontend.connect(dir.resolve("vf.sock"), Duration.ofSeconds(5))) {
            assertEquals(2, next.getQueueNum());
        }
        assertTrue(backend.calls.contains("reset"), "the dropped connection reset the device");
    }

    @Test
    void shouldDropTheConnectionOnAnOversizedPayload() throws Exception {
        frontend.sendRaw(2, 1, MessageHeader.MAX_PAYLOAD + 1, new byte[0], null);
        assertTrue(frontend.isClosedByPeer());
    }
}
