package io.vnicd.testkit;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Network namespaces, veth pairs and bridges for a test, made with iproute2's {@code ip} and removed by
 * {@link #close()}: everything it created goes, in reverse order, and something already gone is no error.
 * <p>
 * Every name gets a short suffix unique to this process and fixture (base36 of the pid and a counter), so tests
 * running at the same time on one host, in this JVM or others, never meet. Interface names stay within Linux's
 * 15 bytes: {@link #name} refuses a base that leaves no room. A JVM that exits without closing the fixture (a timeout
 * of the test runner, SIGTERM) still removes everything, from a shutdown hook.
 * <p>
 * Needs {@code ip} and root (CAP_NET_ADMIN, CAP_SYS_ADMIN): without them, {@link #create} skips the test, or fails it
 * in CI ({@link Peers}).
 *
 * <pre>{@code
 * try (TestNetwork net = TestNetwork.create("uplink")) {
 *     String ns = net.netns("peer");
 *     TestNetwork.VethPair v = net.veth("up", "pe", ns, "10.9.0.2/24");  // v.a() in this namespace, v.b() in ns
 *     net.setDown(ns, v.b());                                           // v.a() loses its carrier
 * }
 * }</pre>
 */
public final class TestNetwork implements AutoCloseable {
    /** Linux's IFNAMSIZ - 1. */
    public static final int IFNAME_MAX = 15;
    private static final AtomicInteger INSTANCES = new AtomicInteger();
    private static final long COMMAND_TIMEOUT_SECONDS = 30;
    private static final File DEV_NULL = new File("/dev/null");

    /** Two ends of a veth pair: a in this process's namespace, b in netnsOfB (null: this namespace too). */
    public record VethPair(String a, String b, String netnsOfB) {
    }

    /** What a command printed (stdout and stderr together) and its exit status. */
    public record Result(int exitStatus, String output) {
        public boolean ok() {
            return exitStatus == 0;
        }

        /** This result, or an IllegalStateException carrying the output when the command failed. */
        public Result orThrow() {
            if (!ok()) {
                throw new IllegalStateException("exit status " + exitStatus + ": " + output.strip());
            }
            return this;
        }
    }

    private record Created(String kind, String netns, String name) {
    }

    private final String tag;
    private final String suffix;
    private final Path ip;
    private final List<Created> created = new ArrayList<>();
    private final Thread cleanupHook;
    private boolean closed;

    private TestNetwork(String tag, String suffix, Path ip) {
        this.tag = tag;
        this.suffix = suffix;
        this.ip = ip;
        this.cleanupHook = new Thread(this::removeAll, "TestNetwork cleanup " + tag + suffix);
        Runtime.getRuntime().addShutdownHook(cleanupHook);
    }

    /**
     * A new, empty fixture. tag (letters and digits) names its namespaces, so that a leftover can be traced to its
     * test. Skips the test (fails it in CI) without {@code ip} or root.
     */
    public static TestNetwork create(String tag) {
        if (!tag.matches("[A-Za-z0-9]{1,16}")) {
            throw new IllegalArgumentException("tag must be 1 to 16 letters or digits: " + tag);
        }
        Path ip = Peers.executable("ip", "apt-get install iproute2");
        Peers.require(hasNetAdmin(), "root (CAP_NET_ADMIN and CAP_SYS_ADMIN, for network namespaces and veth pairs)");
        String suffix = Long.toString(ProcessHandle.current().pid(), 36) + Integer.toString(INSTANCES.incrementAndGet(), 36);
        return new TestNetwork(tag, suffix, ip);
    }

    /** CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21) in the effective set of this process. */
    private static boolean hasNetAdmin() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    long caps = Long.parseUnsignedLong(line.substring(7).strip(), 16);
                    return (caps & (1L << 12)) != 0 && (caps & (1L << 21)) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return false;
        }
        return false;
    }

    /** base with this fixture's suffix: the name an interface called base gets. */
    public String name(String base) {
        String name = base + suffix;
        if (base.isEmpty() || name.length() > IFNAME_MAX || !base.matches("[A-Za-z0-9_.-]+")) {
            throw new IllegalArgumentException("interface base name \"" + base + "\" must be letters, digits, '_', '.' or '-'"
                    + " and at most " + (IFNAME_MAX - suffix.length()) + " characters (suffix " + suffix + ")");
        }
        return name;
    }

    /** Adds a network namespace (ip netns add) with its loopback up; returns its name. */
    public synchronized String netns(String base) {
        String ns = "vnicd-" + tag + "-" + base + suffix;
        run(List.of("netns", "add", ns));
        created.add(new Created("netns", null, ns));
        run(List.of("-n", ns, "link", "set", "lo", "up"));
        return ns;
    }

    /** A veth pair with both ends in this process's namespace, both up. */
    public VethPair veth(String baseA, String baseB) {
        return veth(baseA, baseB, null, null);
    }

    /**
     * A veth pair: end a in this process's namespace, end b moved into netnsOfB (one {@link #netns} made; null keeps
     * it here) with address cidrOfB (e.g. "10.9.0.2/24"; null for none); both ends up.
     */
    public synchronized VethPair veth(String baseA, String baseB, String netnsOfB, String cidrOfB) {
        String a = name(baseA);
        String b = name(baseB);
        run(List.of("link", "add", a, "type", "veth", "peer", "name", b));
        created.add(new Created("link", null, a)); // deleting one end deletes both
        if (netnsOfB != null) {
            run(List.of("link", "set", b, "netns", netnsOfB));
        }
        if (cidrOfB != null) {
            run(nsArgs(netnsOfB, "addr", "add", cidrOfB, "dev", b));
        }
        run(nsArgs(netnsOfB, "link", "set", b, "up"));
        run(List.of("link", "set", a, "up"));
        return new VethPair(a, b, netnsOfB);
    }

    /** A bridge in netns (null: this namespace), up, STP off (a port forwards as soon as it is added), no br_netfilter in a test namespace. */
    public synchronized String bridge(String base, String netns) {
        String br = name(base);
        run(nsArgs(netns, "link", "add", br, "type", "bridge", "stp_state", "0"));
        created.add(new Created("link", netns, br));
        run(nsArgs(netns, "link", "set", br, "up"));
        if (netns != null) {
            // A plain L2 bridge: where br_netfilter is built in, bridged IP frames would otherwise go through
            // iptables and its IP header checks (a test's frames with made-up payloads vanish there). Per namespace,
            // so only in the test's own.
            for (String table : List.of("iptables", "ip6tables", "arptables")) {
                exec(netns, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-" + table + "=0");
            }
        }
        return br;
    }

    /** Makes ifname a port of bridge (both in netns; null: this namespace). */
    public void addToBridge(String netns, String ifname, String bridge) {
        run(nsArgs(netns, "link", "set", ifname, "master", bridge));
    }

    /** Adds an address (e.g. "10.9.0.1/24") to ifname in netns (null: this namespace). */
    public void address(String netns, String ifname, String cidr) {
        run(nsArgs(netns, "addr", "add", cidr, "dev", ifname));
    }

    /**
     * Turns IPv6 off on ifname in netns (null: this namespace), so that the interface sends nothing of its own
     * (router solicitations, MLD reports, duplicate address detection): a test counting frames sees only its own.
     */
    public void quiet(String netns, String ifname) {
        if (Files.isDirectory(Path.of("/proc/sys/net/ipv6"))) { // a kernel without IPv6 sends none anyway
            exec(netns, "sysctl", "-q", "-w", "net.ipv6.conf." + ifname.replace('.', '/') + ".disable_ipv6=1").orThrow();
        }
    }

    public void setUp(String ifname) {
        setUp(null, ifname);
    }

    public void setUp(String netns, String ifname) {
        run(nsArgs(netns, "link", "set", ifname, "up"));
    }

    public void setDown(String ifname) {
        setDown(null, ifname);
    }

    public void setDown(String netns, String ifname) {
        run(nsArgs(netns, "link", "set", ifname, "down"));
    }

    /** Deletes an interface now (the pair of a veth goes with it); one already gone is no error. */
    public void delete(String ifname) {
        delete(null, ifname);
    }

    public void delete(String netns, String ifname) {
        if (linkExists(netns, ifname)) {
            run(nsArgs(netns, "link", "del", ifname));
        }
    }

    /** Whether ifname exists in netns (null: this namespace). */
    public boolean linkExists(String netns, String ifname) {
        return ipCommand(nsArgs(netns, "link", "show", "dev", ifname)).ok();
    }

    /** Runs cmd in netns (ip netns exec; null: this namespace); never throws for a failing command. */
    public Result exec(String netns, String... cmd) {
        List<String> argv = new ArrayList<>();
        if (netns != null) {
            argv.addAll(List.of(ip.toString(), "netns", "exec", netns));
        }
        argv.addAll(Arrays.asList(cmd));
        return execute(argv);
    }

    /** Runs {@code ip args...}, throwing with its output when it fails. */
    public Result ip(String... args) {
        return run(List.of(args));
    }

    private Result run(List<String> args) {
        Result r = ipCommand(args);
        if (!r.ok()) {
            throw new IllegalStateException("ip " + String.join(" ", args) + ": " + r.output().strip());
        }
        return r;
    }

    private Result ipCommand(List<String> args) {
        List<String> argv = new ArrayList<>();
        argv.add(ip.toString());
        argv.addAll(args);
        return execute(argv);
    }

    private static List<String> nsArgs(String netns, String... args) {
        List<String> list = new ArrayList<>();
        if (netns != null) {
            list.add("-n");
            list.add(netns);
        }
        list.addAll(Arrays.asList(args));
        return list;
    }

    private static Result execute(List<String> argv) {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(DEV_NULL))
                    .start();
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readAllBytes();
            }
            if (!p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, String.join(" ", argv) + ": timed out after " + COMMAND_TIMEOUT_SECONDS + " s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, String.join(" ", argv) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, String.join(" ", argv) + ": interrupted");
        }
    }

    /**
     * Removes every interface and namespace this fixture created, newest first. Something already gone is skipped;
     * something that cannot be removed is reported after the rest was tried.
     */
    @Override
    public void close() {
        List<String> left = removeAll();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is running or ran
        }
        if (!left.isEmpty()) {
            throw new IllegalStateException("TestNetwork " + tag + suffix + " could not remove: " + String.join("; ", left));
        }
    }

    private synchronized List<String> removeAll() {
        List<String> left = new ArrayList<>();
        if (closed) {
            return left;
        }
        closed = true;
        for (int i = created.size() - 1; i >= 0; i--) {
            Created c = created.get(i);
            if (c.kind().equals("link")) {
                // A link inside one of our namespaces goes with the namespace; one elsewhere is deleted here.
                if ((c.netns() == null || netnsExists(c.netns())) && linkExists(c.netns(), c.name())) {
                    Result r = ipCommand(nsArgs(c.netns(), "link", "del", c.name()));
                    if (!r.ok() && linkExists(c.netns(), c.name())) {
                        left.add(c.name() + ": " + r.output().strip());
                    }
                }
            } else if (netnsExists(c.name())) {
                Result r = ipCommand(List.of("netns", "del", c.name()));
                if (!r.ok() && netnsExists(c.name())) {
                    left.add("netns " + c.name() + ": " + r.output().strip());
                }
            }
        }
        created.clear();
        return left;
    }

    private static boolean netnsExists(String ns) {
        return Files.exists(Path.of("/run/netns", ns));
    }
}
