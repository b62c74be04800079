package io.vnicd.vmm.qemu;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One virtio-net-pci NIC of a guest and the host-side backend behind it.
 *
 * <p>The backend that matters is vhost-user (a vnicd VF): a unix socket carries the vhost-user protocol and
 * the guest's memory is shared through the memfd backend {@link QemuLauncher} always configures. The
 * {@code socket} kinds connect two guests to each other without vnicd, so the guest side can be tested on its
 * own. Every device gets {@code vectors=0}: QEMU 7.2 under TCG crashes in msix_set_vector_notifiers when a
 * vhost-user virtio-net-pci device uses MSI-X (shared/DESIGN.md); INTx works for every kind.
 *
 * @param id the name the NIC is known by: the device is {@code id}, the netdev {@code id + "-net"} and the
 *     chardev {@code id + "-chr"}; {@code set_link} accepts either of the first two
 * @param mac the guest MAC, e.g. {@code 52:54:00:12:34:01}
 * @param kind the backend
 * @param socketPath the vhost-user socket (vhost-user kinds only)
 * @param host the peer or bind address (socket kinds only)
 * @param port the TCP or UDP port (socket kinds only)
 * @param localPort the local UDP port (UDP kind only)
 * @param queuePairs number of queue pairs (vhost-user only; 1 unless multiqueue)
 * @param reconnectSeconds for {@link Kind#VHOST_USER_CLIENT}: when non-zero QEMU, instead of exiting at start
 *     when the backend is not listening yet, retries every this many seconds (QEMU 7.2 blocks its start, QMP
 *     included, until it connects), and reconnects as often after the backend goes away, so a restarted vnicd
 *     gets its guests back; 0 means connect once, at start
 */
public record QemuNic(String id, String mac, Kind kind, Path socketPath, String host, int port, int localPort,
                      int queuePairs, int reconnectSeconds) {

    /** The kinds of backend. */
    public enum Kind {
        /** vhost-user, QEMU connects to a socket the backend (vnicd) listens on. */
        VHOST_USER_CLIENT,
        /** vhost-user, QEMU listens ({@code server=on,wait=off}) and the backend connects. */
        VHOST_USER_SERVER,
        /** {@code -netdev socket,listen=host:port}: a TCP stream another guest connects to. */
        SOCKET_LISTEN,
        /** {@code -netdev socket,connect=host:port}: connects to a guest that listens. */
        SOCKET_CONNECT,
        /** {@code -netdev socket,udp=host:port,localaddr=127.0.0.1:localPort}: UDP unicast, no start order. */
        SOCKET_UDP
    }

    public QemuNic {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(mac, "mac");
        Objects.requireNonNull(kind, "kind");
        if (!id.matches("[A-Za-z][A-Za-z0-9_.-]*")) {
            throw new IllegalArgumentException("a QEMU id starts with a letter and has letters, digits, _ . - only: " + id);
        }
        if (!mac.matches("(?i)[0-9a-f]{2}(:[0-9a-f]{2}){5}")) {
            throw new IllegalArgumentException("not a MAC address: " + mac);
        }
        if (queuePairs < 1) {
            throw new IllegalArgumentException("queuePairs must be at least 1: " + queuePairs);
        }
        if (reconnectSeconds < 0 || (reconnectSeconds > 0 && kind != Kind.VHOST_USER_CLIENT)) {
            throw new IllegalArgumentException("reconnect applies to vhost-user client NICs only, in seconds >= 0: "
                    + reconnectSeconds + " for " + kind);
        }
        if ((kind == Kind.VHOST_USER_CLIENT || kind == Kind.VHOST_USER_SERVER) && socketPath == null) {
            throw new IllegalArgumentException("a vhost-user NIC needs a socket path");
        }
    }

    /** A VF served by vnicd: QEMU connects to the vhost-user socket vnicd listens on. */
    public static QemuNic vhostUser(String id, String mac, Path socket) {
        return new QemuNic(id, mac, Kind.VHOST_USER_CLIENT, socket, null, 0, 0, 1, 0);
    }

    /** A VF whose backend connects to QEMU: QEMU listens on socket without waiting for the backend at start. */
    public static QemuNic vhostUserServer(String id, String mac, Path socket) {
        return new QemuNic(id, mac, Kind.VHOST_USER_SERVER, socket, null, 0, 0, 1, 0);
    }

    /** A NIC whose wire is a TCP stream QEMU listens for on 127.0.0.1:port. */
    public static QemuNic socketListen(String id, String mac, int port) {
        return new QemuNic(id, mac, Kind.SOCKET_LISTEN, null, "127.0.0.1", port, 0, 1, 0);
    }

    /** A NIC whose wire is a TCP stream to a guest listening on 127.0.0.1:port. */
    public static QemuNic socketConnect(String id, String mac, int port) {
        return new QemuNic(id, mac, Kind.SOCKET_CONNECT, null, "127.0.0.1", port, 0, 1, 0);
    }

    /** A NIC whose wire is UDP datagrams between 127.0.0.1:localPort and 127.0.0.1:remotePort. */
    public static QemuNic socketUdp(String id, String mac, int localPort, int remotePort) {
        return new QemuNic(id, mac, Kind.SOCKET_UDP, null, "127.0.0.1", remotePort, localPort, 1, 0);
    }

    /** The same NIC with several queue pairs (vhost-user only; the guest sees a multiqueue virtio-net). */
    public QemuNic withQueuePairs(int pairs) {
        return new QemuNic(id, mac, kind, socketPath, host, port, localPort, pairs, reconnectSeconds);
    }

    /** The same vhost-user client NIC, reconnecting to its backend after seconds when the backend goes away. */
    public QemuNic withReconnect(int seconds) {
        return new QemuNic(id, mac, kind, socketPath, host, port, localPort, queuePairs, seconds);
    }

    /** The netdev id: what {@code set_link} and {@code netdev_del} take. */
    public String netdevId() {
        return id + "-net";
    }

    /** The chardev id of a vhost-user NIC. */
    public String chardevId() {
        return id + "-chr";
    }

    /** True when the backend is vhost-user. */
    public boolean isVhostUser() {
        return kind == Kind.VHOST_USER_CLIENT || kind == Kind.VHOST_USER_SERVER;
    }

    /**
     * The QEMU arguments that create this NIC at start: a chardev for vhost-user, the netdev and the device.
     *
     * @param bus the PCI bus to plug into, or null for QEMU's default
     */
    public List<String> arguments(String bus) {
        List<String> args = new ArrayList<>();
        if (isVhostUser()) {
            String chardev = "socket,id=" + chardevId() + ",path=" + QemuLauncher.escape(socketPath.toString());
            if (kind == Kind.VHOST_USER_SERVER) {
                chardev += ",server=on,wait=off";
            } else if (reconnectSeconds > 0) {
                chardev += ",reconnect=" + reconnectSeconds;
            }
            args.add("-chardev");
            args.add(chardev);
        }
        args.add("-netdev");
        args.add(joinProperties(netdevType() + ",id=" + netdevId(), netdevProperties()));
        args.add("-device");
        args.add(joinProperties("virtio-net-pci,id=" + id, deviceProperties(bus)));
        return args;
    }

    /** The netdev type for {@code -netdev} and {@code netdev_add}. */
    public String netdevType() {
        return isVhostUser() ? "vhost-user" : "socket";
    }

    /** The netdev properties, without type and id (which {@link QmpClient#netdevAdd} takes apart). */
    public Map<String, Object> netdevProperties() {
        Map<String, Object> p = new LinkedHashMap<>();
        switch (kind) {
            case VHOST_USER_CLIENT, VHOST_USER_SERVER -> {
                p.put("chardev", chardevId());
                if (queuePairs > 1) {
                    p.put("queues", queuePairs);
                }
            }
            case SOCKET_LISTEN -> p.put("listen", host + ":" + port);
            case SOCKET_CONNECT -> p.put("connect", host + ":" + port);
            case SOCKET_UDP -> {
                p.put("udp", host + ":" + port);
                p.put("localaddr", "127.0.0.1:" + localPort);
            }
        }
        return p;
    }

    /** The virtio-net-pci properties, without driver and id (which {@link QmpClient#deviceAdd} takes apart). */
    public Map<String, Object> deviceProperties(String bus) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("netdev", netdevId());
        p.put("mac", mac);
        p.put("vectors", 0);
        if (queuePairs > 1) {
            p.put("mq", true);
        }
        if (bus != null) {
            p.put("bus", bus);
        }
        return p;
    }

    private static String joinProperties(String head, Map<String, Object> properties) {
        StringBuilder sb = new StringBuilder(head);
        for (Map.Entry<String, Object> e : properties.entrySet()) {
            Object v = e.getValue();
            String text = v instanceof Boolean b ? (b ? "on" : "off") : String.valueOf(v);
            sb.append(',').append(e.getKey()).append('=').append(QemuLauncher.escape(text));
        }
        return sb.toString();
    }
}
