package io.vnicd.virtio.datapath;

import io.vnicd.nativeio.Epoll;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.LibC;
import io.vnicd.nativeio.NativeException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One data-path thread (an Agrona-style agent). Each round it runs posted commands, polls every
 * {@link Pollable}, then flushes them. When rounds find no work it spins a little, then yields, then asks the
 * drivers to kick ({@link Pollable#prepareToSleep()}) and sleeps in epoll on the watched eventfds (kick fds
 * and its own wake-up fd), so that an idle vnicd costs close to no CPU.
 * <p>
 * State owned by the thread is only changed by commands ({@link #execute}); the caller waits for the
 * command to have run, so it may then release what the command replaced.
 */
public final class DataPathAgent implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DataPathAgent.class.getName());
    private static final int SPIN_ROUNDS = 2000;
    private static final int YIELD_ROUNDS = 200;
    private static final long WAKE_TOKEN = -1L;
    /** Upper bound of one sleep: a safety net should a kick ever be missed. */
    private static final int MAX_SLEEP_MILLIS = 500;

    private final String name;
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    private final List<Pollable> pollables = new ArrayList<>();
    private Pollable[] active = new Pollable[0];
    private final Epoll epoll;
    private final EventFd wakeup;
    private final Thread thread;
    private final AtomicLong sleeps = new AtomicLong();
    private final AtomicLong rounds = new AtomicLong();
    private volatile boolean running = true;
    private volatile boolean sleeping;

    public DataPathAgent(String name) throws NativeException {
        this.name = name;
        this.epoll = new Epoll(64);
        this.wakeup = EventFd.create();
        epoll.add(wakeup.fd(), WAKE_TOKEN);
        this.thread = Thread.ofPlatform().name("datapath-" + name).daemon().unstarted(this::run);
    }

    public void start() {
        thread.start();
    }

    /** Runs command on the data-path thread and waits until it ran (directly when called from that thread). */
    public void execute(Runnable command) {
        if (Thread.currentThread() == thread || !thread.isAlive()) {
            command.run();
            return;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        commands.add(() -> {
            try {
                command.run();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        wake();
        try {
            done.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("data path " + name + " did not run a command within 10 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for data path " + name);
        }
    }

    /** Interrupts a sleep so that posted commands or new work are seen at once. */
    public void wake() {
        if (sleeping) {
            try {
                wakeup.signal();
            } catch (NativeException e) {
                LOG.log(System.Logger.Level.ERROR, () -> name + ": cannot wake the data path: " + e.getMessage());
            }
        }
    }

    public void add(Pollable p) {
        execute(() -> {
            pollables.add(p);
            active = pollables.toArray(new Pollable[0]);
        });
    }

    public void remove(Pollable p) {
        execute(() -> {
            pollables.remove(p);
            active = pollables.toArray(new Pollable[0]);
        });
    }

    /** Wakes the thread when fd becomes readable (a kick eventfd). Call on the data-path thread, e.g. in a command. */
    public void watch(EventFd fd) {
        try {
            epoll.add(fd.fd(), fd.fd());
        } catch (NativeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> name + ": cannot watch " + fd + ": " + e.getMessage());
        }
    }

    public void unwatch(EventFd fd) {
        epoll.remove(fd.fd());
    }

    /** Times the thread went to sleep in epoll: tests use it to see that idle means asleep. */
    public long sleeps() {
        return sleeps.get();
    }

    public long rounds() {
        return rounds.get();
    }

    public boolean isSleeping() {
        return sleeping;
    }

    public Thread thread() {
        return thread;
    }

    private void run() {
        int idle = 0;
        while (running) {
            int work = doWork();
            if (work > 0) {
                idle = 0;
            } else if (++idle < SPIN_ROUNDS) {
                Thread.onSpinWait();
            } else if (idle < SPIN_ROUNDS + YIELD_ROUNDS) {
                Thread.yield();
            } else {
                sleep();
                idle = 0;
            }
        }
        Runnable c;
        while ((c = commands.poll()) != null) {
            c.run();
        }
    }

    private int doWork() {
        int work = 0;
        Runnable c;
        while ((c = commands.poll()) != null) {
            c.run();
            work++;
        }
        Pollable[] ps = active;
        for (Pollable p : ps) {
            p.beforePoll();
        }
        for (Pollable p : ps) {
            work += p.poll();
        }
        for (Pollable p : ps) {
            p.flush();
        }
        rounds.lazySet(rounds.get() + 1);
        return work;
    }

    private void sleep() {
        Pollable[] ps = active;
        sleeping = true;
        boolean mayWait = commands.isEmpty();
        for (Pollable p : ps) {
            mayWait &= p.prepareToSleep();
        }
        if (mayWait) {
            sleeps.incrementAndGet();
            try {
                int n = epoll.await(MAX_SLEEP_MILLIS);
                for (int i = 0; i < n; i++) {
                    drain(epoll.token(i));
                }
            } catch (NativeException e) {
                LOG.log(System.Logger.Level.ERROR, () -> name + ": epoll_wait failed: " + e.getMessage());
                LockSupport.parkNanos(1_000_000);
            }
        }
        sleeping = false;
        for (Pollable p : ps) {
            p.wokeUp();
        }
    }

    private void drain(long token) throws NativeException {
        if (token == WAKE_TOKEN) {
            wakeup.drain();
        } else {
            // A kick eventfd: reset its counter; the ring itself says what to do.
            LibC.readWord((int) token);
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            wakeup.signal();
        } catch (NativeException ignored) {
            // the thread also wakes within MAX_SLEEP_MILLIS
        }
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        epoll.close();
        wakeup.close();
    }
}
