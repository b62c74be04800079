package io.vnicd.devmodel.numa;

import java.util.Arrays;

/** One NUMA node: its id and the CPUs that belong to it (sorted, distinct). */
public record NumaNode(int id, int[] cpus) {
    public NumaNode {
        if (id < 0) {
            throw new IllegalArgumentException("node id must be >= 0: " + id);
        }
        cpus = Arrays.stream(cpus).distinct().sorted().toArray();
    }

    /** A node from a Linux cpulist ("0-3,8,10-11", as in /sys/devices/system/node/nodeN/cpulist). */
    public static NumaNode of(int id, String cpulist) {
        return new NumaNode(id, parseCpuList(cpulist));
    }

    static int[] parseCpuList(String cpulist) {
        String trimmed = cpulist.strip();
        if (trimmed.isEmpty()) {
            return new int[0];
        }
        return Arrays.stream(trimmed.split(","))
                .map(String::strip)
                .flatMapToInt(range -> {
                    int dash = range.indexOf('-');
                    if (dash < 0) {
                        return java.util.stream.IntStream.of(Integer.parseInt(range));
                    }
                    int from = Integer.parseInt(range.substring(0, dash));
                    int to = Integer.parseInt(range.substring(dash + 1));
                    if (to < from) {
                        throw new IllegalArgumentException("bad cpu range " + range);
                    }
                    return java.util.stream.IntStream.rangeClosed(from, to);
                })
                .toArray();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof NumaNode node && node.id == id && Arrays.equals(node.cpus, cpus);
    }

    @Override
    public int hashCode() {
        return 31 * id + Arrays.hashCode(cpus);
    }

    @Override
    public String toString() {
        return "node" + id + Arrays.toString(cpus);
    }
}
