package io.vnicd.virtio.testing;

import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.NativeException;
import io.vnicd.virtio.net.VirtioNetFeatures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * A whole guest for tests: connects to a VF's vhost-user socket as a frontend, shares its memfd memory, sets
 * up one RX/TX queue pair with kick and call eventfds, and sends and receives Ethernet frames as a virtio-net
 * driver does. Mergeable RX buffers of 2 KiB.
 */
public final class TestGuest implements AutoCloseable {
    public static final int QUEUE_SIZE = 256;
    private static final int RX_BUFFER = 2048;
    private static final int TX_SLOT = 2048;

    private final TestDriver driver;
    private final VhostUserTestFrontend frontend;
    private final DriverQueue rx;
    private final DriverQueue tx;
    private final EventFd[] kicks = new EventFd[2];
    private final EventFd[] calls = new EventFd[2];
    private final long rxBuffers;
    private final long txSlots;
    private int txNext;
    private int txDone;
    private long negotiated;

    private TestGuest(TestDriver driver, VhostUserTestFrontend frontend) {
        this.driver = driver;
        this.frontend = frontend;
        this.rx = driver.queue(QUEUE_SIZE);
        this.tx = driver.queue(QUEUE_SIZE);
        this.rxBuffers = driver.alloc((long) RX_BUFFER * QUEUE_SIZE, 64);
        this.txSlots = driver.alloc((long) TX_SLOT * QUEUE_SIZE, 64);
    }

    /** Makes the kick or call eventfd of a queue (0 RX, 1 TX); hostile tests hand over odd ones. */
    @FunctionalInterface
    public interface FdSource {
        EventFd make(int queue) throws NativeException;
    }

    /** Connects to a VF listening at socket and brings the queue pair up with RX buffers posted. */
    public static TestGuest connect(Path socket) throws NativeException, InterruptedException {
        return connect(socket, q -> EventFd.create(), q -> EventFd.create());
    }

    /** As {@link #connect(Path)}, with the kick and call eventfds the sources make. */
    public static TestGuest connect(Path socket, FdSource kick, FdSource call) throws NativeException, InterruptedException {
        TestDriver driver = new TestDriver(4 << 20);
        VhostUserTestFrontend fe;
        try {
            fe = VhostUserTestFrontend.connect(socket, Duration.ofSeconds(10));
        } catch (NativeException | InterruptedException | RuntimeException e) {
            driver.close();
            throw e;
        }
        TestGuest g = new TestGuest(driver, fe);
        try {
            g.start(kick, call);
        } catch (NativeException | RuntimeException e) {
            g.close();
            throw e;
        }
        return g;
    }

    private void start(FdSource kick, FdSource call) throws NativeException {
        long offered = frontend.handshake();
        negotiated = offered;
        frontend.setMemTable(new long[][] {driver.region()}, new int[] {driver.sharedMemory().fd()});
        DriverQueue[] qs = {rx, tx};
        for (int i = 0; i < 2; i++) {
            kicks[i] = kick.make(i);
            calls[i] = call.make(i);
            frontend.setVringNum(i, QUEUE_SIZE);
            frontend.setVringBase(i, 0);
            frontend.setVringAddr(i, qs[i].descUser(), qs[i].usedUser(), qs[i].availUser());
            frontend.setVringCall(i, calls[i]);
            frontend.setVringKick(i, kicks[i]);
            frontend.setVringEnable(i, true);
        }
        for (int i = 0; i < QUEUE_SIZE - 1; i++) {
            rx.addBuffer(rxBuffers + (long) i * RX_BUFFER, RX_BUFFER, true);
        }
        kicks[0].signal();
    }

    public long negotiatedFeatures() {
        return negotiated;
    }

    public VhostUserTestFrontend frontend() {
        return frontend;
    }

    public TestDriver driver() {
        return driver;
    }

    public DriverQueue txQueue() {
        return tx;
    }

    public DriverQueue rxQueue() {
        return rx;
    }

    /** Guest physical address of TX slot i (a 12-byte virtio_net_hdr, then the frame): what send(i-th frame) fills. */
    public long txSlotGpa(int i) {
        return txSlots + (long) (i % QUEUE_SIZE) * TX_SLOT;
    }

