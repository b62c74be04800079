package io.vnicd.tests.qemu;

import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Two test guests wired NIC to NIC by a QEMU TCP socket netdev, no vnicd in between: proves the guest image,
 * its init jobs and the launcher before vnicd is put on the path.
 */
@Tag("slow")
class TwoGuestsOverSocketTest {
    /** The line guests/init repeats to make a TCP stream (yes PATTERN | head -c BYTES). */
    private static final String PATTERN = "vnicd test stream 0123456789abcdefghijklmnopqrstuvwxyz\n";
    private static final int BYTES = 2_000_000;

    @TempDir
    Path dir;

    @Test
    void shouldPingPlainAndOverVlanAndStreamKnownBytesIntactBetweenTwoGuests() throws Exception {
        int port = TestGuests.freePort();
        try (QemuGuest receiver = TestGuests.guest(dir, "rx")
                .nic(QemuNic.socketListen("nic0", "52:54:00:00:00:01", port))
                .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.vlan=eth0:100:10.0.100.1/24", "vnicd.run=tcp-recv:5001",
                        "vnicd.run=respond:2")
                .build().start()) {
            TestGuests.awaitListening(port, Duration.ofSeconds(20));
            try (QemuGuest sender = TestGuests.guest(dir, "tx")
                    .nic(QemuNic.socketConnect("nic0", "52:54:00:00:00:02", port))
                    .kernelArgs("vnicd.ip=eth0:10.0.0.2/24", "vnicd.vlan=eth0:100:10.0.100.2/24", "vnicd.run=ping:10.0.0.1:5",
                            "vnicd.run=ping:10.0.100.1:3:1400", "vnicd.run=tcp-send:10.0.0.1:5001:" + BYTES)
                    .build().start()) {

                Matcher ping = sender.awaitConsole(Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)"),
                        TestGuests.BOOT);
                Matcher vlanPing = sender.awaitConsole(Pattern.compile("result ping target=10.0.100.1 sent=(\\d+) received=(\\d+)"),
                        TestGuests.BOOT);
                Matcher sent = sender.awaitConsole(Pattern.compile("result tcp-send bytes=(\\d+) md5=(\\w+) rc=(\\d+)"),
                        TestGuests.BOOT);
                Matcher received = receiver.awaitConsole(Pattern.compile("result tcp-recv bytes=(\\d+) md5=(\\w+)"),
                        TestGuests.BOOT);

                assertEquals("5", ping.group(1));
                assertEquals("5", ping.group(2), "all pings answered");
                assertEquals("3", vlanPing.group(2), "1400-byte pings answered over VLAN 100");
                assertEquals("0", sent.group(3), "nc sent without error");
                assertEquals(String.valueOf(BYTES), received.group(1));
                assertEquals(expectedMd5(), received.group(2), "the stream arrived intact");
                assertEquals(sent.group(2), received.group(2));
                sender.awaitMarker("done", TestGuests.BOOT);
                receiver.awaitMarker("done", TestGuests.BOOT);
            }
        }
    }

    private static String expectedMd5() throws Exception {
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        byte[] line = PATTERN.getBytes(StandardCharsets.US_ASCII);
        int left = BYTES;
        while (left > 0) {
            int n = Math.min(left, line.length);
            md5.update(line, 0, n);
            left -= n;
        }
        return HexFormat.of().formatHex(md5.digest());
    }
}
