package io.vnicd.virtio.queue;

import io.vnicd.nativeio.EventFd;
import io.vnicd.virtio.memory.GuestMemory;
import io.vnicd.virtio.testing.DriverQueue;
import io.vnicd.virtio.testing.TestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static io.vnicd.virtio.queue.SplitRingLayout.*;
import static org.junit.jupiter.api.Assertions.*;

/** The device side of a split ring against the test driver's rings: chains, checks, notifications. */
class SplitQueueTest {
    private static final int SIZE = 8;
    private TestDriver driver;
    private GuestMemory memory;
    private DriverQueue dq;
    private SplitQueue q;

    @BeforeEach
    void setUp() throws Exception {
        driver = new TestDriver(1 << 20);
        memory = driver.guestMemory();
        dq = driver.queue(SIZE);
        q = new SplitQueue(1);
        q.configure(SIZE, dq.descUser(), dq.availUser(), dq.usedUser(), memory);
        q.setNextAvail(0);
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    @Test
    void shouldRefuseRingsOutsideGuestMemoryOrMisaligned() {
        SplitQueue other = new SplitQueue(0);
        InvalidQueueException e = assertThrows(InvalidQueueException.class,
                () -> other.configure(SIZE, TestDriver.UVA_BASE + driver.size() - 16, dq.availUser(), dq.usedUser(), memory));
        assertTrue(e.getMessage().contains("descriptor table"), e.getMessage());
        e = assertThrows(InvalidQueueException.class,
                () -> other.configure(SIZE, dq.descUser() + 8, dq.availUser(), dq.usedUser(), memory));
        assertTrue(e.getMessage().contains("aligned"), e.getMessage());
        assertThrows(InvalidQueueException.class, () -> other.configure(6, dq.descUser(), dq.availUser(), dq.usedUser(), memory));
    }

    @Test
    void shouldWalkAChainThroughAnIndirectTable() {
        long a = driver.alloc(100, 8);
        long b = driver.alloc(200, 8);
        long table = driver.alloc(2 * DESC_SIZE, 16);
        MemorySegment t = driver.at(table, 2 * DESC_SIZE);
        DriverQueue.writeDescriptor(t, 0, a, 100, F_NEXT, 1);
        DriverQueue.writeDescriptor(t, 1, b, 200, F_WRITE, 0);
        int head = dq.addIndirect(table, 2);
        assertEquals(1, q.available());
        assertEquals(head, q.popAvail());
        q.beginChain(head);
        assertTrue(q.nextBuffer());
        assertEquals(100, q.bufferLength());
        assertFalse(q.bufferWritable());
        assertTrue(q.nextBuffer());
        assertEquals(200, q.bufferLength());
        assertTrue(q.bufferWritable());
        assertEquals(b - TestDriver.GPA_BASE, q.bufferOffset());
        assertFalse(q.nextBuffer());
        assertFalse(q.isBroken());
        q.addUsed(head, 42);
        assertEquals(0, dq.usedIdx(), "not visible before publication");
        q.publishUsed();
        assertEquals(((long) head << 32) | 42, dq.takeUsed());
    }

    @Test
    void shouldStopTheQueueOnABufferOutsideGuestMemory() {
        dq.addBuffer(TestDriver.GPA_BASE + driver.size() - 10, 64, false);
        assertBreaks("outside guest memory");
    }

    @Test
    void shouldStopTheQueueOnALengthThatWrapsTheAddressSpace() {
        dq.addBuffer(-16L, 0x7fff_ffff, false);
        assertBreaks("outside guest memory");
    }

    @Test
    void shouldStopTheQueueOnALoopedChain() {
        long a = driver.alloc(64, 8);
        dq.writeDescriptor(0, a, 64, F_NEXT, 1);
        dq.writeDescriptor(1, a, 64, F_NEXT, 0);
        dq.makeAvailable(0);
        assertBreaks("loop");
    }

    @Test
    void shouldStopTheQueueOnNestedIndirectTables() {
        long inner = driver.alloc(DESC_SIZE, 16);
        long outer = driver.alloc(DESC_SIZE, 16);
        DriverQueue.writeDescriptor(driver.at(inner, DESC_SIZE), 0, driver.alloc(64, 8), 64, 0, 0);
        DriverQueue.writeDescriptor(driver.at(outer, DESC_SIZE), 0, inner, DESC_SIZE, F_INDIRECT, 0);
        dq.addIndirect(outer, 1);
        assertBreaks("indirect table inside an indirect table");
    }

    @Test
    void shouldStopTheQueueOnANextBeyondTheTable() {
        dq.writeDescriptor(0, driver.alloc(64, 8), 64, F_NEXT, SIZE + 3);
        dq.makeAvailable(0);
        assertBreaks("beyond its table");
    }

    @Test
    void shouldStopTheQueueOnAHeadBeyondTheQueue() {
        dq.makeAvailable(SIZE + 1);
        assertEquals(1, q.available());
        assertEquals(-1, q.popAvail());
        assertTrue(q.isBroken());
        assertTrue(q.brokenReason().contains("names descriptor"), q.brokenReason());
    }

    @Test
    void shouldStopTheQueueWhenTheAvailableIndexRunsAhead() {
        dq.setAvailIdx(SIZE + 5);
        assertEquals(0, q.available());
        assertTrue(q.isBroken());
        assertEquals(1, q.errors());
        assertFalse(q.enableNotifications(), "a broken queue asks for nothing");
    }

    @Test
    void shouldServeAgainAfterReset() throws Exception {
        dq.setAvailIdx(SIZE + 5);
        q.available();
        assertTrue(q.isBroken());
        q.reset();
        q.configure(SIZE, dq.descUser(), dq.availUser(), dq.usedUser(), memory);
        assertFalse(q.isBroken());
        assertEquals(1, q.errors(), "the error stays counted");
    }

    private void assertBreaks(String reason) {
        assertEquals(1, q.available());
        int head = q.popAvail();
        q.beginChain(head);
        while (q.nextBuffer()) {
            assertTrue(q.bufferLength() >= 0);
        }
        assertTrue(q.isBroken(), "queue should be broken");
        assertTrue(q.brokenReason().contains(reason), q.brokenReason());
        assertEquals(1, q.errors());
        assertEquals(0, q.available(), "a broken queue serves nothing more");
    }

    @Test
    void shouldInterruptOnlyWhenTheDriverWantsIt() throws Exception {
        try (EventFd call = EventFd.create()) {
            q.setCallFd(call);
            long buf = driver.alloc(64, 8);
            // Without EVENT_IDX: the NO_INTERRUPT flag decides.
            dq.setAvailFlags(AVAIL_F_NO_INTERRUPT);
            complete(buf);
            assertEquals(0, drain(call));
            dq.setAvailFlags(0);
            complete(buf);
            assertEquals(1, drain(call));
            q.notifyIfNeeded();
            assertEquals(0, drain(call), "nothing new was used");
            // With EVENT_IDX: only when the used index passes used_event.
            q.setEventIdx(true);
            dq.setUsedEvent(dq.usedIdx() + 1);
            complete(buf);
            assertEquals(0, drain(call), "used_event not reached yet");
            complete(buf);
            assertEquals(1, drain(call), "used index passed used_event");
        }
    }

    private void complete(long buf) {
        int head = dq.addBuffer(buf, 64, false);
        q.available();
        assertEquals(head, q.popAvail());
        q.addUsed(head, 0);
        q.publishUsed();
        q.notifyIfNeeded();
        dq.takeUsed();
    }

    private static long drain(EventFd fd) throws Exception {
        return fd.drain();
    }

    @Test
    void shouldAskForKicksOnlyBeforeSleeping() {
        q.disableNotifications();
        assertEquals(USED_F_NO_NOTIFY, dq.usedFlags());
        assertFalse(q.enableNotifications(), "no buffers pending");
        assertEquals(0, dq.usedFlags());
        dq.addBuffer(driver.alloc(64, 8), 64, false);
        assertTrue(q.enableNotifications(), "a buffer arrived: the device must poll, not sleep");
        q.setEventIdx(true);
        q.available();
        q.popAvail();
        q.enableNotifications();
        assertEquals(1, dq.availEvent(), "avail_event names the next entry the device will look at");
    }
}
