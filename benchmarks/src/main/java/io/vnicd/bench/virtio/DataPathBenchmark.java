package io.vnicd.bench.virtio;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.port.Port;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.vswitch.VSwitch;
import io.vnicd.virtio.memory.GuestMemory;
import io.vnicd.virtio.net.NetQueuePair;
import io.vnicd.virtio.queue.SplitQueue;
import io.vnicd.virtio.testing.DriverQueue;
import io.vnicd.virtio.testing.TestDriver;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The per-frame cost of vnicd's data path on one thread, without sockets or a frontend: a burst of frames
 * taken from one VF's TX queue, switched by the vswitch, written into another VF's RX queue, used rings
 * published. The test driver's work (posting and reclaiming buffers) is included, so this is an upper bound.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DataPathBenchmark {
    private static final int BURST = 32;

    @Param({"64", "1500"})
    public int frameSize;

    private TestDriver driver;
    private DriverQueue txd;
    private DriverQueue rxd;
    private SplitQueue tx;
    private SplitQueue rx;
    private NetQueuePair from;
    private NetQueuePair to;
    private VSwitch vswitch;
    private long txBuf;
    private long rxBuf;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        driver = new TestDriver(8 << 20);
        GuestMemory memory = driver.guestMemory();
        txd = driver.queue(256);
        rxd = driver.queue(256);
        tx = new SplitQueue(1);
        rx = new SplitQueue(0);
        tx.configure(256, txd.descUser(), txd.availUser(), txd.usedUser(), memory);
        rx.configure(256, rxd.descUser(), rxd.availUser(), rxd.usedUser(), memory);
        from = new NetQueuePair();
        to = new NetQueuePair();
        to.setMergeableRxBuffers(true);
        vswitch = new VSwitch();
        vswitch.addPort(new QueuePort("a", null, null), 0);
        vswitch.addPort(new QueuePort("b", to, rx), 0);
        txBuf = driver.alloc(12 + frameSize, 64);
        rxBuf = driver.alloc(2048, 64);
        MemorySegment f = driver.at(txBuf + 12, frameSize);
        for (int i = 0; i < frameSize; i++) {
            f.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        // unicast from 02:..:01 to 02:..:02, learned on port b so the switch forwards rather than floods
        f.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 2);
        f.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 6, (byte) 2);
        vswitch.addStaticEntry(0x02_01_02_03_04_05L, 0, 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        driver.close();
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public int switchBurst() {
        for (int i = 0; i < BURST; i++) {
            txd.addBuffer(txBuf, 12 + frameSize, false);
            rxd.addBuffer(rxBuf, 2048, true);
        }
        int n = from.transmit(tx, (frame, offset, length) -> vswitch.switchFrame(0, 0, frame, offset, length), 64);
        to.flushReceive(rx);
        while (txd.takeUsed() != -1) {
            // reclaim
        }
        while (rxd.takeUsed() != -1) {
            // reclaim
        }
        return n;
    }

    /** A switch port that writes into an RX queue, as a VF's port does (without a backlog). */
    private static final class QueuePort implements Port {
        private final String name;
        private final NetQueuePair pair;
        private final SplitQueue rxq;
        private final CounterBlock counters = CounterRegistry.create().register("port", Map.of(), PortCounter.values());

        QueuePort(String name, NetQueuePair pair, SplitQueue rxq) {
            this.name = name;
            this.pair = pair;
            this.rxq = rxq;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Kind kind() {
            return Kind.VF;
        }

        @Override
        public int send(MemorySegment frame, long offset, int length, int vlan) {
            return pair != null && pair.receive(rxq, frame, offset, length) ? SENT : DROPPED;
        }

        @Override
        public boolean linkUp() {
            return true;
        }

        @Override
        public CounterBlock counters() {
            return counters;
        }

        @Override
        public int poll() {
            return 0;
        }

        @Override
        public void failed(Throwable cause) {
        }
    }
}
