package io.vnicd.tests.containers;

import io.vnicd.testkit.Peers;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InitramfsTest {
    @TempDir
    Path dir;

    @Test
    void shouldWriteAnArchiveThatGnuCpioListsEntryByEntry() throws Exception {
        Peers.executable("/usr/bin/cpio", "GNU cpio lists the archive: apt-get install cpio");
        Path archive = dir.resolve("initramfs.gz");
        try (Initramfs initramfs = Initramfs.create(archive)) {
            initramfs.directory("bin")
                    .directory("dev")
                    .charDevice("dev/console", 0600, 5, 1)
                    .file("bin/hello", 0755, "odd-length!".getBytes(StandardCharsets.US_ASCII))
                    .symlink("bin/sh", "hello")
                    .file("init", 0755, "#!/bin/sh\n".getBytes(StandardCharsets.US_ASCII));
        }
        Path cpio = dir.resolve("initramfs.cpio");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(archive))) {
            Files.copy(in, cpio);
        }
        Process list = new ProcessBuilder("/usr/bin/cpio", "-itv", "--quiet", "-F", cpio.toString())
                .redirectErrorStream(true).start();
        String listing = new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, list.waitFor(), listing);
        List<String> lines = listing.lines().toList();
        assertEquals(6, lines.size(), listing);
        assertTrue(lines.get(0).startsWith("drwxr-xr-x") && lines.get(0).endsWith(" bin"), listing);
        assertTrue(lines.get(2).startsWith("crw-------") && lines.get(2).contains("5,") && lines.get(2).endsWith(" dev/console"), listing);
        assertTrue(lines.get(3).startsWith("-rwxr-xr-x") && lines.get(3).contains(" 11 ") && lines.get(3).endsWith(" bin/hello"), listing);
        assertTrue(lines.get(4).startsWith("lrwxrwxrwx") && lines.get(4).endsWith(" bin/sh -> hello"), listing);
        assertTrue(lines.get(5).endsWith(" init"), listing);
    }

    @Test
    void shouldPadEveryEntryToFourBytes() throws IOException {
        Path archive = dir.resolve("padded.gz");
        try (Initramfs initramfs = Initramfs.create(archive)) {
            initramfs.file("a", 0644, new byte[] {1, 2, 3});
        }
        byte[] raw;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(archive))) {
            raw = in.readAllBytes();
        }
        assertEquals(0, raw.length % 4);
        // Second header starts after 110 + "a\0" (112) + 3 data bytes padded to 4: at 116.
        assertEquals(Initramfs.MAGIC, new String(raw, 116, 6, StandardCharsets.US_ASCII));
    }
}
