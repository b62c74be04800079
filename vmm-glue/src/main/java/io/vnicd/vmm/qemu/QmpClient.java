package io.vnicd.vmm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A client of QEMU's machine protocol (QMP) over its unix socket.
 *
 * <p>QMP is one JSON object per line in both directions (QEMU's docs/interop/qmp-spec.rst): a greeting,
 * then {@code qmp_capabilities} leaves capabilities negotiation mode, then commands carrying an {@code id}
 * that QEMU echoes in the {@code return} or {@code error} answer. Events arrive at any time, interleaved with
 * answers, so one reader thread owns the socket's input: it completes the pending call with the matching id,
 * or hands events to listeners and waiters. When the connection ends (QEMU quit, crashed or was killed) every
 * pending call and event wait fails with {@link QmpException#DISCONNECTED} instead of hanging.
 *
 * <p>Thread-safe: several threads may execute commands at once.
 */
public final class QmpClient implements AutoCloseable {
    /** How long a command waits for its answer unless told otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** How many past events are kept so a wait can match an event that came before the wait began. */
    private static final int EVENT_HISTORY = 256;

    private final ObjectMapper mapper = new ObjectMapper();
    private final Path socketPath;
    private final SocketChannel channel;
    private final BufferedReader reader;
    private final JsonNode greeting;
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final List<Consumer<QmpEvent>> listeners = new CopyOnWriteArrayList<>();
    private final Object eventLock = new Object();
    private final Deque<QmpEvent> history = new ArrayDeque<>();
    private final List<EventWait> eventWaits = new ArrayList<>();
    private final Thread readerThread;
    private volatile String closedReason;

    private record Pending(String command, CompletableFuture<JsonNode> answer) {
    }

    private record EventWait(String name, Predicate<QmpEvent> predicate, CompletableFuture<QmpEvent> result) {
        boolean matches(QmpEvent event) {
            return event.name().equals(name) && predicate.test(event);
        }
    }

    private QmpClient(Path socketPath, SocketChannel channel, Duration greetingTimeout) throws IOException {
        this.socketPath = socketPath;
        this.channel = channel;
        this.reader = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        // QEMU accepts on the QMP socket before its main loop runs (e.g. while a vhost-user chardev waits for its
        // backend) and greets only then; a socket channel has no read timeout, so a watchdog closes it.
        Thread watchdog = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(greetingTimeout);
                channel.close();
            } catch (InterruptedException | IOException e) {
                // Greeting arrived (interrupted) or the channel is already closed.
            }
        });
        String line;
        try {
            line = reader.readLine();
        } catch (IOException e) {
            throw new QmpException("greeting", QmpException.TIMEOUT, "no QMP greeting on " + socketPath + " within "
                    + greetingTimeout + " (QEMU still starting?)", e);
        } finally {
            watchdog.interrupt();
        }
        if (line == null) {
            throw new QmpException("greeting", QmpException.DISCONNECTED, "QEMU closed " + socketPath + " before its greeting");
        }
        this.greeting = mapper.readTree(line);
        if (!greeting.has("QMP")) {
            throw new QmpException("greeting", "Protocol", "expected a QMP greeting on " + socketPath + ", got " + line);
        }
        this.readerThread = Thread.ofPlatform().daemon().name("qmp-reader " + socketPath.getFileName()).unstarted(this::readLoop);
    }

    /**
     * Connects to a QMP socket, retrying while QEMU has not created it yet, and negotiates capabilities.
     *
     * @param socketPath the path given to {@code -qmp unix:PATH,server=on,wait=off}
     * @param connectTimeout how long to keep retrying the connection, and then how long to wait for the greeting
     */
    public static QmpClient connect(Path socketPath, Duration connectTimeout) throws IOException {
        long deadline = System.nanoTime() + connectTimeout.toNanos();
        SocketChannel channel;
        while (true) {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                channel.connect(UnixDomainSocketAddress.of(socketPath));
                break;
            } catch (IOException e) {
                channel.close();
                if (System.nanoTime() - deadline > 0) {
                    throw new QmpException("connect", QmpException.DISCONNECTED,
                            "no QMP socket accepting at " + socketPath + " after " + connectTimeout + ": " + e.getMessage(), e);
                }
                sleepQuietly(50);
            }
        }
        QmpClient client;
        try {
            client = new QmpClient(socketPath, channel, connectTimeout);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        client.readerThread.start();
        try {
            client.execute("qmp_capabilities", Map.of());
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    /** QEMU's greeting: {@code {"QMP": {"version": ..., "capabilities": [...]}}}. */
    public JsonNode greeting() {
        return greeting;
    }

    /** QEMU's version from the greeting, e.g. "7.2.22". */
    public String qemuVersion() {
        JsonNode q = greeting.path("QMP").path("version").path("qemu");
        return q.path("major").asInt() + "." + q.path("minor").asInt() + "." + q.path("micro").asInt();
    }

    /** Runs a command and returns its {@code return} member, waiting at most {@link #DEFAULT_TIMEOUT}. */
    public JsonNode execute(String command, Map<String, ?> arguments) throws QmpException {
        return execute(command, arguments, DEFAULT_TIMEOUT);
    }

    /**
     * Runs a command and returns its {@code return} member.
     *
     * @throws QmpException with QEMU's error class and description when QEMU refuses, with
     *     {@link QmpException#DISCONNECTED} when the connection ends first, {@link QmpException#TIMEOUT} on timeout
     */
    public JsonNode execute(String command, Map<String, ?> arguments, Duration timeout) throws QmpException {
        Objects.requireNonNull(command, "command");
        String reason = closedReason;
        if (reason != null) {
            throw new QmpException(command, QmpException.DISCONNECTED, reason);
        }
        String id = "vnicd-" + nextId.getAndIncrement();
        ObjectNode request = mapper.createObjectNode();
        request.put("execute", command);
        if (arguments != null && !arguments.isEmpty()) {
            request.set("arguments", mapper.valueToTree(arguments));
        }
        request.put("id", id);
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        pending.put(id, new Pending(command, answer));
        try {
            send(request);
            // The reader may have failed the pending calls before this one was registered.
            reason = closedReason;
            if (reason != null) {
                answer.completeExceptionally(new QmpException(command, QmpException.DISCONNECTED, reason));
            }
            return answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (IOException e) {
            throw new QmpException(command, QmpException.DISCONNECTED, "cannot write to " + socketPath + ": " + e.getMessage(), e);
        } catch (TimeoutException e) {
            throw new QmpException(command, QmpException.TIMEOUT, "no answer within " + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException(command, QmpException.DISCONNECTED, "interrupted while waiting for the answer", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QmpException q) {
                throw new QmpException(q.command(), q.errorClass(), q.description(), q);
            }
            throw new QmpException(command, "Protocol", String.valueOf(e.getCause()), e.getCause());
        } finally {
            pending.remove(id);
        }
    }

    /** The run state, from {@code query-status}. */
    public record Status(String status, boolean running, boolean singlestep) {
    }

    /** {@code query-status}: "running", "paused", "shutdown", ... */
    public Status queryStatus() throws QmpException {
        JsonNode r = execute("query-status", Map.of());
        return new Status(r.path("status").asText(), r.path("running").asBoolean(), r.path("singlestep").asBoolean());
    }

    /** {@code set_link}: takes a NIC's link down or up; name is a netdev or device id. The guest sees carrier change. */
    public void setLink(String name, boolean up) throws QmpException {
        execute("set_link", Map.of("name", name, "up", up));
    }

    /**
     * {@code netdev_add}: adds a host-side network backend, e.g.
     * {@code netdevAdd("socket", "n1", Map.of("listen", "127.0.0.1:5000"))} or
     * {@code netdevAdd("vhost-user", "n1", Map.of("chardev", "c1"))}.
     */
    public void netdevAdd(String type, String id, Map<String, ?> properties) throws QmpException {
        execute("netdev_add", arguments("type", type, id, properties));
    }

    /** {@code netdev_del}. */
    public void netdevDel(String id) throws QmpException {
        execute("netdev_del", Map.of("id", id));
    }

    /**
     * {@code chardev-add} of a unix stream socket, as a vhost-user netdev needs before {@code netdev_add}.
     *
     * @param server true when QEMU listens (the backend connects to it), false when QEMU connects to the backend
     */
    public void chardevAddUnixSocket(String id, Path path, boolean server) throws QmpException {
        chardevAddUnixSocket(id, path, server, 0);
    }

    /** {@code chardev-add} of a unix stream socket whose client side reconnects after reconnectSeconds (0: never). */
    public void chardevAddUnixSocket(String id, Path path, boolean server, int reconnectSeconds) throws QmpException {
        Map<String, Object> addr = Map.of("type", "unix", "data", Map.of("path", path.toString()));
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("addr", addr);
        data.put("server", server);
        if (server) {
            data.put("wait", false);
        } else if (reconnectSeconds > 0) {
            data.put("reconnect", reconnectSeconds);
        }
        execute("chardev-add", Map.of("id", id, "backend", Map.of("type", "socket", "data", data)));
    }

    /** {@code chardev-remove}. */
    public void chardevRemove(String id) throws QmpException {
        execute("chardev-remove", Map.of("id", id));
    }

    /** {@code device_add}, e.g. {@code deviceAdd("virtio-net-pci", "nic1", Map.of("netdev", "n1", "bus", "hp0"))}. */
    public void deviceAdd(String driver, String id, Map<String, ?> properties) throws QmpException {
        execute("device_add", arguments("driver", driver, id, properties));
    }

    /** The flat argument object of netdev_add and device_add: kind, id, then the properties in order. */
    private static Map<String, Object> arguments(String kindKey, String kind, String id, Map<String, ?> properties) {
        Map<String, Object> args = new LinkedHashMap<>();
        args.put(kindKey, kind);
        args.put("id", id);
        args.putAll(properties);
        return args;
    }

    /**
     * {@code device_del}: asks the guest to release a device. Removal completes later, when QEMU sends
     * {@code DEVICE_DELETED}; wait for it with {@code awaitEvent("DEVICE_DELETED", e -> id.equals(e.text("device")), t)}.
     */
    public void deviceDel(String id) throws QmpException {
        execute("device_del", Map.of("id", id));
    }

    /** {@code device_del}, then waits for the guest to release the device ({@code DEVICE_DELETED} for id). */
    public QmpEvent deviceDelAndWait(String id, Duration timeout) throws QmpException {
        CompletableFuture<QmpEvent> deleted = nextEvent("DEVICE_DELETED", e -> id.equals(e.text("device")));
        deviceDel(id);
        return await("DEVICE_DELETED", deleted, timeout);
    }

    /**
     * What query-migrate says of a migration: its status (none, setup, active, completed, failed, cancelled, ...), the
     * downtime the guest saw (ms, once completed), the total time (ms), and the error of a failed one.
     */
    public record MigrationStatus(String status, long downtimeMillis, long totalTimeMillis, long dirtySyncCount,
                                  String error) {
        public boolean finished() {
            return status.equals("completed") || status.equals("failed") || status.equals("cancelled");
        }
    }

    /** Starts a live migration to uri (e.g. "unix:/run/mig.sock", "tcp:127.0.0.1:4444"); returns at once. */
    public void migrate(String uri) throws QmpException {
        execute("migrate", Map.of("uri", uri));
    }

    /** On a QEMU started with {@code -incoming defer}: accept the incoming migration at uri. */
    public void migrateIncoming(String uri) throws QmpException {
        execute("migrate-incoming", Map.of("uri", uri));
    }

    public MigrationStatus queryMigrate() throws QmpException {
        JsonNode r = execute("query-migrate", Map.of());
        JsonNode ram = r.path("ram");
        return new MigrationStatus(r.path("status").asText("none"), r.path("downtime").asLong(-1),
                r.path("total-time").asLong(-1), ram.path("dirty-sync-count").asLong(0),
                r.path("error-desc").asText(null));
    }

    /** Polls query-migrate until the migration finished (or timeout passed); returns its last status. */
    public MigrationStatus awaitMigration(Duration timeout) throws QmpException {
        long deadline = System.nanoTime() + timeout.toNanos();
        MigrationStatus m = queryMigrate();
        while (!m.finished() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            m = queryMigrate();
        }
        return m;
    }

    /**
     * {@code quit}: QEMU answers, sends {@code SHUTDOWN} and exits. A connection that closes before the
     * answer arrives counts as success, because that is QEMU doing what was asked.
     */
    public void quit() throws QmpException {
        try {
            execute("quit", Map.of(), Duration.ofSeconds(10));
        } catch (QmpException e) {
            if (!QmpException.DISCONNECTED.equals(e.errorClass())) {
                throw e;
            }
        }
    }

    /** Calls listener on the reader thread for every event from now on; it must not block. */
    public void addEventListener(Consumer<QmpEvent> listener) {
        listeners.add(listener);
    }

    public void removeEventListener(Consumer<QmpEvent> listener) {
        listeners.remove(listener);
    }

    /** The events received so far (the most recent {@value #EVENT_HISTORY}), oldest first. */
    public List<QmpEvent> events() {
        synchronized (eventLock) {
            return List.copyOf(history);
        }
    }

    /**
     * Waits for an event named name that satisfies predicate, including one that already arrived (it is in
     * {@link #events()}): suits events that happen once, such as {@code SHUTDOWN} after {@link #quit()} or the
     * {@code DEVICE_DELETED} of one device id. For the next occurrence of a repeating event use {@link #nextEvent}.
     */
    public QmpEvent awaitEvent(String name, Predicate<QmpEvent> predicate, Duration timeout) throws QmpException {
        CompletableFuture<QmpEvent> result;
        synchronized (eventLock) {
            for (QmpEvent e : history) {
                if (e.name().equals(name) && predicate.test(e)) {
                    return e;
                }
            }
            result = registerWait(name, predicate);
        }
        return await(name, result, timeout);
    }

    /** The next event named name satisfying predicate that arrives after this call; complete it with get(). */
    public CompletableFuture<QmpEvent> nextEvent(String name, Predicate<QmpEvent> predicate) {
        synchronized (eventLock) {
            return registerWait(name, predicate);
        }
    }

    private CompletableFuture<QmpEvent> registerWait(String name, Predicate<QmpEvent> predicate) {
        CompletableFuture<QmpEvent> result = new CompletableFuture<>();
        String reason = closedReason;
        if (reason != null) {
            result.completeExceptionally(new QmpException("event " + name, QmpException.DISCONNECTED, reason));
        } else {
            eventWaits.add(new EventWait(name, predicate, result));
        }
        return result;
    }

    private static QmpEvent await(String name, CompletableFuture<QmpEvent> result, Duration timeout) throws QmpException {
        try {
            return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            result.cancel(false);
            throw new QmpException("event " + name, QmpException.TIMEOUT, "no " + name + " event within " + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("event " + name, QmpException.DISCONNECTED, "interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QmpException q) {
                throw new QmpException(q.command(), q.errorClass(), q.description(), q);
            }
            throw new QmpException("event " + name, "Protocol", String.valueOf(e.getCause()), e.getCause());
        }
    }

    /** True until the connection ends. */
    public boolean isConnected() {
        return closedReason == null;
    }

    /** Closes the connection; pending calls and waits fail with {@link QmpException#DISCONNECTED}. */
    @Override
    public void close() {
        failAll("QMP connection to " + socketPath + " closed by vnicd");
        try {
            channel.close();
        } catch (IOException ignored) {
            // Closing a socket we own: nothing useful to do with a failure.
        }
        if (readerThread.isAlive() && Thread.currentThread() != readerThread) {
            try {
                readerThread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void send(ObjectNode request) throws IOException {
        byte[] bytes = (mapper.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        synchronized (channel) {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        }
    }

    private void readLoop() {
        String reason = "QEMU closed the QMP connection " + socketPath + " (it quit or died)";
        try {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                dispatch(mapper.readTree(line));
            }
        } catch (IOException e) {
            if (closedReason == null) {
                reason = "QMP connection " + socketPath + " failed: " + e.getMessage();
            }
        } finally {
            failAll(reason);
        }
    }

    private void dispatch(JsonNode message) {
        if (message.has("event")) {
            JsonNode ts = message.path("timestamp");
            long micros = ts.path("seconds").asLong() * 1_000_000L + ts.path("microseconds").asLong();
            JsonNode data = message.has("data") ? message.get("data") : mapper.createObjectNode();
            deliver(new QmpEvent(message.get("event").asText(), data, micros));
            return;
        }
        JsonNode id = message.get("id");
        Pending call = id == null ? null : pending.get(id.asText());
        if (call == null) {
            return; // an answer nobody waits for any more (timed out)
        }
        if (message.has("error")) {
            JsonNode error = message.get("error");
            call.answer().completeExceptionally(new QmpException(call.command(),
                    error.path("class").asText("GenericError"), error.path("desc").asText("")));
        } else {
            call.answer().complete(message.has("return") ? message.get("return") : mapper.createObjectNode());
        }
    }

    private void deliver(QmpEvent event) {
        List<EventWait> matched = new ArrayList<>();
        synchronized (eventLock) {
            if (history.size() == EVENT_HISTORY) {
                history.removeFirst();
            }
            history.addLast(event);
            eventWaits.removeIf(w -> w.result().isDone());
            for (EventWait w : eventWaits) {
                if (w.matches(event)) {
                    matched.add(w);
                }
            }
            eventWaits.removeAll(matched);
        }
        for (EventWait w : matched) {
            w.result().complete(event);
        }
        for (Consumer<QmpEvent> listener : listeners) {
            try {
                listener.accept(event);
            } catch (RuntimeException e) {
                // A faulty listener must not stop the reader: answers would never arrive.
                System.getLogger(QmpClient.class.getName()).log(System.Logger.Level.WARNING,
                        "QMP event listener failed on " + event.name(), e);
            }
        }
    }

    private void failAll(String reason) {
        List<EventWait> waits;
        synchronized (eventLock) {
            if (closedReason == null) {
                closedReason = reason;
            }
            waits = new ArrayList<>(eventWaits);
            eventWaits.clear();
        }
        String why = closedReason;
        for (EventWait w : waits) {
            w.result().completeExceptionally(new QmpException("event " + w.name(), QmpException.DISCONNECTED, why));
        }
        for (Pending call : pending.values()) {
            call.answer().completeExceptionally(new QmpException(call.command(), QmpException.DISCONNECTED, why));
        }
    }

    private static void sleepQuietly(long millis) throws QmpException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("connect", QmpException.DISCONNECTED, "interrupted", e);
        }
    }
}