    /** Guest physical address of RX buffer id (descriptor id of the RX queue holds it). */
    public long rxBufferGpa(int id) {
        return rxBuffers + (long) id * RX_BUFFER;
    }

    /** The kick eventfd of queue 0 (RX) or 1 (TX). */
    public EventFd kick(int queue) {
        return kicks[queue];
    }

    /** Queues one frame for transmission (header + frame in one buffer) and kicks. */
    public void send(byte[] frame) throws NativeException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        do {
            while (tx.takeUsed() != -1) {
                txDone++;
            }
            // a full ring: wait for the device to complete some (as a driver would)
        } while (txNext - txDone >= QUEUE_SIZE - 1 && System.nanoTime() < deadline);
        if (txNext - txDone >= QUEUE_SIZE - 1) {
            throw new IllegalStateException("the device completed no transmission for 10 s");
        }
        long slot = txSlots + (long) (txNext++ % QUEUE_SIZE) * TX_SLOT;
        MemorySegment buf = driver.at(slot, TX_SLOT);
        buf.asSlice(0, VirtioNetFeatures.HEADER_SIZE).fill((byte) 0);
        MemorySegment.copy(frame, 0, buf, ValueLayout.JAVA_BYTE, VirtioNetFeatures.HEADER_SIZE, frame.length);
        tx.addBuffer(slot, VirtioNetFeatures.HEADER_SIZE + frame.length, false);
        kicks[1].signal();
    }

    /** The next received frame (merging buffers as num_buffers says), or null after timeout. */
    public byte[] receive(Duration timeout) throws NativeException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (rx.pendingUsed() == 0) {
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.onSpinWait();
        }
        long e = rx.takeUsed();
        int id = (int) (e >>> 32);
        int len = (int) e;
        MemorySegment first = driver.at(rxBuffers + (long) id * RX_BUFFER, RX_BUFFER);
        int buffers = first.get(ValueLayout.JAVA_SHORT_UNALIGNED, 10);
        byte[] out = first.asSlice(VirtioNetFeatures.HEADER_SIZE, len - VirtioNetFeatures.HEADER_SIZE).toArray(ValueLayout.JAVA_BYTE);
        repost(id);
        for (int b = 1; b < buffers; b++) {
            while (rx.pendingUsed() == 0) {
                Thread.onSpinWait();
            }
            long more = rx.takeUsed();
            int mid = (int) (more >>> 32);
            byte[] part = driver.at(rxBuffers + (long) mid * RX_BUFFER, (int) more).toArray(ValueLayout.JAVA_BYTE);
            byte[] joined = Arrays.copyOf(out, out.length + part.length);
            System.arraycopy(part, 0, joined, out.length, part.length);
            out = joined;
            repost(mid);
        }
        kicks[0].signal();
        return out;
    }

    /** Gives buffer id back to the device in descriptor id: descriptor and buffer stay paired. */
    private void repost(int id) {
        rx.writeDescriptor(id, rxBuffers + (long) id * RX_BUFFER, RX_BUFFER, io.vnicd.virtio.queue.SplitRingLayout.F_WRITE, 0);
        rx.makeAvailable(id);
    }

    /** A frame from src to dst (MACs as longs) with an IPv4-ish ethertype and a recognisable payload. */
    public static byte[] frame(long dst, long src, int length, int seq) {
        byte[] f = new byte[length];
        for (int i = 0; i < 6; i++) {
            f[i] = (byte) (dst >>> (40 - 8 * i));
            f[6 + i] = (byte) (src >>> (40 - 8 * i));
        }
        f[12] = 0x08;
        f[13] = 0x00;
        for (int i = 14; i < length; i++) {
            f[i] = (byte) (seq + i);
        }
        return f;
    }

    @Override
    public void close() {
        frontend.close();
        for (EventFd fd : kicks) {
            if (fd != null) {
                fd.close();
            }
        }
        for (EventFd fd : calls) {
            if (fd != null) {
                fd.close();
            }
        }
        driver.close();
    }
}
