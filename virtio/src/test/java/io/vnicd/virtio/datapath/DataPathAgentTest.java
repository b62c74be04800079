package io.vnicd.virtio.datapath;

import io.vnicd.devmodel.port.Pollable;
import io.vnicd.nativeio.EventFd;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataPathAgentTest {
    /** A pollable with a counter of pending work that other threads (the "driver") add to. */
    static class Work implements Pollable {
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

        @Override
        public void failed(Throwable cause) {
            throw new AssertionError("unexpected failure", cause);
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

    @Test
    void shouldStopOnlyAPollableThatThrowsAndKeepPollingTheOthers() throws Exception {
        try (DataPathAgent agent = new DataPathAgent("isolate")) {
            Work good = new Work();
            AtomicInteger failedCalls = new AtomicInteger();
            AtomicInteger polls = new AtomicInteger();
            Pollable bad = new Pollable() {
                private boolean stopped;

                @Override
                public int poll() {
                    if (stopped) {
                        return 0;
                    }
                    polls.incrementAndGet();
                    throw new IllegalStateException("a bug in one device");
                }

                @Override
                public void failed(Throwable cause) {
                    stopped = true;
                    failedCalls.incrementAndGet();
                }
            };
            agent.start();
            agent.add(bad);
            agent.add(good);
            for (int i = 0; i < 100; i++) {
                good.pending.incrementAndGet();
                agent.wake();
                Thread.sleep(1);
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (good.done.get() < 100 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertEquals(100, good.done.get(), "the other pollable kept being served");
            assertEquals(1, failedCalls.get(), "the failing one was told once");
            assertEquals(1, polls.get(), "and not polled into again");
            assertEquals(1, agent.failures());
            assertTrue(agent.thread().isAlive());
        }
    }

    @Test
    void shouldWithdrawACommandTheThreadDidNotTakeInTimeSoThatItNeverRunsLater() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch stuck = new CountDownLatch(1);
        try (DataPathAgent agent = new DataPathAgent("withdraw", Duration.ofMillis(300))) {
            agent.start();
            agent.add(new Work() {
                @Override
                public int poll() {
                    stuck.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return 0;
                }
            });
            stuck.await();
            AtomicInteger ran = new AtomicInteger();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> agent.execute(ran::incrementAndGet));
            assertTrue(e.getMessage().contains("withdrawn"), e.getMessage());
            release.countDown();
            agent.execute(() -> { }); // the thread is back: a later command runs
            assertEquals(0, ran.get(), "the withdrawn command never ran (its caller may have released what it used)");
        }
    }
}
