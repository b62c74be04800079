package io.vnicd.virtio.datapath;

import io.vnicd.devmodel.port.Pollable;
import io.vnicd.nativeio.Epoll;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.LibC;
import io.vnicd.nativeio.NativeException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
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
    /*
     * Idle rounds: a few spins (work that comes back within a microsecond or so), then yields, then sleep. The
     * yields are most of the wait on purpose: on a core of its own sched_yield returns at once and costs a system
     * call, but when the core is shared with another poller (two peered daemons on one CPU, a daemon beside its
     * guests' vCPUs) it hands the core over at once instead of spinning out the rest of a time slice while the
     * thread that has the work waits for it.
     */
    private static final int SPIN_ROUNDS = 64;
    private static final int YIELD_ROUNDS = 2000;
    private static final long WAKE_TOKEN = -1L;
    /** Every kick fd carries this token: a kick only means "poll", and polling looks at every ring anyway. */
    private static final long KICK_TOKEN = -2L;
    /** Upper bound of one sleep: a safety net should a kick ever be missed. */
    private static final int MAX_SLEEP_MILLIS = 500;

    private final String name;
    private final Duration commandTimeout;
    private final ConcurrentLinkedQueue<Command> commands = new ConcurrentLinkedQueue<>();
    private final List<Pollable> pollables = new ArrayList<>();
    private Pollable[] active = new Pollable[0];
    private final Epoll epoll;
    private final EventFd wakeup;
    private final Thread thread;
    private final AtomicLong sleeps = new AtomicLong();
    private final AtomicLong rounds = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong rescues = new AtomicLong();
    private final Thread watchdog;
    /** The peer eventfd being written, or -1, and the number of that write: see {@link #signalPeer}. */
    private int writingFd = -1;
    private long writeSeq;
    private volatile boolean writeRescued;
    private static final VarHandle WRITING_FD;
    private static final VarHandle WRITE_SEQ;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            WRITING_FD = l.findVarHandle(DataPathAgent.class, "writingFd", int.class);
            WRITE_SEQ = l.findVarHandle(DataPathAgent.class, "writeSeq", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    private volatile boolean running = true;
    private volatile boolean sleeping;

    public DataPathAgent(String name) throws NativeException {
        this(name, Duration.ofSeconds(COMMAND_TIMEOUT_SECONDS));
    }

    /** With another command timeout (tests). */
    DataPathAgent(String name, Duration commandTimeout) throws NativeException {
        this.name = name;
        this.commandTimeout = commandTimeout;
        this.epoll = new Epoll(64);
        this.wakeup = EventFd.create();
        epoll.add(wakeup.fd(), WAKE_TOKEN);
        this.thread = Thread.ofPlatform().name("datapath-" + name).daemon().unstarted(this::run);
        this.watchdog = Thread.ofPlatform().name("datapath-watchdog-" + name).daemon().unstarted(this::watchWrites);
    }

    public void start() {
        thread.start();
        watchdog.start();
    }

    /**
     * Runs command on the data-path thread and waits until it ran (directly when called from that thread). A
     * command that has not started within the command timeout ({@link #COMMAND_TIMEOUT_SECONDS}) is withdrawn and never runs, so a
     * caller that gives up may release what the command would have used; one that has started is waited for.
     *
     * @throws IllegalStateException when the command was withdrawn, or failed (its exception as the cause)
     */
    public void execute(Runnable command) {
        if (Thread.currentThread() == thread || !thread.isAlive()) {
            command.run();
            return;
        }
        Command c = new Command(command);
        commands.add(c);
        wake();
        c.await(name, commandTimeout);
    }

    /** How long a caller waits for the data path to take its command before it withdraws it. */
    public static final int COMMAND_TIMEOUT_SECONDS = 10;

    /** A posted command: runs at most once, and not at all once withdrawn by a caller that stopped waiting. */
    private static final class Command {
        private static final int POSTED = 0;
        private static final int RUNNING = 1;
        private static final int WITHDRAWN = 2;
        private final AtomicInteger state = new AtomicInteger(POSTED);
        private final CompletableFuture<Void> done = new CompletableFuture<>();
        private final Runnable body;

        Command(Runnable body) {
            this.body = body;
        }

        /** On the data-path thread. */
        void run() {
            if (!state.compareAndSet(POSTED, RUNNING)) {
                return;
            }
            try {
                body.run();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        }

        void await(String agent, Duration timeout) {
            try {
                done.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
                return;
            } catch (ExecutionException e) {
                throw failure(e);
            } catch (TimeoutException e) {
                if (state.compareAndSet(POSTED, WITHDRAWN)) {
                    throw new IllegalStateException("data path " + agent + " did not take a command within "
                            + timeout.toMillis() + " ms; the command was withdrawn");
                }
            } catch (InterruptedException e) {
                if (state.compareAndSet(POSTED, WITHDRAWN)) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted waiting for data path " + agent);
                }
            }
            // It is running: what it touches must stay valid until it returns, so wait for it, however long.
            boolean interrupted = false;
            while (true) {
                try {
                    done.get();
                    break;
                } catch (ExecutionException e) {
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                    }
                    throw failure(e);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        private static RuntimeException failure(ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                return r;
            }
            return new IllegalStateException(e.getCause());
        }
    }

    /**
     * Signals an eventfd a peer owns (a queue's call fd), on the data-path thread. The descriptor was made
     * non-blocking when it was adopted, but the peer shares the open file and can make it blocking again and fill
     * its counter: then this write would block, and with it every VF of the PF. A watchdog sees a write that
     * lasts longer than {@link #BLOCKED_WRITE_MILLIS}, empties the eventfd so that the write completes, and this
     * returns false so that the queue stops.
     */
    public boolean signalPeer(EventFd fd) throws NativeException {
        // Opaque stores: the watchdog only needs to see them eventually; no fence on the data path.
        WRITE_SEQ.setOpaque(this, writeSeq + 1);
        WRITING_FD.setOpaque(this, fd.fd());
        try {
            fd.signal();
        } finally {
            WRITING_FD.setOpaque(this, -1);
        }
        if (writeRescued) {
            writeRescued = false;
            return false;
        }
        return true;
    }

    /** A write to a peer's eventfd lasting this long is taken as blocked. */
    static final long BLOCKED_WRITE_MILLIS = 500;

    /** The watchdog: rescues the data-path thread from a blocked write to a peer's eventfd (see signalPeer). */
    private void watchWrites() {
        long seenSeq = -1;
        long seenSince = 0;
        while (running) {
            LockSupport.parkNanos(100_000_000L);
            int fd = (int) WRITING_FD.getOpaque(this);
            long seq = (long) WRITE_SEQ.getOpaque(this);
            long now = System.nanoTime();
            if (fd < 0 || seq != seenSeq) {
                // no write under way, or another one than last time: start watching this one
                seenSeq = fd < 0 ? -1 : seq;
                seenSince = now;
                continue;
            }
            if (now - seenSince < BLOCKED_WRITE_MILLIS * 1_000_000L) {
                continue;
            }
            seenSeq = -1;
            writeRescued = true;
            rescues.incrementAndGet();
            try {
                // Non-blocking again, then empty the counter: the blocked write of 1 then fits and returns.
                int flags = LibC.fcntl(fd, LibC.F_GETFL, 0, "F_GETFL");
                LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK, "F_SETFL O_NONBLOCK");
                LibC.readWord(fd);
                LOG.log(System.Logger.Level.ERROR, () -> name + ": a write to a frontend's call eventfd (fd " + fd
                        + ") blocked the data path; it was released and the queue stopped");
            } catch (NativeException e) {
                LOG.log(System.Logger.Level.ERROR, () -> name + ": cannot release a blocked write to fd " + fd + ": " + e.getMessage());
            }
        }
    }

    /** Blocked writes to peers' eventfds the watchdog released. */
    public long rescuedWrites() {
        return rescues.get();
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

    /**
     * Wakes the thread whenever fd is signalled (a kick eventfd a frontend sent). Edge-triggered, so the thread
     * never reads it: nothing a frontend does with its end (emptying it, clearing O_NONBLOCK) can block the
     * data path. Call on the data-path thread, e.g. in a command.
     */
    public void watch(EventFd fd) {
        watch(fd.fd());
    }

    /** As {@link #watch(EventFd)}, for any descriptor that becomes readable when there is work (a NIC's socket). */
    public void watch(int fd) {
        try {
            epoll.addEdgeTriggered(fd, KICK_TOKEN);
        } catch (NativeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> name + ": cannot watch " + fd + ": " + e.getMessage());
        }
    }

    public void unwatch(EventFd fd) {
        unwatch(fd.fd());
    }

    public void unwatch(int fd) {
        epoll.remove(fd);
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
            int work;
            try {
                work = doWork();
            } catch (Throwable t) {
                // Last resort: doWork isolates each pollable, so this is the agent's own code failing. Keep the
                // thread: every VF of the PF depends on it.
                lastResort(t);
                work = 1;
            }
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
        Command c;
        while ((c = commands.poll()) != null) {
            c.run();
        }
    }

    private int doWork() {
        int work = 0;
        Command c;
        while ((c = commands.poll()) != null) {
            c.run();
            work++;
        }
        Pollable[] ps = active;
        for (Pollable p : ps) {
            try {
                p.beforePoll();
            } catch (Throwable t) {
                isolate(p, t);
            }
        }
        for (Pollable p : ps) {
            try {
                work += p.poll();
            } catch (Throwable t) {
                isolate(p, t);
            }
        }
        for (Pollable p : ps) {
            try {
                p.flush();
            } catch (Throwable t) {
                isolate(p, t);
            }
        }
        rounds.lazySet(rounds.get() + 1);
        return work;
    }

    /**
     * A pollable threw (a bug, or a fault in guest memory that its frontend shrank under it: the JVM turns that
     * SIGBUS into an InternalError): it is told to stop serving until reset, the rest keep running.
     */
    private void isolate(Pollable p, Throwable t) {
        failures.incrementAndGet();
        try {
            p.failed(t);
        } catch (Throwable again) {
            t.addSuppressed(again);
        }
        LOG.log(System.Logger.Level.ERROR, () -> name + ": " + p + " failed on the data path and was stopped", t);
    }

    private void lastResort(Throwable t) {
        failures.incrementAndGet();
        LOG.log(System.Logger.Level.ERROR, () -> name + ": the data-path round failed; the thread goes on", t);
    }

    /** Failures the data path isolated (a pollable stopped, or a round that failed). */
    public long failures() {
        return failures.get();
    }

    private void sleep() {
        Pollable[] ps = active;
        sleeping = true;
        boolean mayWait = commands.isEmpty();
        for (Pollable p : ps) {
            try {
                mayWait &= p.prepareToSleep();
            } catch (Throwable t) {
                isolate(p, t);
            }
        }
        if (mayWait) {
            sleeps.incrementAndGet();
            try {
                int n = epoll.await(MAX_SLEEP_MILLIS);
                for (int i = 0; i < n; i++) {
                    if (epoll.token(i) == WAKE_TOKEN) {
                        wakeup.drain();
                    }
                }
            } catch (NativeException e) {
                LOG.log(System.Logger.Level.ERROR, () -> name + ": epoll_wait failed: " + e.getMessage());
                LockSupport.parkNanos(1_000_000);
            }
        }
        sleeping = false;
        for (Pollable p : ps) {
            try {
                p.wokeUp();
            } catch (Throwable t) {
                isolate(p, t);
            }
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
        LockSupport.unpark(watchdog);
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        epoll.close();
        wakeup.close();
    }
}
