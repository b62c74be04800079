package io.vnicd.virtio.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.LibC;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.nativeio.UnixSocket;
import io.vnicd.virtio.datapath.DataPathAgent;
import io.vnicd.virtio.net.FrameSink;
import io.vnicd.virtio.net.VirtioNetBackend;
import io.vnicd.virtio.vhostuser.MessageHeader;
import io.vnicd.virtio.vhostuser.Payloads;
import io.vnicd.virtio.vhostuser.Request;
import io.vnicd.virtio.vhostuser.VhostUserSession;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing (Jazzer) of the vhost-user request handler: the fuzzer's bytes become a stream of
 * messages (header, payload, file descriptors) written into one end of a socket pair; a {@link VhostUserSession}
 * over the real virtio-net back-end serves the other end until end-of-file, on this thread (the data-path agent
 * is not started, so the back-end runs its commands inline).
 *
 * <p>Invariants: {@link VhostUserSession#serve()} returns (the stream is finite: no hang), it never ends on an
 * internal error (an exception no handler meant), and every descriptor the frontend passed is closed or released
 * by the end (no fd leak). The descriptors come from a pool made once (memfds of several sizes, eventfds
 * non-blocking and blocking, a socket, an empty memfd); sending one passes the kernel's duplicate.
 */
class VhostUserSessionFuzzTest {
    private static final int MAX_MESSAGES = 16;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final long[] REGION_SIZES = {4096, 64 * 1024, 1 << 20};

    private static final List<AutoCloseable> POOL_OWNERS = new ArrayList<>();
    private static final int[] POOL = pool();
    private static final DataPathAgent AGENT = agent();
    private static final VirtioNetBackend BACKEND = new VirtioNetBackend("fuzz", AGENT, 2, (frame, offset, length) -> FrameSink.SENT);
    private static final MemorySegment MESSAGE = Arena.global().allocate(MessageHeader.LENGTH + MessageHeader.MAX_PAYLOAD + 64, 8);

    private static int[] pool() {
        try {
            List<Integer> fds = new ArrayList<>();
            for (long size : REGION_SIZES) {
                SharedMemory m = SharedMemory.create("vnicd-fuzz-session", size);
                POOL_OWNERS.add(m);
                fds.add(m.fd());
            }
            for (int i = 0; i < 2; i++) {
                EventFd e = EventFd.create();
                POOL_OWNERS.add(e);
                fds.add(e.fd());
            }
            EventFd blocking = EventFd.adopt(LibC.eventfd(0, LibC.EFD_CLOEXEC));
            POOL_OWNERS.add(blocking);
            fds.add(blocking.fd());
            UnixSocket[] other = UnixSocket.pair();
            POOL_OWNERS.add(other[0]);
            POOL_OWNERS.add(other[1]);
            fds.add(other[0].fd());
            int empty = LibC.memfdCreate("vnicd-fuzz-empty", 0);
            POOL_OWNERS.add(() -> LibC.close(empty));
            fds.add(empty);
            return fds.stream().mapToInt(Integer::intValue).toArray();
        } catch (NativeException e) {
            throw new IllegalStateException(e);
        }
    }

    private static DataPathAgent agent() {
        try {
            return new DataPathAgent("fuzz");
        } catch (NativeException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void release() throws Exception {
        AGENT.close();
        for (AutoCloseable c : POOL_OWNERS) {
            c.close();
        }
    }

    @FuzzTest(maxDuration = "30s")
    void serveAStreamOfMessagesWithDescriptors(FuzzedDataProvider data) throws NativeException {
        int freeBefore = lowestFreeFd();
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket frontend = pair[0]; UnixSocket backendEnd = pair[1]) {
            for (int m = 0; m < MAX_MESSAGES && data.remainingBytes() > 0; m++) {
                writeMessage(frontend, data);
            }
            frontend.shutdownOutput();
            VhostUserSession session = new VhostUserSession(backendEnd, BACKEND, "fuzzer");
            session.serve();
            assertFalse(session.closeReason().startsWith("internal error"), session.closeReason());
        }
        assertFalse(BACKEND.isLinkReady(), "the session's end resets the back-end");
        assertEquals(freeBefore, lowestFreeFd(), "a descriptor the frontend passed is still open");
    }

    private static void writeMessage(UnixSocket frontend, FuzzedDataProvider data) throws NativeException {
        Request[] requests = Request.values();
        int code = data.consumeBoolean() ? requests[data.consumeInt(0, requests.length - 1)].code : data.consumeInt();
        int flags = MessageHeader.VERSION | (data.consumeBoolean() ? MessageHeader.NEED_REPLY : 0);
        if (data.consumeInt(0, 15) == 0) {
            flags = data.consumeInt(); // rarely: a bad version, which ends the session
        }
        Request request = Request.of(code);
        int size;
        MESSAGE.asSlice(MessageHeader.LENGTH, 64).fill((byte) 0);
        if (request == Request.SET_MEM_TABLE && data.consumeBoolean()) {
            size = memTable(data);
        } else {
            int expected = request == null || request.payload < 0 ? 8 : request.payload;
            size = data.consumeBoolean() ? expected : data.consumeInt(0, MessageHeader.MAX_PAYLOAD);
            byte[] body = data.consumeBytes(size);
            MemorySegment.copy(body, 0, MESSAGE, ValueLayout.JAVA_BYTE, MessageHeader.LENGTH, body.length);
            if (request == Request.SET_VRING_ADDR || request == Request.SET_VRING_NUM || request == Request.SET_VRING_BASE
                    || request == Request.GET_VRING_BASE || request == Request.SET_VRING_ENABLE) {
                // Mostly a queue that exists, so that the handlers behind the index check are reached.
                if (data.consumeBoolean()) {
                    MESSAGE.set(INT, MessageHeader.LENGTH, data.consumeInt(0, 4));
                }
            }
        }
        MESSAGE.set(INT, MessageHeader.REQUEST_OFFSET, code);
        MESSAGE.set(INT, MessageHeader.FLAGS_OFFSET, flags);
        MESSAGE.set(INT, MessageHeader.SIZE_OFFSET, data.consumeInt(0, 31) == 0 ? data.consumeInt() : size);
        int fdCount = data.consumeInt(0, 7) == 0 ? data.consumeInt(0, UnixSocket.MAX_FDS) : data.consumeInt(0, 2);
        int[] fds = new int[fdCount];
        for (int i = 0; i < fdCount; i++) {
            fds[i] = POOL[data.consumeInt(0, POOL.length - 1)];
        }
        frontend.send(MESSAGE, MessageHeader.LENGTH + size, fds, fdCount);
    }

    /** A SET_MEM_TABLE body of a few regions whose sizes and offsets mostly fit the pool's memfds. */
    private static int memTable(FuzzedDataProvider data) {
        int num = data.consumeInt(1, 3);
        MESSAGE.set(INT, MessageHeader.LENGTH + Payloads.MEM_NUM, num);
        for (int i = 0; i < num; i++) {
            long at = MessageHeader.LENGTH + Payloads.MEM_REGIONS + (long) i * Payloads.MEM_REGION_SIZE;
            long size = data.consumeBoolean() ? REGION_SIZES[data.consumeInt(0, REGION_SIZES.length - 1)] : data.consumeLong();
            MESSAGE.set(LONG, at + Payloads.REGION_GUEST_ADDR, data.consumeBoolean() ? (long) i << 32 : data.consumeLong());
            MESSAGE.set(LONG, at + Payloads.REGION_SIZE, size);
            MESSAGE.set(LONG, at + Payloads.REGION_USER_ADDR, data.consumeBoolean() ? (0x7f00L + i) << 32 : data.consumeLong());
            MESSAGE.set(LONG, at + Payloads.REGION_MMAP_OFFSET, data.consumeBoolean() ? 0 : data.consumeLong());
        }
        return Payloads.MEM_REGIONS + num * Payloads.MEM_REGION_SIZE;
    }

    /** The number the next descriptor would get: it rises when one leaked. */
    private static int lowestFreeFd() throws NativeException {
        int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        LibC.close(fd);
        return fd;
    }
}
