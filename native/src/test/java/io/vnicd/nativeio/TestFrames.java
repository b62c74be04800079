package io.vnicd.nativeio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Test frames that can be told apart from anything else on a link: EtherType 0x88b5 (IEEE 802 local experimental),
 * then a per-test marker, a sequence number and a pattern that depends on both, so a frame that arrives reordered,
 * cut or rewritten is caught.
 * <pre>
 *  0 dst MAC  6 src MAC  12 0x88b5  14 marker (u32)  18 sequence (u32)  22 pattern ... up to length
 * </pre>
 */
final class TestFrames {
    static final int ETHERTYPE = 0x88b5;
    static final int HEADER = 22;
    static final long DST = 0x02_00_00_00_00_02L;
    static final long SRC = 0x02_00_00_00_00_01L;
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private TestFrames() {
    }

    /** Writes frame number seq (length bytes) at offset of buf. */
    static void write(MemorySegment buf, long offset, int length, int marker, int seq) {
        for (int i = 0; i < 6; i++) {
            buf.set(ValueLayout.JAVA_BYTE, offset + i, (byte) (DST >>> (40 - 8 * i)));
            buf.set(ValueLayout.JAVA_BYTE, offset + 6 + i, (byte) (SRC >>> (40 - 8 * i)));
        }
        buf.set(BE_SHORT, offset + 12, (short) ETHERTYPE);
        buf.set(BE_INT, offset + 14, marker);
        buf.set(BE_INT, offset + 18, seq);
        for (int i = HEADER; i < length; i++) {
            buf.set(ValueLayout.JAVA_BYTE, offset + i, pattern(marker, seq, i));
        }
    }

    private static byte pattern(int marker, int seq, int i) {
        return (byte) (marker * 31 + seq * 17 + i);
    }

    /** The sequence number of a test frame with this marker, or -1 for anything else (noise, another test). */
    static int sequence(MemorySegment frame, long offset, int length, int marker) {
        if (length < HEADER || Short.toUnsignedInt(frame.get(BE_SHORT, offset + 12)) != ETHERTYPE
                || frame.get(BE_INT, offset + 14) != marker) {
            return -1;
        }
        return frame.get(BE_INT, offset + 18);
    }

    /** Whether every byte after the header is the pattern of (marker, seq). */
    static boolean intact(MemorySegment frame, long offset, int length, int marker, int seq) {
        for (int i = HEADER; i < length; i++) {
            if (frame.get(ValueLayout.JAVA_BYTE, offset + i) != pattern(marker, seq, i)) {
                return false;
            }
        }
        return true;
    }

    /** One received test frame. */
    record Received(int seq, int length, int vlanTci, boolean intact) {
    }

    /** Receives on rx until want frames with c's marker arrived or waitNanos passed with none arriving. */
    static void awaitFrames(NicSocket rx, Collector c, int want, long waitNanos) {
        long last = System.nanoTime();
        while (c.frames.size() < want && System.nanoTime() - last < waitNanos) {
            if (rx.receive(c, 256) > 0) {
                last = System.nanoTime();
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** The sequence numbers of the frames c collected, in order. */
    static List<Integer> sequences(Collector c) {
        return c.frames.stream().map(Received::seq).toList();
    }

    /** Collects the test frames with one marker that a socket receives, and counts the rest. */
    static final class Collector implements NicSocket.FrameHandler {
        final int marker;
        final List<Received> frames = new ArrayList<>();
        int others;

        Collector(int marker) {
            this.marker = marker;
        }

        @Override
        public boolean onFrame(MemorySegment segment, long offset, int length, int vlanTci, boolean checksumPartial) {
            int seq = sequence(segment, offset, length, marker);
            if (seq < 0) {
                others++;
                return true;
            }
            frames.add(new Received(seq, length, vlanTci, intact(segment, offset, length, marker, seq)));
            return true;
        }
    }
}
