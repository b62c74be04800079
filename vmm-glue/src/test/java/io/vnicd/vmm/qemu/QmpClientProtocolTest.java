package io.vnicd.vmm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The QMP client against a scripted server: what it does with answers, errors, events and a vanishing QEMU. */
@SuppressWarnings("try") // the scripted server is a resource the test bodies never name: it works through its script
class QmpClientProtocolTest {
    private static final Duration LONG = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void shouldReturnTheAnswerCarryingTheCallsIdWhenAnswersComeOutOfOrder() throws Exception {
        CountDownLatch bothAsked = new CountDownLatch(2);
        List<JsonNode> asked = new CopyOnWriteArrayList<>();
        try (ScriptedQmpServer server = new ScriptedQmpServer(dir.resolve("qmp"), true, (request, s) -> {
            asked.add(request);
            bothAsked.countDown();
            if (asked.size() == 2) {
                s.answer(asked.get(1), "{\"who\": \"" + asked.get(1).path("execute").asText() + "\"}");
                s.answer(asked.get(0), "{\"who\": \"" + asked.get(0).path("execute").asText() + "\"}");
            }
        }); QmpClient qmp = QmpClient.connect(dir.resolve("qmp"), LONG)) {
            CompletableFuture<JsonNode> first = CompletableFuture.supplyAsync(() -> call(qmp, "first"));
            CompletableFuture<JsonNode> second = CompletableFuture.supplyAsync(() -> call(qmp, "second"));

            assertTrue(bothAsked.await(30, TimeUnit.SECONDS));
            assertEquals("first", first.get(30, TimeUnit.SECONDS).path("who").asText());
            assertEquals("second", second.get(30, TimeUnit.SECONDS).path("who").asText());
            assertEquals("7.2.0", qmp.qemuVersion());
        }
    }

    @Test
    void shouldThrowQemuErrorClassAndDescription() throws Exception {
        try (ScriptedQmpServer server = new ScriptedQmpServer(dir.resolve("qmp"), true,
                (request, s) -> s.error(request, "DeviceNotFound", "Device 'nic9' not found"));
             QmpClient qmp = QmpClient.connect(dir.resolve("qmp"), LONG)) {

            QmpException e = assertThrows(QmpException.class, () -> qmp.setLink("nic9", false));

            assertEquals("set_link", e.command());
            assertEquals("DeviceNotFound", e.errorClass());
            assertEquals("Device 'nic9' not found", e.description());
        }
    }

    @Test
    void shouldDeliverEventsToListenersAndToWaitsBeforeAndAfterTheyArrive() throws Exception {
        try (ScriptedQmpServer server = new ScriptedQmpServer(dir.resolve("qmp"), true, (request, s) -> {
            s.event("NIC_RX_FILTER_CHANGED", "{\"name\": \"vf0\", \"path\": \"/machine/peripheral/vf0/virtio-backend\"}");
            s.event("DEVICE_DELETED", "{\"device\": \"vf1\", \"path\": \"/machine/peripheral/vf1\"}");
            s.answer(request, "{}");
        }); QmpClient qmp = QmpClient.connect(dir.resolve("qmp"), LONG)) {
            List<QmpEvent> heard = new CopyOnWriteArrayList<>();
            qmp.addEventListener(heard::add);
            CompletableFuture<QmpEvent> next = qmp.nextEvent("DEVICE_DELETED", e -> "vf1".equals(e.text("device")));

            qmp.deviceDel("vf1");
            QmpEvent filter = qmp.awaitEvent("NIC_RX_FILTER_CHANGED", e -> "vf0".equals(e.text("name")), LONG);

            assertEquals("vf1", next.get(30, TimeUnit.SECONDS).text("device"));
            assertEquals(1_700_000_000_000_005L, filter.timestampMicros());
            assertEquals(List.of("NIC_RX_FILTER_CHANGED", "DEVICE_DELETED"), heard.stream().map(QmpEvent::name).toList());
            assertEquals(2, qmp.events().size());
        }
    }

    @Test
    void shouldFailPendingCallsAndWaitsWhenQemuGoesAway() throws Exception {
        try (ScriptedQmpServer server = new ScriptedQmpServer(dir.resolve("qmp"), true, (request, s) -> s.hangUp());
             QmpClient qmp = QmpClient.connect(dir.resolve("qmp"), LONG)) {
            CompletableFuture<QmpEvent> never = qmp.nextEvent("SHUTDOWN", e -> true);

            QmpException pending = assertThrows(QmpException.class, qmp::queryStatus);
            QmpException after = assertThrows(QmpException.class, qmp::queryStatus);
            QmpException wait = assertThrows(QmpException.class, () -> qmp.awaitEvent("RESUME", e -> true, LONG));

            assertEquals(QmpException.DISCONNECTED, pending.errorClass());
            assertEquals(QmpException.DISCONNECTED, after.errorClass());
            assertEquals(QmpException.DISCONNECTED, wait.errorClass());
            ExecutionException failed = assertThrows(ExecutionException.class, () -> never.get(30, TimeUnit.SECONDS));
            assertEquals(QmpException.DISCONNECTED, ((QmpException) failed.getCause()).errorClass());
            assertFalse(qmp.isConnected());
        }
    }

    @Test
    void shouldTreatHangUpAfterQuitAsSuccess() throws Exception {
        try (ScriptedQmpServer server = new ScriptedQmpServer(dir.resolve("qmp"), true, (request, s) -> s.hangUp());
             QmpClient qmp = QmpClient.connect(dir.resolve("qmp"), LONG)) {

            qmp.quit();

            assertFalse(qmp.isConnected());
        }
    }

    @Test
    void shouldGiveUpWhenNoGreetingArrives() throws Exception {
        try (ScriptedQmpServer server = new ScriptedQmpServer(dir.resolve("qmp"), false, (request, s) -> { })) {

            QmpException e = assertThrows(QmpException.class, () -> QmpClient.connect(dir.resolve("qmp"), Duration.ofMillis(300)));

            assertEquals(QmpException.TIMEOUT, e.errorClass());
        }
    }

    @Test
    void shouldTimeOutACallQemuNeverAnswers() throws Exception {
        try (ScriptedQmpServer server = new ScriptedQmpServer(dir.resolve("qmp"), true, (request, s) -> { });
             QmpClient qmp = QmpClient.connect(dir.resolve("qmp"), LONG)) {

            QmpException e = assertThrows(QmpException.class,
                    () -> qmp.execute("query-status", Map.of(), Duration.ofMillis(200)));

            assertEquals(QmpException.TIMEOUT, e.errorClass());
            assertTrue(qmp.isConnected(), "a slow answer does not end the connection");
        }
    }

    private static JsonNode call(QmpClient qmp, String command) {
        try {
            return qmp.execute(command, Map.of());
        } catch (QmpException e) {
            throw new IllegalStateException(e);
        }
    }
}
