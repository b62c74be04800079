package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vnicd.devmodel.classify.FlowEntry;
import io.vnicd.devmodel.classify.FlowTable;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterType;
import io.vnicd.devmodel.vswitch.VSwitch;
import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.sriov.pf.VirtualFunction;
import io.vnicd.sriov.peer.PeerLink;
import io.vnicd.sriov.peer.ProxyPort;
import io.vnicd.sriov.tunnel.VxlanPort;
import io.vnicd.sriov.tunnel.VxlanSegment;
import io.vnicd.sriov.uplink.Failover;
import io.vnicd.sriov.uplink.Uplink;
import io.vnicd.virtio.net.NetQueuePair;
import io.vnicd.virtio.net.VirtioNetBackend;
import io.vnicd.virtio.vhostuser.FeatureNames;

import java.util.Locale;

/**
 * The daemon's state as JSON for `vnicctl status`: per PF its switch, per VF its connection, negotiated
 * features, data-path counters and every drop counter, so that no lost frame goes unseen.
 */
final class StatusReport {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StatusReport() {
    }

    static ObjectNode of(Vnicd vnicd) {
        ObjectNode root = JSON.createObjectNode();
        if (vnicd.router() != null) {
            router(root.putObject("router"), vnicd.router());
        }
        ArrayNode pfs = root.putArray("pfs");
        for (PhysicalFunction pf : vnicd.physicalFunctions()) {
            ObjectNode p = pfs.addObject();
            p.put("name", pf.name());
            p.put("datapathSleeps", pf.agent().sleeps());
            p.put("datapathFailures", pf.agent().failures());
            p.put("rescuedCallWrites", pf.agent().rescuedWrites());
            counters(p.putObject("counters"), pf.counters());
            VSwitch sw = pf.vswitch();
            ObjectNode s = p.putObject("switch");
            s.put("learned", sw.learned());
            s.put("moves", sw.moves());
            s.put("tableFull", sw.tableFull());
            ArrayNode table = s.putArray("table");
            for (VSwitch.Entry e : sw.entries()) {
                if (e.port() < 0 || e.port() >= sw.portCount()) {
                    continue;
                }
                table.addObject().put("mac", MacAddress.format(e.mac())).put("vlan", e.vlan())
                        .put("port", sw.portName(e.port())).put("medium", medium(sw.port(e.port()).kind()))
                        .put("static", e.isStatic()).put("idleSeconds", e.idleNanos() / 1_000_000_000L);
            }
            ObjectNode rules = p.putObject("rules");
            rules.put("dropped", pf.ruleDrops()).put("steered", pf.ruleSteered()).put("monitored", pf.ruleMonitored());
            ArrayNode hits = rules.putArray("entries");
            for (FlowTable t : pf.classifier().ruleSet().tables()) {
                for (FlowEntry e : t.entries()) {
                    hits.addObject().put("table", t.name()).put("rule", e.name()).put("hits", e.hits());
                }
                hits.addObject().put("table", t.name()).put("rule", "(miss)").put("hits", t.misses());
            }
            ArrayNode flows = rules.putArray("flows");
            for (io.vnicd.devmodel.classify.RuleSpec r : pf.rules()) {
                ObjectNode f = flows.addObject().put("name", r.name()).put("table", r.table()).put("order", r.order())
                        .put("action", r.action());
                ObjectNode m = f.putObject("match");
                new java.util.TreeMap<>(r.match()).forEach(m::put);
            }
            ObjectNode dos = p.putObject("dos");
            dos.put("attacks", pf.dos().attacks().size()).put("matched", pf.dos().matched())
                    .put("admitted", pf.dos().admitted()).put("dropped", pf.dos().dropped());
            ObjectNode mon = p.putObject("monitor");
            mon.put("ring", pf.monitor().path().toString()).put("captured", pf.monitor().captured())
                    .put("dropped", pf.monitor().dropped());
            if (pf.placement() != null) {
                ObjectNode numa = p.putObject("bufferPlacement");
                numa.put("policy", pf.placement().policy().name()).put("topology", pf.placement().topology().toString())
                        .put("fallbacks", pf.placement().fallbacks());
                ArrayNode nodes = numa.putArray("nodes");
                int[] bound = pf.poolBinding();
                for (int n = 0; n < bound.length; n++) {
                    nodes.addObject().put("node", n).put("chosen", pf.placement().chosen(n)).put("memoryBound", bound[n] == n);
                }
            }
            Uplink up = pf.uplink();
            if (up != null) {
                ObjectNode u = p.putObject("uplink");
                u.put("policy", up.policy().word()).put("failback", up.failback()).put("linkUp", up.linkUp())
                        .put("stations", up.stations()).put("transport", up.transport().word());
                counters(u.putObject("switchPort"), up.counters());
                ArrayNode nics = u.putArray("nics");
                for (Uplink.NicStatus n : up.nics()) {
                    ObjectNode nic = nics.addObject().put("name", n.name()).put("state", n.state()).put("ifindex", n.ifindex())
                            .put("transport", n.transport());
                    counters(nic.putObject("counters"), n.counters());
                }
                ArrayNode fo = u.putArray("failovers");
                for (Failover f : up.failovers()) {
                    ObjectNode o = fo.addObject().put("at", f.at().toString()).put("from", f.from())
                            .put("reason", f.reason()).put("stations", f.stations()).put("announced", f.announced())
                            .put("remapMicros", f.remapMicros()).put("firstFrameMicros", f.firstFrameMicros());
                    if (f.to() != null) {
                        o.put("to", f.to());
                    }
                }
            }
            VxlanPort vx = pf.vxlan();
            if (vx != null) {
                ObjectNode v = p.putObject("vxlan").put("port", vx.localPort()).put("mtu", vx.mtu());
                ArrayNode segs = v.putArray("segments");
                for (VxlanSegment seg : vx.segments()) {
                    ObjectNode o = segs.addObject().put("vni", seg.vni()).put("vlan", seg.vlan());
                    ArrayNode r = o.putArray("remotes");
                    seg.remotes().forEach(t -> r.add(t.toString()));
                }
                ArrayNode fdb = v.putArray("fdb");
                for (VxlanPort.Entry e : vx.entries()) {
                    fdb.addObject().put("vni", e.vni()).put("mac", MacAddress.format(e.mac())).put("vtep", e.vtep().toString())
                            .put("static", e.isStatic());
                }
                counters(v.putObject("switchPort"), vx.counters());
                counters(v.putObject("counters"), vx.tunnelCounters());
            }
            if (!pf.peerLinks().isEmpty()) {
                ArrayNode links = p.putArray("peerLinks");
                for (PeerLink link : pf.peerLinks()) {
                    ObjectNode l = links.addObject().put("socket", link.socket().toString()).put("listening", link.listening());
                    ArrayNode names = l.putArray("peers");
                    link.peers().forEach(names::add);
                }
                ArrayNode proxies = p.putArray("proxies");
                for (ProxyPort proxy : pf.proxies()) {
                    ObjectNode o = proxies.addObject().put("name", proxy.name()).put("peer", proxy.peer()).put("linkUp", proxy.linkUp());
                    counters(o.putObject("switchPort"), proxy.counters());
                    counters(o.putObject("channel"), proxy.proxyStatus());
                }
            }
            ArrayNode vfs = p.putArray("vfs");
            for (VirtualFunction vf : pf.virtualFunctions()) {
                ObjectNode v = vf(vfs.addObject(), vf, sw);
                boolean[] checks = pf.sourceChecks(vf.name());
                v.put("linkState", pf.linkState(vf.name()).word()).put("carrier", vf.endpoint().carrier())
                        .put("txRateBitsPerSecond", vf.device().txRate()).put("spoofchk", checks[0]).put("trust", checks[1]);
                int vlan = sw.portVlan(vf.port());
                v.put("vlan", vlan < 0 ? 0 : vlan);
                PhysicalFunction.BacklogStatus b = pf.backlog(vf.port());
                v.putObject("rxBacklog").put("quotaBytes", b.quotaBytes()).put("bytesInUse", b.bytesInUse())
                        .put("peakBytes", b.peakBytes()).put("depth", b.depth()).put("held", b.held())
                        .put("delivered", b.delivered()).put("flushed", b.flushed()).put("overQuota", b.overQuota());
            }
        }
        return root;
    }

