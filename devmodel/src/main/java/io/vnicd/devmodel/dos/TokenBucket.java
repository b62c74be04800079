package io.vnicd.devmodel.dos;

/**
 * A frame budget: up to {@code burst} frames at once, refilled by {@code framesPerInterval} at each whole
 * interval that has passed. Time comes in as an argument (nanoseconds from any fixed origin) so tests can
 * drive it tick by tick. Refilling in whole intervals keeps the arithmetic exact, with no drift.
 *
 * <p>Owned by one data-path thread.
 */
public final class TokenBucket {
    private final long burst;
    private final long framesPerInterval;
    private final long intervalNanos;
    private long tokens;
    private long lastRefill;

    /**
     * @param framesPerInterval frames admitted per interval, at least 1
     * @param intervalNanos     length of an interval, at least 1
     * @param burst             most frames held at once, at least {@code framesPerInterval}
     * @param nowNanos          the time now: the bucket starts full
     */
    public TokenBucket(long framesPerInterval, long intervalNanos, long burst, long nowNanos) {
        if (framesPerInterval < 1 || intervalNanos < 1 || burst < framesPerInterval) {
            throw new IllegalArgumentException("token bucket needs framesPerInterval >= 1, intervalNanos >= 1, burst >= framesPerInterval; got "
                    + framesPerInterval + ", " + intervalNanos + ", " + burst);
        }
        this.burst = burst;
        this.framesPerInterval = framesPerInterval;
        this.intervalNanos = intervalNanos;
        this.tokens = burst;
        this.lastRefill = nowNanos;
    }

    /** Takes one frame's token if there is one. */
    public boolean tryTake(long nowNanos) {
        long elapsed = nowNanos - lastRefill;
        if (elapsed >= intervalNanos) {
            long intervals = elapsed / intervalNanos;
            lastRefill += intervals * intervalNanos;
            // Saturate before multiplying: a bucket idle for ages must not overflow.
            tokens = intervals >= burst ? burst : Math.min(burst, tokens + intervals * framesPerInterval);
        }
        if (tokens > 0) {
            tokens--;
            return true;
        }
        return false;
    }

    public long framesPerInterval() {
        return framesPerInterval;
    }

    public long intervalNanos() {
        return intervalNanos;
    }

    @Override
    public String toString() {
        return framesPerInterval + " frames / " + intervalNanos + " ns, burst " + burst;
    }
}
