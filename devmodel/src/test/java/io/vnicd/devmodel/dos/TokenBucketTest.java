package io.vnicd.devmodel.dos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TokenBucketTest {
    static int take(TokenBucket b, long now, int attempts) {
        int n = 0;
        for (int i = 0; i < attempts; i++) {
            if (b.tryTake(now)) {
                n++;
            }
        }
        return n;
    }

    @Test
    void shouldAdmitTheBudgetOfEachWholeInterval() {
        TokenBucket b = new TokenBucket(10, 1_000, 10, 0);
        assertEquals(10, take(b, 0, 100), "starts full");
        assertEquals(0, take(b, 999, 100), "nothing before the interval ends");
        assertEquals(10, take(b, 1_000, 100));
        assertEquals(10, take(b, 2_500, 100));
        assertEquals(0, take(b, 2_999, 100), "the half interval left over is not lost nor given early");
        assertEquals(10, take(b, 3_000, 100));
    }

    @Test
    void shouldCapTheBurstAfterAnIdleSpell() {
        TokenBucket b = new TokenBucket(10, 1_000, 25, 0);
        assertEquals(25, take(b, 0, 100));
        assertEquals(25, take(b, Long.MAX_VALUE / 2, 100), "a long idle spell neither overflows nor exceeds the burst");
    }

    @Test
    void shouldRefuseAnImpossibleBudget() {
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(0, 1_000, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(10, 0, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(10, 1_000, 5, 0));
    }
}