    /** The virtual router: whether it routes, the hosts away from home, and its VNIC on each PF. */
    static ObjectNode router(ObjectNode r, io.vnicd.sriov.router.VirtualRouter router) {
        r.put("active", router.isActive());
        ArrayNode hosts = r.putArray("hosts");
        for (io.vnicd.sriov.router.VirtualRouter.Host h : router.hosts()) {
            ObjectNode o = hosts.addObject().put("ip", io.vnicd.sriov.router.Ipv4Subnet.format(h.ip()))
                    .put("at", h.at()).put("home", h.home());
            if (h.mac() != 0) {
                o.put("mac", MacAddress.format(h.mac()));
            }
        }
        ArrayNode vnics = r.putArray("vnics");
        for (io.vnicd.sriov.router.RouterPort p : router.ports()) {
            ObjectNode o = vnics.addObject().put("pf", p.pf()).put("mac", MacAddress.format(p.mac()))
                    .put("subnet", p.subnet().toString()).put("gateway", io.vnicd.sriov.router.Ipv4Subnet.format(p.gateway()));
            ArrayNode addresses = o.putArray("addresses");
            for (int a : p.addresses()) {
                addresses.add(io.vnicd.sriov.router.Ipv4Subnet.format(a));
            }
            counters(o.putObject("counters"), p.routerCounters());
        }
        return r;
    }

