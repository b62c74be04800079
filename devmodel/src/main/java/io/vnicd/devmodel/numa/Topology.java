package io.vnicd.devmodel.numa;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The machine's NUMA nodes and which CPU belongs to which, read from sysfs or described in configuration
 * (so a test or a user can describe a 2-node machine on a 1-node box). Node ids need not be dense.
 */
public final class Topology {
    /** Where Linux lists NUMA nodes: one nodeN directory each, with a cpulist file. */
    public static final Path SYSFS_NODES = Path.of("/sys/devices/system/node");
    private static final Pattern NODE_DIR = Pattern.compile("node(\\d+)");

    private final List<NumaNode> nodes;
    private final int[] nodeOfCpu;
    private final int maxNodeId;

    private Topology(List<NumaNode> nodes) {
        if (nodes.isEmpty()) {
            throw new IllegalArgumentException("a topology needs at least one node");
        }
        this.nodes = nodes.stream().sorted(Comparator.comparingInt(NumaNode::id)).toList();
        int maxCpu = nodes.stream().flatMapToInt(n -> Arrays.stream(n.cpus())).max().orElse(-1);
        this.nodeOfCpu = new int[maxCpu + 1];
        Arrays.fill(nodeOfCpu, -1);
        for (NumaNode node : nodes) {
            for (int cpu : node.cpus()) {
                if (nodeOfCpu[cpu] != -1) {
                    throw new IllegalArgumentException("cpu " + cpu + " is on node " + nodeOfCpu[cpu] + " and node " + node.id());
                }
                nodeOfCpu[cpu] = node.id();
            }
        }
        this.maxNodeId = this.nodes.getLast().id();
        if (this.nodes.stream().map(NumaNode::id).distinct().count() != nodes.size()) {
            throw new IllegalArgumentException("duplicate node ids in " + nodes);
        }
    }

    public static Topology of(NumaNode... nodes) {
        return new Topology(List.of(nodes));
    }

    /** From configuration: "0:0-3,8;1:4-7" = node 0 has CPUs 0-3 and 8, node 1 has CPUs 4-7. */
    public static Topology parse(String spec) {
        List<NumaNode> nodes = new ArrayList<>();
        for (String part : spec.split(";")) {
            if (part.isBlank()) {
                continue;
            }
            int colon = part.indexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("topology part '" + part + "' is not node:cpulist");
            }
            nodes.add(NumaNode.of(Integer.parseInt(part.substring(0, colon).strip()), part.substring(colon + 1)));
        }
        return new Topology(nodes);
    }

    /** This machine's topology, from /sys/devices/system/node. */
    public static Topology fromSysfs() {
        return fromSysfs(SYSFS_NODES);
    }

    /** The topology under a sysfs-like directory of nodeN/cpulist files (a test can build one). */
    public static Topology fromSysfs(Path nodesDirectory) {
        List<NumaNode> nodes = new ArrayList<>();
        try (Stream<Path> entries = Files.list(nodesDirectory)) {
            for (Path entry : entries.toList()) {
                Matcher matcher = NODE_DIR.matcher(entry.getFileName().toString());
                Path cpulist = entry.resolve("cpulist");
                if (matcher.matches() && Files.isReadable(cpulist)) {
                    nodes.add(NumaNode.of(Integer.parseInt(matcher.group(1)), Files.readString(cpulist)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read NUMA topology from " + nodesDirectory, e);
        }
        return new Topology(nodes);
    }

    public List<NumaNode> nodes() {
        return nodes;
    }

    public int nodeCount() {
        return nodes.size();
    }

    /** Highest node id (node ids may have gaps). */
    public int maxNodeId() {
        return maxNodeId;
    }

    /** The node a CPU belongs to, or -1 if the CPU is unknown. */
    public int nodeOfCpu(int cpu) {
        return cpu >= 0 && cpu < nodeOfCpu.length ? nodeOfCpu[cpu] : -1;
    }

    @Override
    public String toString() {
        return nodes.toString();
    }
}
