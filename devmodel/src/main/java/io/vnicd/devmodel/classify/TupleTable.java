package io.vnicd.devmodel.classify;

import java.util.List;

/**
 * The entries of one flow table that share one mask, in an open-addressing hash table keyed by the masked
 * key words (tuple space search, Srinivasan et al., SIGCOMM 1999). Only the words the mask touches are
 * stored and hashed. Of entries with equal masked values only the best-ranked is kept: the others can
 * never be a first match.
 *
 * <pre>
 * keys:    | slot 0: word a, word b, ... | slot 1: ... |     (stride = number of masked words)
 * entries: | slot 0 entry or null        | slot 1 ...  |     (at most half full: probes end on a null)
 * </pre>
 */
final class TupleTable {
    private final int[] wordIndex;
    private final long[] wordMask;
    private final long[] keys;
    private final FlowEntry[] entries;
    private final int slotMask;
    /** Best rank of any entry here: a lookup that already holds a better match skips this tuple. */
    final int bestRank;

    /** @param sorted entries with this mask, best rank first */
    TupleTable(long[] mask, List<FlowEntry> sorted, List<FlowEntry> shadowed) {
        int n = 0;
        for (long m : mask) {
            if (m != 0) {
                n++;
            }
        }
        wordIndex = new int[n];
        wordMask = new long[n];
        for (int i = 0, k = 0; i < mask.length; i++) {
            if (mask[i] != 0) {
                wordIndex[k] = i;
                wordMask[k++] = mask[i];
            }
        }
        int capacity = Integer.highestOneBit(Math.max(2, sorted.size()) * 2 - 1) << 1;
        slotMask = capacity - 1;
        keys = new long[capacity * n];
        entries = new FlowEntry[capacity];
        bestRank = sorted.getFirst().rank;
        long[] probe = new long[FlowKey.WORDS];
        for (FlowEntry e : sorted) {
            for (int i = 0; i < FlowKey.WORDS; i++) {
                probe[i] = e.match().value(i);
            }
            if (lookup(probe) != null) {
                shadowed.add(e);
                continue;
            }
            int slot = slotOf(probe);
            while (entries[slot] != null) {
                slot = (slot + 1) & slotMask;
            }
            entries[slot] = e;
            for (int i = 0; i < n; i++) {
                keys[slot * n + i] = probe[wordIndex[i]] & wordMask[i];
            }
        }
    }

    /** The entry whose masked value equals the key's masked words, or null. Allocates nothing. */
    FlowEntry lookup(long[] key) {
        final int[] idx = wordIndex;
        final long[] msk = wordMask;
        final int n = idx.length;
        int slot = slotOf(key);
        final FlowEntry[] es = entries;
        final long[] ks = keys;
        while (true) {
            FlowEntry e = es[slot];
            if (e == null) {
                return null;
            }
            int base = slot * n;
            int i = 0;
            while (i < n && ks[base + i] == (key[idx[i]] & msk[i])) {
                i++;
            }
            if (i == n) {
                return e;
            }
            slot = (slot + 1) & slotMask;
        }
    }

    private int slotOf(long[] key) {
        long h = 0x2545_F491_4F6C_DD1DL;
        for (int i = 0; i < wordIndex.length; i++) {
            h ^= key[wordIndex[i]] & wordMask[i];
            h *= 0x9E37_79B9_7F4A_7C15L;
            h ^= h >>> 32;
        }
        h *= 0xBF58_476D_1CE4_E5B9L;
        return (int) (h ^ (h >>> 31)) & slotMask;
    }
}
