package io.vnicd.tests.containers;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Pins the Docker API version Testcontainers speaks to the one the local engine offers, when that engine is older
 * than Testcontainers' default.
 *
 * <p>Why: Testcontainers 2.0.2 asks for API 1.44 unless told otherwise (so that Docker 29 accepts it), but the engine
 * Debian 12 ships (docker.io 20.10) speaks at most 1.41 and answers 1.44 requests with "client version is too new".
 * Before any test runs, this listener asks the engine's unversioned {@code GET /version} and, if its ApiVersion is
 * below 1.44, sets the system property {@code api.version} that docker-java reads. An explicit {@code api.version}
 * property or {@code DOCKER_API_VERSION} wins; no engine, or one that does not answer within a few seconds, changes
 * nothing (the container tests then fail in CI and skip elsewhere: {@link GuestContainer#requireEngine()}).
 * Registered in META-INF/services/org.junit.platform.launcher.LauncherSessionListener.
 */
public final class EngineApiVersion implements LauncherSessionListener {
    /** docker-java's configuration key, read from system properties. */
    static final String PROPERTY = "api.version";
    /** What Testcontainers 2.0.2 uses when no version is configured. */
    static final int[] TESTCONTAINERS_DEFAULT = {1, 44};
    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(3);
    private static final Pattern API_VERSION = Pattern.compile("\"ApiVersion\"\\s*:\\s*\"(\\d+)\\.(\\d+)\"");

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        if (System.getProperty(PROPERTY) != null || System.getenv("DOCKER_API_VERSION") != null) {
            return;
        }
        engineSocket().flatMap(EngineApiVersion::ask).ifPresent(version -> {
            if (older(version, TESTCONTAINERS_DEFAULT)) {
                System.setProperty(PROPERTY, version[0] + "." + version[1]);
            }
        });
    }

    /** The engine's unix socket: DOCKER_HOST when it names one, else the default path. */
    static Optional<Path> engineSocket() {
        String host = System.getenv("DOCKER_HOST");
        Path socket = host == null || host.isBlank() ? Path.of("/var/run/docker.sock")
                : host.startsWith("unix://") ? Path.of(host.substring("unix://".length())) : null;
        return socket != null && Files.exists(socket) ? Optional.of(socket) : Optional.empty();
    }

    /** The engine's highest API version, or empty if it does not answer in time. */
    static Optional<int[]> ask(Path socket) {
        AtomicReference<String> answer = new AtomicReference<>();
        // A virtual thread so that an engine that accepts but never answers cannot hang the test run:
        // interrupting a thread blocked on a SocketChannel closes the channel.
        Thread asker = Thread.ofVirtual().start(() -> {
            try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                channel.connect(UnixDomainSocketAddress.of(socket));
                channel.write(ByteBuffer.wrap("GET /version HTTP/1.0\r\nHost: docker\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
                ByteArrayOutputStream response = new ByteArrayOutputStream();
                ByteBuffer buffer = ByteBuffer.allocate(4096);
                while (channel.read(buffer) >= 0) {
                    response.write(buffer.array(), 0, buffer.position());
                    buffer.clear();
                }
                answer.set(response.toString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // No engine there: nothing to pin.
            }
        });
        try {
            if (!asker.join(ASK_TIMEOUT)) {
                asker.interrupt();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            asker.interrupt();
        }
        String response = answer.get();
        if (response == null) {
            return Optional.empty();
        }
        Matcher matcher = API_VERSION.matcher(response);
        return matcher.find()
                ? Optional.of(new int[] {Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2))})
                : Optional.empty();
    }

    static boolean older(int[] version, int[] than) {
        return version[0] != than[0] ? version[0] < than[0] : version[1] < than[1];
    }
}
