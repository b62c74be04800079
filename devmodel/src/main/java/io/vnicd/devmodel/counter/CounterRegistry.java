package io.vnicd.devmodel.counter;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The daemon's counters: blocks of 8-byte slots in off-heap pages, handed out to owners and taken back when they
 * go (a VF removed, a rule replaced). Blocks of four or more counters start on a cache line, so owners on
 * different threads do not share one; a page is never moved, so an owner keeps its slots for life.
 * <pre>
 * page (PAGE_SLOTS x 8 bytes, 64-byte aligned)
 *  0        8        16             64                  PAGE_SLOTS*8
 *  +--------+--------+--- ... ------+--- ... -----------+
 *  | slot 0 | slot 1 |              | next block        |
 *  +--------+--------+--- ... ------+--- ... -----------+
 * </pre>
 * Slots given back wait {@link #REUSE_DELAY_NANOS} before another owner gets them: a data path still holding
 * the previous owner (an old rule set it finishes a frame with) must not add to the new owner's counts.
 * <p>
 * Registering and freeing are synchronised; reading a block's values needs no lock. {@link #blocks()} lists the
 * live blocks for status and metrics.
 */
public final class CounterRegistry {
    /** Slots per page: 512 KiB of counters. */
    static final int PAGE_SLOTS = 65_536;
    private static final int LINE_SLOTS = 8;
    /** How long freed slots rest before reuse. */
    static final long REUSE_DELAY_NANOS = 2_000_000_000L;

    private static final CounterRegistry PROCESS = new CounterRegistry(System::nanoTime);

    private final LongSupplier clock;
    private final List<MemorySegment> pages = new ArrayList<>();
    /** Per page: the first never-used slot. */
    private final List<int[]> tops = new ArrayList<>();
    /** Freed ranges (page, first slot, count, freed at), reused first-fit once rested. */
    private final List<long[]> freed = new ArrayList<>();
    private final List<CounterBlock> live = new ArrayList<>();
    private volatile List<CounterBlock> snapshot = List.of();

    CounterRegistry(LongSupplier clock) {
        this.clock = clock;
    }

    /** The registry of this process: every PF, VF, uplink and rule of the daemon counts here. */
    public static CounterRegistry process() {
        return PROCESS;
    }

    /** A registry of its own (tests). */
    public static CounterRegistry create() {
        return new CounterRegistry(System::nanoTime);
    }

    /**
     * A new block of zeroed counters, one per type (in the types' order).
     *
     * @param scope  what kind of owner: port, queue, rule, pf, nic, ...
     * @param labels which owner
     */
    public synchronized CounterBlock register(String scope, Map<String, String> labels, CounterType[] types) {
        int n = Math.max(1, types.length);
        if (n > PAGE_SLOTS) {
            throw new IllegalArgumentException("a block of " + n + " counters does not fit a page");
        }
        long[] range = reuse(n);
        int page;
        int first;
        if (range != null) {
            page = (int) range[0];
            first = (int) range[1];
        } else {
            int align = n >= 4 ? LINE_SLOTS : 1;
            page = -1;
            first = 0;
            for (int p = 0; p < pages.size(); p++) {
                int top = align(tops.get(p)[0], align);
                if (top + n <= PAGE_SLOTS) {
                    page = p;
                    first = top;
                    break;
                }
            }
            if (page < 0) {
                pages.add(Arena.global().allocate((long) PAGE_SLOTS * 8, 64));
                tops.add(new int[1]);
                page = pages.size() - 1;
                first = 0;
            }
            int top = tops.get(page)[0];
            if (first > top) {
                // the alignment gap can serve small blocks later
                freed.add(new long[] {page, top, first - top, Long.MIN_VALUE});
            }
            tops.get(page)[0] = first + n;
        }
        MemorySegment values = pages.get(page).asSlice((long) first * 8, (long) n * 8);
        values.fill((byte) 0);
        CounterBlock b = new CounterBlock(this, scope, labels, types, values, page, first);
        live.add(b);
        snapshot = List.copyOf(live);
        return b;
    }

    private static int align(int slot, int align) {
        return (slot + align - 1) / align * align;
    }

    /** A rested freed range of at least n slots (the rest stays free), or null. */
    private long[] reuse(int n) {
        long now = clock.getAsLong();
        for (int i = 0; i < freed.size(); i++) {
            long[] r = freed.get(i);
            boolean rested = r[3] == Long.MIN_VALUE || now - r[3] >= REUSE_DELAY_NANOS;
            int start = n >= 4 ? align((int) r[1], LINE_SLOTS) : (int) r[1];
            int waste = start - (int) r[1];
            if (rested && r[2] - waste >= n) {
                long[] taken = {r[0], start, n, 0};
                long restStart = start + n;
                long restLen = r[1] + r[2] - restStart;
                freed.remove(i);
                if (waste > 0) {
                    freed.add(new long[] {r[0], r[1], waste, r[3]});
                }
                if (restLen > 0) {
                    freed.add(new long[] {r[0], restStart, restLen, r[3]});
                }
                return taken;
            }
        }
        return null;
    }

    synchronized void free(CounterBlock b) {
        if (live.remove(b)) {
            freed.add(new long[] {b.page, b.firstSlot, Math.max(1, b.size()), clock.getAsLong()});
            snapshot = List.copyOf(live);
        }
    }

    /** The live blocks, in the order they were registered (a snapshot; values are read live). */
    public List<CounterBlock> blocks() {
        return snapshot;
    }

    /** The live blocks of one scope whose labels include every given pair. */
    public List<CounterBlock> find(String scope, Map<String, String> labels) {
        List<CounterBlock> out = new ArrayList<>();
        for (CounterBlock b : snapshot) {
            if (b.scope().equals(scope) && b.labels().entrySet().containsAll(labels.entrySet())) {
                out.add(b);
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** Off-heap bytes reserved for counters. */
    public synchronized long reservedBytes() {
        return (long) pages.size() * PAGE_SLOTS * 8;
    }
}
