package io.vnicd.devmodel.monitor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes a classic pcap file (not pcapng) of Ethernet frames with nanosecond timestamps, which tcpdump,
 * tshark and Wireshark all read. Format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html,
 * sections 4 (file header) and 5 (packet record). Written in the host's byte order, as libpcap does; the
 * magic tells readers which order that is. Reuses one buffer: writing a record allocates nothing.
 */
public final class PcapWriter implements AutoCloseable {
    /** Magic for nanosecond-resolution timestamps (section 4). */
    public static final int MAGIC_NANOSECONDS = 0xa1b23c4d;
    public static final short VERSION_MAJOR = 2;
    public static final short VERSION_MINOR = 4;
    /** LINKTYPE_ETHERNET (tcpdump.org link types). */
    public static final int LINKTYPE_ETHERNET = 1;
    private static final int FILE_HEADER_SIZE = 24;
    private static final int RECORD_HEADER_SIZE = 16;

    private final FileChannel channel;
    private final ByteBuffer buffer;
    private final MemorySegment bufferSegment;
    private long frames;

    public PcapWriter(Path path, int snapLength) throws IOException {
        this.channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        this.buffer = ByteBuffer.allocateDirect(Math.max(1 << 16, RECORD_HEADER_SIZE + snapLength)).order(ByteOrder.nativeOrder());
        this.bufferSegment = MemorySegment.ofBuffer(buffer);
        buffer.putInt(MAGIC_NANOSECONDS).putShort(VERSION_MAJOR).putShort(VERSION_MINOR)
                .putInt(0) // reserved (was thiszone)
                .putInt(0) // reserved (was sigfigs)
                .putInt(snapLength)
                .putInt(LINKTYPE_ETHERNET);
        if (buffer.position() != FILE_HEADER_SIZE) {
            throw new IllegalStateException("pcap file header is " + buffer.position() + " bytes");
        }
    }

    /** Appends one frame: captured bytes at memory[offset, offset + capturedLength). */
    public void write(MemorySegment memory, long offset, long timestampNanos, int originalLength, int capturedLength) throws IOException {
        if (buffer.remaining() < RECORD_HEADER_SIZE + capturedLength) {
            flush();
        }
        buffer.putInt((int) (timestampNanos / 1_000_000_000L))
                .putInt((int) (timestampNanos % 1_000_000_000L))
                .putInt(capturedLength)
                .putInt(originalLength);
        MemorySegment.copy(memory, ValueLayout.JAVA_BYTE, offset, bufferSegment, ValueLayout.JAVA_BYTE, buffer.position(), capturedLength);
        buffer.position(buffer.position() + capturedLength);
        frames++;
    }

    /** Writes what is buffered, so the file on disk is a complete capture up to here. */
    public void flush() throws IOException {
        buffer.flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        buffer.clear();
    }

    public long frames() {
        return frames;
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            channel.close();
        }
    }
}
