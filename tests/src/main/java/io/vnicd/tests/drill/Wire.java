package io.vnicd.tests.drill;

import io.vnicd.testkit.TestNetwork;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A wire for drills and tests: a bridge with a host on it, in a network namespace of its own, and two veth pairs
 * whose near ends serve a PF as backing NICs ({@link #pnic}) and whose far ends ({@link #far}) are ports of the
 * bridge. Everything goes when it is closed.
 */
public final class Wire implements AutoCloseable {
    private final TestNetwork net = TestNetwork.create("drill");
    private final String ns = net.netns("wire");
    private final String bridge = net.bridge("br", ns);
    private final String[] pnic = new String[2];
    private final String[] far = new String[2];

    /** @param hostCidr the host's address on the bridge, e.g. 10.77.0.1/24 */
    public Wire(String hostCidr) {
        net.address(ns, bridge, hostCidr);
        net.quiet(ns, bridge);
        for (int i = 0; i < 2; i++) {
            attach(i);
        }
    }

    /** (Re)creates PNIC i: a veth pair, its far end on the bridge (the same names as before). */
    public void attach(int i) {
        TestNetwork.VethPair p = net.veth("pnic" + i, "w" + i, ns, null);
        net.quiet(null, p.a());
        net.quiet(ns, p.b());
        net.addToBridge(ns, p.b(), bridge);
        pnic[i] = p.a();
        far[i] = p.b();
    }

    /** The near end of pair i: a PF's backing NIC. */
    public String pnic(int i) {
        return pnic[i];
    }

    /** The far end of pair i: a port of the bridge. */
    public String far(int i) {
        return far[i];
    }

    public String ns() {
        return ns;
    }

    public TestNetwork net() {
        return net;
    }

    /** Starts a command in the wire's namespace (the host), stdout and stderr together. */
    public Process start(String... cmd) throws IOException {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(List.of(cmd));
        return new ProcessBuilder(all).redirectErrorStream(true).start();
    }

    /** Starts a main class of this class path in the wire's namespace, on this JVM's java. */
    public Process startJava(Class<?> main, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        return start(cmd.toArray(new String[0]));
    }

    @Override
    public void close() {
        net.close();
    }
}
