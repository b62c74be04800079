package io.vnicd.vmm.daemon;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterType;
import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.sriov.pf.VirtualFunction;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The daemon's HTTP listener ({@code --http HOST:PORT}, {@code "http"} in the configuration; off unless asked):
 * Prometheus metrics at {@code /metrics}, and the live topology page at {@code /} ({@link TopologyPage}). Metrics
 * are in the text format, built on the Prometheus Java client. Every counter of the daemon's off-heap
 * registry becomes a sample of {@code vnicd_<scope>_<counter>_total} with its block's labels (node_exporter habits:
 * snake case, {@code _total} on counters, units in names: {@code vnicd_queue_rx_bytes_total{pf="pf0",vf="vf0"}});
 * blocks of one scope and labels are summed. Beside them, gauges of state: VFs connected and their links, the
 * data-path threads' rounds and sleeps. A scrape reads the counters where they live (plain reads of off-heap
 * memory) and never waits for a data-path thread.
 */
public final class MetricsEndpoint implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(MetricsEndpoint.class.getName());
    /**
     * Scopes whose blocks are per-slot storage without an owner of their own (rule hits): not exported as blocks;
     * each rule's hits are exported by name instead ({@code vnicd_rule_hits_total{pf,table,rule}}).
     */
    private static final java.util.Set<String> SKIPPED = java.util.Set.of("rules");

    private final HTTPServer server;
    private final ExecutorService pool;

    private MetricsEndpoint(HTTPServer server, ExecutorService pool) {
        this.server = server;
        this.pool = pool;
    }

    /**
     * Listens on host:port (port 0: any free one).
     *
     * @throws IOException when the address cannot be bound
     */
    public static MetricsEndpoint start(Vnicd vnicd, String host, int port) throws IOException {
        PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(new Collector(vnicd));
        // the live pages' event streams hold a thread each: room for all of them and for scrapes beside
        ExecutorService pool = Executors.newFixedThreadPool(TopologyPage.STREAMS + 4,
                Thread.ofPlatform().daemon().name("vnicd-http-", 0).factory());
        HTTPServer s;
        try {
            s = HTTPServer.builder().hostname(host).port(port).registry(registry).executorService(pool)
                    .defaultHandler(new TopologyPage(vnicd)).buildAndStart();
        } catch (IOException | RuntimeException e) {
            pool.shutdownNow();
            throw e;
        }
        LOG.log(System.Logger.Level.INFO, () -> "metrics on http://" + host + ":" + s.getPort() + "/metrics, the live"
                + " topology at http://" + host + ":" + s.getPort() + "/");
        return new MetricsEndpoint(s, pool);
    }

    public int port() {
        return server.getPort();
    }

    @Override
    public void close() {
        server.close();
        pool.shutdownNow();
    }

    /** "flowCache" → "flow_cache", "RX_BYTES" → "rx_bytes". */
    static String snake(String name) {
        StringBuilder b = new StringBuilder();
        char previous = 0;
        for (char c : name.toCharArray()) {
            if (Character.isUpperCase(c) && (Character.isLowerCase(previous) || Character.isDigit(previous))) {
                b.append('_');
            }
            b.append(Character.isLetterOrDigit(c) ? Character.toLowerCase(c) : '_');
            previous = c;
        }
        return b.toString().toLowerCase(Locale.ROOT);
    }

    private static final class Collector implements MultiCollector {
        private final Vnicd vnicd;

        Collector(Vnicd vnicd) {
            this.vnicd = vnicd;
        }

        /** One family being gathered: its help and its samples by labels (sorted by name). */
        private static final class Family {
            final String help;
            final Map<Map<String, String>, Double> samples = new LinkedHashMap<>();

            Family(String help) {
                this.help = help;
            }

            void add(Map<String, String> labels, double v) {
                samples.merge(labels, v, Double::sum);
            }
        }

        @Override
        public MetricSnapshots collect() {
            Map<String, Family> counters = new TreeMap<>();
            Map<String, Family> gauges = new TreeMap<>();
            for (CounterBlock b : CounterRegistry.process().blocks()) {
                if (b.isClosed() || SKIPPED.contains(b.scope())) {
                    continue;
                }
                Map<String, String> labels = new TreeMap<>(b.labels());
                CounterType[] types = b.types();
                for (int i = 0; i < types.length; i++) {
                    CounterType t = types[i];
                    String name = "vnicd_" + snake(b.scope()) + "_" + snake(t.name());
                    String help = t.description() + (t.isDrop() ? " (a drop)" : "");
                    (t.isGauge() ? gauges : counters).computeIfAbsent(name, n -> new Family(help)).add(labels, b.get(i));
                }
            }
            for (PhysicalFunction pf : vnicd.physicalFunctions()) {
                Map<String, String> pfLabel = Map.of("pf", pf.name());
                counters.computeIfAbsent("vnicd_datapath_rounds", n -> new Family("Rounds of the PF's data-path thread"
                        + " (polls of every port)")).add(pfLabel, pf.agent().rounds());
                counters.computeIfAbsent("vnicd_datapath_sleeps", n -> new Family("Times the PF's data-path thread went to"
                        + " sleep with nothing to do")).add(pfLabel, pf.agent().sleeps());
                counters.computeIfAbsent("vnicd_datapath_failures", n -> new Family("Failures the PF's data-path thread"
                        + " isolated")).add(pfLabel, pf.agent().failures());
                for (io.vnicd.devmodel.classify.FlowTable t : pf.classifier().ruleSet().tables()) {
                    for (io.vnicd.devmodel.classify.FlowEntry e : t.entries()) {
                        counters.computeIfAbsent("vnicd_rule_hits", n -> new Family("Frames a flow rule matched"))
                                .add(new TreeMap<>(Map.of("pf", pf.name(), "table", t.name(), "rule", e.name())), e.hits());
                    }
                    counters.computeIfAbsent("vnicd_table_misses", n -> new Family("Frames no rule of the flow table matched"))
                            .add(new TreeMap<>(Map.of("pf", pf.name(), "table", t.name())), t.misses());
                }
                for (VirtualFunction vf : pf.virtualFunctions()) {
                    Map<String, String> l = new TreeMap<>(Map.of("pf", pf.name(), "vf", vf.name()));
                    gauges.computeIfAbsent("vnicd_vf_tx_rate_limit_bytes_per_second", n -> new Family("The VF's TX rate limit"
                            + " (vnicctl vf set NAME rate R), 0 for none")).add(l, vf.device().txRate() / 8.0);
                    gauges.computeIfAbsent("vnicd_vf_connected", n -> new Family("1 while a frontend is connected to the VF"))
                            .add(l, vf.connected() ? 1 : 0);
                    gauges.computeIfAbsent("vnicd_vf_link_ready", n -> new Family("1 while the VF's driver is up and its link ready"))
                            .add(l, vf.device().isLinkReady() ? 1 : 0);
                }
            }
            List<MetricSnapshot> out = new ArrayList<>();
            counters.forEach((name, f) -> {
                CounterSnapshot.Builder c = CounterSnapshot.builder().name(name).help(f.help);
                f.samples.forEach((labels, v) -> c.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                        .labels(labels(labels)).value(v).build()));
                out.add(c.build());
            });
            gauges.forEach((name, f) -> {
                GaugeSnapshot.Builder g = GaugeSnapshot.builder().name(name).help(f.help);
                f.samples.forEach((labels, v) -> g.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                        .labels(labels(labels)).value(v).build()));
                out.add(g.build());
            });
            return new MetricSnapshots(out);
        }

        private static Labels labels(Map<String, String> m) {
            Labels.Builder b = Labels.builder();
            m.forEach(b::label);
            return b.build();
        }
    }
}
