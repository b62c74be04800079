package io.vnicd.testkit;

import org.junit.jupiter.api.Assumptions;
import org.opentest4j.AssertionFailedError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The one rule for a real peer a test needs (QEMU, DPDK testpmd, tshark, the Docker engine, a kernel image):
 * in CI a missing peer fails the test, saying what is missing, because a suite that passes by skipping proves
 * nothing; on a developer's machine the test is skipped with the same words.
 *
 * <p>CI is recognised by the environment variable {@code CI=true} (set by CI runners and by {@code .ci/run});
 * the system property {@code vnicd.peers=required} asks for the same strictness anywhere, {@code vnicd.peers=optional}
 * relaxes it.
 */
public final class Peers {
    private Peers() {
    }

    /** True when a missing peer fails the test instead of skipping it. */
    public static boolean required() {
        return required(System.getProperty("vnicd.peers"), System.getenv());
    }

    static boolean required(String property, Map<String, String> env) {
        if (property != null && !property.isBlank()) {
            return switch (property.strip()) {
                case "required" -> true;
                case "optional" -> false;
                default -> throw new IllegalArgumentException("vnicd.peers must be required or optional: " + property);
            };
        }
        return "true".equalsIgnoreCase(env.getOrDefault("CI", "").strip());
    }

    /**
     * Goes on when present; otherwise fails the test (CI) or skips it, naming the peer.
     *
     * @param what the missing peer and how to get it, e.g. "QEMU (apt-get install qemu-system-x86)"
     */
    public static void require(boolean present, String what) {
        if (!present) {
            missing(what);
        }
    }

    /**
     * The executable named (a path, or a name looked up on PATH), or a failure / skip naming it.
     *
     * @param what how to get it, e.g. "apt-get install tshark"
     */
    public static Path executable(String nameOrPath, String what) {
        Optional<Path> found = find(nameOrPath, System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        if (found.isEmpty()) {
            missing(nameOrPath + " (" + what + ")");
        }
        return found.orElseThrow();
    }

    static Optional<Path> find(String nameOrPath, String path) {
        if (nameOrPath.contains("/")) {
            Path p = Path.of(nameOrPath);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        for (String dir : path.split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, nameOrPath);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private static void missing(String what) {
        if (required()) {
            throw new AssertionFailedError("missing peer: " + what + " (a peer is required in CI; CI=true)");
        }
        Assumptions.abort("skipped, missing peer: " + what + " (in CI, with CI=true, this fails)");
    }
}
