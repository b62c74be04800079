package io.vnicd.testkit;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeersTest {
    @Test
    void shouldRequirePeersInCiOnly() {
        assertTrue(Peers.required(null, Map.of("CI", "true")));
        assertFalse(Peers.required(null, Map.of()));
        assertFalse(Peers.required(null, Map.of("CI", "false")));
    }

    @Test
    void shouldLetThePropertyOverrideTheEnvironment() {
        assertFalse(Peers.required("optional", Map.of("CI", "true")));
        assertTrue(Peers.required("required", Map.of()));
        assertThrows(IllegalArgumentException.class, () -> Peers.required("sometimes", Map.of()));
    }

    @Test
    void shouldFindExecutablesOnPathAndByPath() {
        assertEquals("/bin/sh", Peers.find("/bin/sh", "").orElseThrow().toString());
        assertEquals("/bin/sh", Peers.find("sh", "/nonexistent:/bin").orElseThrow().toString());
        assertTrue(Peers.find("sh", "/nonexistent").isEmpty());
        assertTrue(Peers.find("/etc/passwd", "").isEmpty(), "a file that is not executable is no peer");
    }
}
