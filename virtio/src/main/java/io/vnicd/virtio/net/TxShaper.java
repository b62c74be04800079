package io.vnicd.virtio.net;

/**
 * A token bucket on what a VF transmits (ip link's {@code max_tx_rate}, Crossbow's {@code maxbw}): bytes accrue at
 * the rate up to a burst; while the bucket is empty the VF's TX queues are left alone, so the frames wait in the
 * guest's own ring and its driver's queue fills, as on a NIC that shapes; nothing is dropped. A round may overdraw
 * the bucket by its frames, repaid before the next. Data-path thread only, except {@link #setRate}'s callers post
 * it there.
 */
public final class TxShaper {
    /** Bytes the bucket holds at most, as time at the rate (and at least two of the largest frames). */
    private static final long BURST_NANOS = 5_000_000L;

    private final double bytesPerNano;
    private final double burst;
    private double tokens;
    private long last;

    /** @param bitsPerSecond the rate, at least 8000 (1 kB/s) */
    public TxShaper(long bitsPerSecond, long now) {
        if (bitsPerSecond < 8000) {
            throw new IllegalArgumentException("a rate below 8 kbit/s: " + bitsPerSecond);
        }
        this.bytesPerNano = bitsPerSecond / 8e9;
        this.burst = Math.max(bytesPerNano * BURST_NANOS, 2.0 * NetQueuePair.MAX_FRAME);
        this.tokens = burst;
        this.last = now;
    }

    public long bitsPerSecond() {
        return Math.round(bytesPerNano * 8e9);
    }

    /** True when the VF may transmit now (the bucket, refilled to now, is not in debt). */
    public boolean admit(long now) {
        long elapsed = now - last;
        if (elapsed > 0) {
            tokens = Math.min(burst, tokens + elapsed * bytesPerNano);
            last = now;
        }
        return tokens > 0;
    }

    /** Takes what was transmitted from the bucket. */
    public void consume(long bytes) {
        tokens -= bytes;
    }

    /**
     * The rate as an operator writes it: a number with an optional k/m/g (decimal) and bit or bps ("100mbit",
     * "1.5gbit", "800k", "0" for none). Returns bits per second.
     */
    public static long parseRate(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        String digits = t.replaceFirst("(bit|bps|b)?$", "");
        long unit = 1;
        if (digits.endsWith("k")) {
            unit = 1_000L;
        } else if (digits.endsWith("m")) {
            unit = 1_000_000L;
        } else if (digits.endsWith("g")) {
            unit = 1_000_000_000L;
        }
        if (unit != 1) {
            digits = digits.substring(0, digits.length() - 1);
        }
        double v;
        try {
            v = Double.parseDouble(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a rate (e.g. 100mbit, 1gbit, 0 for none)", e);
        }
        if (!(v >= 0) || Double.isInfinite(v) || v * unit > 1e12) {
            throw new IllegalArgumentException("'" + text + "' is not a rate between 0 and 1000gbit");
        }
        long bits = Math.round(v * unit);
        if (bits != 0 && bits < 8000) {
            throw new IllegalArgumentException("'" + text + "' is below the smallest rate, 8kbit");
        }
        return bits;
    }
}