    /** Fills v with the VF's connection, features and counters; returns v. */
    private static ObjectNode vf(ObjectNode v, VirtualFunction vf, VSwitch sw) {
        VirtioNetBackend dev = vf.device();
        v.put("name", vf.name());
        v.put("socket", vf.socket().toString());
        v.put("mode", vf.endpoint().mode().name().toLowerCase(Locale.ROOT));
        v.put("connected", vf.connected());
        v.put("connections", vf.endpoint().connections());
        if (vf.mac() >= 0) {
            v.put("mac", MacAddress.format(vf.mac()));
        }
        v.put("linkReady", dev.isLinkReady());
        v.put("features", FeatureNames.describe(dev.negotiatedFeatures()));
        v.put("refusedMessages", vf.endpoint().refusedMessages());
        String reason = vf.endpoint().lastCloseReason();
        if (reason != null && !reason.isEmpty()) {
            v.put("lastCloseReason", reason);
        }
        v.put("queueErrors", dev.queueErrors());
        String broken = dev.brokenQueues();
        if (!broken.isEmpty()) {
            v.put("brokenQueues", broken);
        }
        v.put("rxNotReady", dev.rxNotReady());
        ArrayNode memory = v.putArray("guestMemory");
        for (VirtioNetBackend.MemoryRegion r : dev.memoryRegions()) {
            memory.addObject().put("guestPhysAddr", String.format("0x%x", r.guestPhysAddr())).put("sizeBytes", r.size())
                    .put("rxChains", r.rxChains());
        }
        if (dev.isLogging() || dev.logBeyond() > 0) {
            v.put("dirtyLogging", dev.isLogging()).put("dirtyLogBeyond", dev.logBeyond());
        }
        ObjectNode counters = v.putObject("counters");
        for (NetQueuePair.Counter c : NetQueuePair.Counter.values()) {
            long sum = 0;
            for (int p = 0; p < dev.queuePairs(); p++) {
                sum += dev.queuePair(p).counter(c);
            }
            counters.put(c.reportName(), sum);
        }
        counters(v.putObject("switchPort"), sw.counters(vf.port()));
        return v;
    }

    /**
     * How a destination is reached (US7970951: the path picks its medium by where the destination is): a VF of
     * this PF by direct hand-over, a VNIC of a peer daemon on this host through the shared-memory channel, one on
     * another host through a VXLAN tunnel, anything else through the wire.
     */
    static String medium(io.vnicd.devmodel.port.Port.Kind kind) {
        return switch (kind) {
            case VF, ROUTER -> "direct";
            case PROXY -> "shared-memory";
            case TUNNEL -> "vxlan";
            case UPLINK -> "wire";
        };
    }

    /** Every counter of block into node, by report name; returns node. */
    static ObjectNode counters(ObjectNode node, CounterBlock block) {
        CounterType[] types = block.types();
        for (int i = 0; i < types.length; i++) {
            node.put(types[i].reportName(), block.get(i));
        }
        return node;
    }
}
