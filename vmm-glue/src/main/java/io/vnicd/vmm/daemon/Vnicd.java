package io.vnicd.vmm.daemon;

import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.numa.AllocationPolicy;
import io.vnicd.devmodel.numa.Topology;
import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.sriov.router.Ipv4Subnet;
import io.vnicd.sriov.router.VirtualRouter;
import io.vnicd.sriov.pf.VirtualFunction;
import io.vnicd.sriov.tunnel.VxlanSegment;
import io.vnicd.sriov.uplink.AggregationPolicy;
import io.vnicd.sriov.uplink.Transport;
import io.vnicd.devmodel.monitor.MonitorRing;
import io.vnicd.devmodel.ring.MappedRegion;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;
import io.vnicd.vmm.runtime.RuntimeDirectory;
import io.vnicd.vmm.runtime.SocketLock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The vnicd daemon: builds the PFs and VFs of its configuration, serves them until SIGTERM or SIGINT,
 * then closes every connection and socket before it exits.
 */
public final class Vnicd implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Vnicd.class.getName());

    /** The configuration, as VFs added and removed at run time changed it. */
    private volatile VnicdConfig config;
    private final ControlServer.Limits controlLimits;
    private final List<PhysicalFunction> pfs = new ArrayList<>();
    /** The socket paths this daemon holds, released after its sockets are closed. */
    private final List<SocketLock> held = new ArrayList<>();
    private final Map<String, GroupPrincipal> groups = new HashMap<>();
    private ControlServer control;
    private VirtualRouter router;
    private MetricsEndpoint metrics;
    private final EventWatcher events = new EventWatcher(this);

    public Vnicd(VnicdConfig config) {
        this(config, ControlServer.Limits.DEFAULT);
    }

    Vnicd(VnicdConfig config, ControlServer.Limits controlLimits) {
        this.config = config;
        this.controlLimits = controlLimits;
    }

    /**
     * Creates and starts every PF and VF; on failure, what was started is closed again. Every path it will listen
     * on is claimed first: a path a live daemon holds stops the start before anything is created or removed.
     */
    public Vnicd start() throws IOException {
        try {
            claimSockets();
            List<Path> stale = MonitorRing.removeStale(MappedRegion.SHM_DIR);
            if (!stale.isEmpty()) {
                LOG.log(System.Logger.Level.INFO, () -> "removed monitor rings of stopped daemons: " + stale);
            }
            Duration reconnect = Duration.ofMillis(config.reconnectMillisOrDefault());
            if (config.physicalFunctions().stream().anyMatch(pc -> pc.subnet() != null)) {
                router = new VirtualRouter();
            }
            for (VnicdConfig.PfConfig pc : config.physicalFunctions()) {
                PhysicalFunction pf = new PhysicalFunction(pc.name(),
                        pc.dos() == null ? PhysicalFunction.DEFAULT_STANDBY_FPS : pc.dos().standbyOrDefault());
                pfs.add(pf);
                for (VnicdConfig.VfConfig vc : pc.virtualFunctions()) {
                    VirtualFunction added = createVf(pf, vc, reconnect);
                    pf.setRxQuota(added.port(), vc.rxQuotaOrDefault());
                }
                if (!pc.uplinksOrEmpty().isEmpty()) {
                    VnicdConfig.AggregationConfig agg = pc.aggregation() != null ? pc.aggregation()
                            : new VnicdConfig.AggregationConfig(null, null);
                    pf.addUplink(pc.uplinksOrEmpty(), AggregationPolicy.parse(agg.policyOrDefault()), agg.failbackOrDefault(),
                                    Transport.parse(pc.uplinkTransportOrDefault()))
                            .setDownDelay(Duration.ofMillis(agg.downDelayOrDefault()));
                }
                pf.setMaxQuotaWait(Duration.ofNanos(pc.quotaWaitMicrosOrDefault() * 1000));
                if (pc.vxlan() != null) {
                    VnicdConfig.VxlanConfig v = pc.vxlan();
                    List<VxlanSegment> segments = new ArrayList<>();
                    for (VnicdConfig.SegmentConfig sc : v.segmentsOrEmpty()) {
                        List<VxlanSegment.Vtep> remotes = new ArrayList<>();
                        for (String r : sc.remotes() == null ? List.<String>of() : sc.remotes()) {
                            int[] e = VnicdConfig.endpoint(r, v.portOrDefault());
                            remotes.add(new VxlanSegment.Vtep(e[0], e[1]));
                        }
                        List<VxlanSegment.FdbEntry> fdb = new ArrayList<>();
                        for (VnicdConfig.FdbConfig f : sc.fdb() == null ? List.<VnicdConfig.FdbConfig>of() : sc.fdb()) {
                            int[] e = VnicdConfig.endpoint(f.remote(), v.portOrDefault());
                            fdb.add(new VxlanSegment.FdbEntry(MacAddress.parse(f.mac()), new VxlanSegment.Vtep(e[0], e[1])));
                        }
                        segments.add(new VxlanSegment(sc.vni(), sc.vlanOrDefault(), remotes, fdb));
                    }
                    pf.addVxlan(segments, v.mtuOrDefault(), v.local() == null ? 0 : io.vnicd.nativeio.UdpSocket.parseIp(v.local()),
                            v.portOrDefault());
                }
                for (String peer : pc.peersOrEmpty()) {
                    // the peer socket's directory follows the rules of every socket vnicd listens on
                    Path p = Path.of(peer).toAbsolutePath().normalize();
                    RuntimeDirectory.prepare(p.getParent(), null);
                    pf.addPeer(p);
                }
                if (pc.numa() != null) {
                    pf.setPlacement(pc.numa().topology() == null ? null : Topology.parse(pc.numa().topology()),
                            pc.numa().allocPolicy() == null ? AllocationPolicy.LOCAL_TO_NIC : AllocationPolicy.valueOf(pc.numa().allocPolicy()),
                            pc.numa().nicNode() == null ? 0 : pc.numa().nicNode());
                }
                try {
                    if (!pc.rulesOrEmpty().isEmpty() || !pc.tablesOrEmpty().isEmpty()) {
                        pf.installRules(pc.tablesOrEmpty(), pc.rulesOrEmpty());
                    }
                    if (pc.dos() != null && !pc.dos().attacksOrEmpty().isEmpty()) {
                        pf.contain(pc.dos().attacksOrEmpty());
                    }
                } catch (RuleSetException e) {
                    throw new IllegalArgumentException(pc.name() + ": " + e.getMessage(), e);
                }

                if (pc.subnet() != null) {
                    pf.joinRouter(router, Ipv4Subnet.parse(pc.subnet().cidr()), Ipv4Subnet.parseAddress(pc.subnet().gateway()));
                }
            }
            if (router != null) {
                router.connect();
            }
            for (PhysicalFunction pf : pfs) {
                pf.start();
            }
            if (config.http() != null) {
                Object[] hp = VnicdConfig.hostPort(config.http());
                metrics = MetricsEndpoint.start(this, (String) hp[0], (Integer) hp[1]);
            }
            if (config.controlSocket() != null) {
                control = new ControlServer(Path.of(config.controlSocket()), this, controlLimits,
                        group(config.controlGroup()), RuntimeDirectory.mode(config.controlModeOrDefault()));
                control.start();
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
        for (PhysicalFunction pf : pfs) {
            for (VirtualFunction vf : pf.virtualFunctions()) {
                LOG.log(System.Logger.Level.INFO, () -> String.format("%s/%s: %s %s, %d queue pair(s)%s", pf.name(), vf.name(),
                        vf.endpoint().mode() == VhostUserEndpoint.Mode.SERVER ? "listening on" : "connecting to",
                        vf.socket(), vf.device().queuePairs(), vf.mac() >= 0 ? ", mac " + MacAddress.format(vf.mac()) : ""));
            }
        }
        LOG.log(System.Logger.Level.INFO, "vnicd ready" + (control != null ? "; control socket " + config.controlSocket() : ""));
        return this;
    }

    /**
     * One VF of the configuration on pf: its socket's directory made for a client-mode VF, its socket's mode and
     * group granted once bound for a server-mode one.
     */
    private VirtualFunction createVf(PhysicalFunction pf, VnicdConfig.VfConfig vc, Duration reconnect) throws IOException {
        Path socket = Path.of(vc.socket());
        if (vc.clientMode() && socket.getParent() != null) {
            Files.createDirectories(socket.getParent());
        }
        VhostUserEndpoint.Mode mode = vc.clientMode() ? VhostUserEndpoint.Mode.CLIENT : VhostUserEndpoint.Mode.SERVER;
        long mac = vc.mac() == null ? -1 : MacAddress.parse(vc.mac());
        java.util.function.Consumer<VirtualFunction> grant = vf -> { };
        if (!vc.clientMode()) {
            java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = RuntimeDirectory.mode(config.socketModeOf(vc));
            GroupPrincipal g = group(config.socketGroupOf(vc));
            grant = vf -> vf.endpoint().onBound(s -> RuntimeDirectory.grant(s, perms, g));
        }
        return pf.addVirtualFunction(vc.name(), socket, mode, vc.queuePairsOrDefault(), mac, vc.vlanOrDefault(), reconnect,
                grant);
    }

    /**
     * Adds a VF to a running daemon ({@code vnicctl vf add}): checked with the whole configuration as if it had been
     * there from the start (names, socket paths, MAC, VLAN, queues), its socket's path claimed as at start, then
     * served at once; no other VF is disturbed.
     *
     * @throws ConfigException when the VF does not fit the configuration, saying why
     * @throws IOException     when its socket cannot be claimed (another live daemon holds it) or served
     */
    public synchronized VirtualFunction addVirtualFunction(String pfName, VnicdConfig.VfConfig vc) throws ConfigException, IOException {
        PhysicalFunction pf = physicalFunction(pfName);
        if (pf == null) {
            throw new ConfigException("no PF '" + pfName + "'");
        }
        VnicdConfig before = config;
        VnicdConfig next = before.withVirtualFunctionsOf(pfName, vfs -> {
            List<VnicdConfig.VfConfig> more = new ArrayList<>(vfs);
            more.add(vc);
            return more;
        }).validate();
        SocketLock lock = null;
        if (!vc.clientMode()) {
            Path socket = Path.of(vc.socket()).toAbsolutePath().normalize();
            RuntimeDirectory.prepare(socket.getParent(), group(next.socketGroupOf(vc)));
            lock = SocketLock.claim(socket);
        }
        VirtualFunction vf;
        try {
            config = next;
            vf = createVf(pf, vc, Duration.ofMillis(next.reconnectMillisOrDefault()));
        } catch (IOException | RuntimeException e) {
            if (lock != null) {
                lock.close();
            }
            config = before;
            throw e;
        }
        if (lock != null) {
            held.add(lock);
        }
        return vf;
    }

    /**
     * Changes a running VF's assigned MAC (null: keep it; "" or "learn": learn it) and VLAN (null: keep it), checked
     * with the whole configuration as at start (a MAC another VF has is refused).
     *
     * @throws ConfigException when the change does not fit, saying why
     */
    public synchronized void setVfAddress(String pfName, String vfName, String mac, Integer vlan) throws ConfigException {
        PhysicalFunction pf = physicalFunction(pfName);
        if (pf == null) {
            throw new ConfigException("no PF '" + pfName + "'");
        }
        VnicdConfig.VfConfig[] found = {null};
        VnicdConfig changed = config.withVirtualFunctionsOf(pfName, vfs -> vfs.stream().map(v -> {
            if (!v.name().equals(vfName)) {
                return v;
            }
            String m = mac == null ? v.mac() : mac.isEmpty() || mac.equals("learn") ? null : mac;
            found[0] = v.withAddress(m, vlan == null ? v.vlan() : vlan);
            return found[0];
        }).toList());
        if (found[0] == null) {
            throw new ConfigException(pfName + " has no VF '" + vfName + "'");
        }
        VnicdConfig next = changed.validate();
        VnicdConfig.VfConfig vc = found[0];
        pf.setAddress(vfName, vc.mac() == null ? -1 : MacAddress.parse(vc.mac()), vc.vlanOrDefault());
        config = next;
    }

    /**
     * Removes a VF from a running daemon ({@code vnicctl vf del}): its frontend is disconnected (the guest sees the
     * link go down), its socket closed and removed, its path released; no other VF is disturbed.
     *
     * @throws ConfigException when there is no such VF
     */
    public synchronized void removeVirtualFunction(String pfName, String vfName) throws ConfigException {
        PhysicalFunction pf = physicalFunction(pfName);
        if (pf == null) {
            throw new ConfigException("no PF '" + pfName + "'");
        }
        VirtualFunction vf;
        try {
            vf = pf.virtualFunction(vfName);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        pf.removeVirtualFunction(vfName);
        Path socket = vf.socket().toAbsolutePath().normalize();
        Path key = socket;
        try {
            key = socket.getParent().toRealPath().resolve(socket.getFileName());
        } catch (IOException e) {
            // the directory went: the path as given
        }
        if (vf.endpoint().mode() == VhostUserEndpoint.Mode.SERVER) {
            try {
                Files.deleteIfExists(socket);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, () -> "cannot remove " + socket + ": " + e.getMessage());
            }
        }
        for (java.util.Iterator<SocketLock> it = held.iterator(); it.hasNext(); ) {
            SocketLock l = it.next();
            if (l.socket().equals(key) || l.socket().equals(socket)) {
                l.close();
                it.remove();
            }
        }
        config = config.withVirtualFunctionsOf(pfName, vfs -> vfs.stream().filter(v -> !v.name().equals(vfName)).toList());
    }

    /**
     * Prepares the directory of every socket vnicd listens on (0700, or 0750 with the group that must reach its
     * sockets) and takes each path's lock, removing a stale socket only once its lock is ours. One directory can
     * let one group in, so sockets given different groups must live in different directories.
     */
    private void claimSockets() throws IOException {
        Map<Path, String> dirGroup = new LinkedHashMap<>();
        Map<Path, String> dirGroupFor = new HashMap<>();
        List<Path> sockets = new ArrayList<>();
        List<String[]> wanted = new ArrayList<>();
        for (VnicdConfig.PfConfig pc : config.physicalFunctions()) {
            for (VnicdConfig.VfConfig vc : pc.virtualFunctions()) {
                if (!vc.clientMode()) {
                    wanted.add(new String[] {vc.socket(), config.socketGroupOf(vc), pc.name() + "/" + vc.name()});
                }
            }
        }
        if (config.controlSocket() != null) {
            wanted.add(new String[] {config.controlSocket(), config.controlGroup(), "the control socket"});
        }
        for (String[] w : wanted) {
            Path socket = Path.of(w[0]).toAbsolutePath().normalize();
            Path dir = socket.getParent();
            sockets.add(socket);
            dirGroup.putIfAbsent(dir, null);
            if (w[1] != null) {
                String before = dirGroup.get(dir);
                if (before != null && !before.equals(w[1])) {
                    throw new IOException(dir + ": " + dirGroupFor.get(dir) + " needs group " + before + " and " + w[2]
                            + " group " + w[1] + "; a directory lets one group in: put them in different directories");
                }
                dirGroup.put(dir, w[1]);
                dirGroupFor.putIfAbsent(dir, w[2]);
            }
        }
        for (Map.Entry<Path, String> d : dirGroup.entrySet()) {
            RuntimeDirectory.prepare(d.getKey(), group(d.getValue()));
        }
        for (Path socket : sockets) {
            held.add(SocketLock.claim(socket));
        }
    }

    private GroupPrincipal group(String name) throws IOException {
        if (name == null) {
            return null;
        }
        GroupPrincipal g = groups.get(name);
        if (g == null) {
            g = RuntimeDirectory.group(name);
            groups.put(name, g);
        }
        return g;
    }

    public List<PhysicalFunction> physicalFunctions() {
        return pfs;
    }

    /** The PF called name, or null. */
    public PhysicalFunction physicalFunction(String name) {
        for (PhysicalFunction pf : pfs) {
            if (pf.name().equals(name)) {
                return pf;
            }
        }
        return null;
    }

    public VnicdConfig config() {
        return config;
    }

    /** The daemon's virtual router (some PF serves a subnet), or null. */
    public VirtualRouter router() {
        return router;
    }

    /**
     * Calls subscriber with every {@link VnicdEvent} from now on (frontends connecting and going, VF links, VFs added
     * and removed, NIC states, failovers), in order, on a thread of the daemon's. Close what is returned to stop.
     */
    public AutoCloseable subscribe(java.util.function.Consumer<VnicdEvent> subscriber) {
        events.subscribe(subscriber);
        return () -> events.unsubscribe(subscriber);
    }

    /**
     * A VF's counters by name (its queues' summed, e.g. {@code rxFrames}, {@code txBytes}, and its switch port's as
     * {@code port.outDrops}), read where the data path keeps them, or IllegalArgumentException naming what is missing.
     */
    public Map<String, Long> counters(String pfName, String vfName) {
        PhysicalFunction pf = physicalFunction(pfName);
        if (pf == null) {
            throw new IllegalArgumentException("no PF '" + pfName + "'");
        }
        VirtualFunction vf = pf.virtualFunction(vfName);
        Map<String, Long> out = new LinkedHashMap<>();
        for (io.vnicd.virtio.net.NetQueuePair.Counter c : io.vnicd.virtio.net.NetQueuePair.Counter.values()) {
            long sum = 0;
            for (int q = 0; q < vf.device().queuePairs(); q++) {
                sum += vf.device().queuePair(q).counter(c);
            }
            out.put(c.reportName(), sum);
        }
        io.vnicd.devmodel.counter.CounterBlock port = pf.vswitch().counters(vf.port());
        io.vnicd.devmodel.counter.CounterType[] types = port.types();
        for (int i = 0; i < types.length; i++) {
            out.put("port." + types[i].reportName(), port.get(i));
        }
        return out;
    }

    /** The metrics endpoint (http configured), or null. */
    public MetricsEndpoint metrics() {
        return metrics;
    }

    @Override
    public void close() {
        events.close();
        if (metrics != null) {
            metrics.close();
        }
        if (control != null) {
            control.close();
        }
        for (PhysicalFunction pf : pfs) {
            pf.close();
        }
        if (router != null) {
            router.close();
        }
        // Only now that the sockets are closed and removed may another daemon take their paths.
        for (SocketLock lock : held) {
            lock.close();
        }
        held.clear();
    }

    /** How long SIGTERM waits for an orderly close before the process halts anyway. */
    private static final long SHUTDOWN_LIMIT_MILLIS = 15_000;

    public static void main(String[] args) {
        // Last resort for every thread of the daemon: a thread that dies is logged, the others keep serving (the
        // data-path and vhost-user threads isolate their own failures and do not get here).
        Thread.setDefaultUncaughtExceptionHandler((t, e) ->
                LOG.log(System.Logger.Level.ERROR, "thread " + t.getName() + " ended by an unexpected error", e));
        VnicdConfig config;
        try {
            config = CommandLine.parse(args);
        } catch (ConfigException e) {
            System.err.println("vnicd: " + e.getMessage());
            System.err.println(CommandLine.USAGE);
            System.exit(2);
            return;
        }
        if (config == null) {
            System.out.println(CommandLine.USAGE);
            return;
        }
        Vnicd vnicd = new Vnicd(config);
        try {
            vnicd.start();
        } catch (IOException | RuntimeException e) {
            System.err.println("vnicd: cannot start: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("vnicd-shutdown").unstarted(() -> {
            LOG.log(System.Logger.Level.INFO, "vnicd stopping");
            // SIGTERM always ends the daemon: should closing hang (a thread stuck in a peer's descriptor), halt.
            Thread.ofPlatform().daemon().name("vnicd-shutdown-limit").start(() -> {
                try {
                    Thread.sleep(SHUTDOWN_LIMIT_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
                LOG.log(System.Logger.Level.ERROR, "vnicd did not stop within " + SHUTDOWN_LIMIT_MILLIS + " ms: halting");
                Runtime.getRuntime().halt(1);
            });
            vnicd.close();
            LOG.log(System.Logger.Level.INFO, "vnicd stopped");
            stopped.countDown();
        }));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
