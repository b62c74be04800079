package io.vnicd.virtio.net;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The VF TX token bucket: rates as operators write them, and the bucket's arithmetic on a clock of its own. */
class TxShaperTest {
    @Test
    void shouldParseRatesAsOperatorsWriteThem() {
        assertEquals(100_000_000L, TxShaper.parseRate("100mbit"));
        assertEquals(1_500_000_000L, TxShaper.parseRate("1.5gbit"));
        assertEquals(800_000L, TxShaper.parseRate("800k"));
        assertEquals(8_000L, TxShaper.parseRate("8kbps"));
        assertEquals(0L, TxShaper.parseRate("0"));
        assertEquals(25_000_000L, TxShaper.parseRate(" 25M "));
        for (String bad : new String[] {"fast", "-1mbit", "7999", "2000gbit", "NaN", "", "1e400"}) {
            assertThrows(IllegalArgumentException.class, () -> TxShaper.parseRate(bad), bad);
        }
    }

    @Test
    void shouldAdmitAtTheRateAfterTheBurst() {
        long t = 1_000_000_000L;
        TxShaper s = new TxShaper(8_000_000L, t);          // 1 byte per microsecond
        assertEquals(8_000_000L, s.bitsPerSecond());
        assertTrue(s.admit(t), "a full bucket at first");
        s.consume(2L * NetQueuePair.MAX_FRAME + 10_000);     // the burst and 10 kB more
        assertFalse(s.admit(t + 9_000_000L), "9 ms later 1 kB of the debt remains");
        assertTrue(s.admit(t + 10_100_000L), "10.1 ms later the debt is repaid");
        s.consume(1_000_000);
        assertFalse(s.admit(t + 1_000_000_000L), "a megabyte of debt takes a second at 1 MB/s");
        assertTrue(s.admit(t + 1_020_000_000L));
        // idle time fills the bucket to its burst only
        assertTrue(s.admit(t + 100_000_000_000L));
        s.consume(2L * NetQueuePair.MAX_FRAME + 1);
        assertFalse(s.admit(t + 100_000_000_000L), "no more than the burst was saved up");
    }
}
