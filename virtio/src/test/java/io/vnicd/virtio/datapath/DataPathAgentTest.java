package io.vnicd.virtio.datapath;

import io.vnicd.nativeio.EventFd;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataPathAgentTest {
    /** A pollable with a counter of pending work that other threads (the "driver") add to. */
    static final class Work implements Pollable {
        final AtomicInteger pending = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();

        @Override
        public int poll() {
            int n = pending.getAndSet(0);
            done.addAndGet(n);
            return n;
        }

        @Override
        public boolean prepareToSleep() {
            return pending.get() == 0;
        }
    }

    @Test
    void shouldSleepInEpollWhenIdleAndCostAlmostNoCpu() throws Exception {
        try (DataPathAgent agent = new DataPathAgent("idle")) {
            agent.start();
            agent.add(new Work());
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!agent.isSleeping() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(agent.isSleeping(), "an idle data path sleeps");
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            long id = agent.thread().threadId();
            long cpu0 = mx.getThreadCpuTime(id);
            Thread.sleep(1000);
            long cpuNanos = mx.getThreadCpuTime(id) - cpu0;
            // Asleep in epoll_wait it wakes at most twice a second (its safety timeout) and spins briefly.
            assertTrue(cpuNanos < 100_000_000L, "idle data path used " + cpuNanos / 1_000_000 + " ms of CPU in 1 s");
        }
    }

    @Test
    void shouldWakeOnAKickAndDoTheWork() throws Exception {
        try (DataPathAgent agent = new DataPathAgent("kick"); EventFd kick = EventFd.create()) {
            Work work = new Work();
            agent.start();
            agent.add(work);
            agent.execute(() -> agent.watch(kick));
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!agent.isSleeping() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            work.pending.set(5);
            kick.signal();
            deadline = System.nanoTime() + 5_000_000_000L;
            while (work.done.get() < 5 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertEquals(5, work.done.get());
        }
    }

    @Test
    void shouldRunCommandsOnItsOwnThread() throws Exception {
        try (DataPathAgent agent = new DataPathAgent("cmd")) {
            agent.start();
            Thread[] ran = new Thread[1];
            agent.execute(() -> ran[0] = Thread.currentThread());
            assertSame(agent.thread(), ran[0]);
        }
    }
}
