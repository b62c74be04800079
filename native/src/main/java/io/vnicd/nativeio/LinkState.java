package io.vnicd.nativeio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads an interface's carrier, address, MTU and flags directly with ioctls, the way bonding's miimon does.
 * <p>
 * Why: the kernel's linkwatch delivers the carrier events of ordinary devices batched, about one per second
 * (linkwatch_fire_event / linkwatch_urgent_event in net/core/link_watch.c), so a physical NIC's carrier loss can reach
 * rtnetlink up to a second late. Stacked devices (iflink != ifindex: veth, vlan, macvlan) get theirs at once.
 * <pre>
 * struct ethtool_value, 8 bytes: 0 cmd (u32)  4 data (u32)     ETHTOOL_GLINK = 0x0a: data = 1 when the link is up
 * </pre>
 * and struct ifreq as in {@link Ifreq}, whose ifr_data points to the ethtool_value for SIOCETHTOOL.
 * Methods are synchronized: one request buffer per instance, shared by the threads that use it.
 */
public final class LinkState implements AutoCloseable {
    private static final int AF_INET = 2;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int ETHTOOL_GLINK = 0x0a;
    private static final Path SYS_CLASS_NET = Path.of("/sys/class/net");

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ifreq = arena.allocate(Ifreq.SIZE, 8);
    private final MemorySegment ethtool = arena.allocate(8, 8);
    private boolean closed;

    private LinkState(int fd) {
        this.fd = fd;
    }

    /** One AF_INET datagram socket, the handle for the interface ioctls. */
    public static LinkState open() throws NativeException {
        return new LinkState(LibC.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    }

    /**
     * The carrier as the driver reports it now (SIOCETHTOOL ETHTOOL_GLINK, which is 0 for an interface that is
     * administratively down); /sys/class/net/IF/carrier where the driver has no get_link (EOPNOTSUPP).
     *
     * @return 1 up, 0 down, -1 no such interface (ENODEV, or a name no interface can have)
     */
    public synchronized int carrier(String ifname) {
        if (!Ifreq.putName(ifreq, ifname)) {
            return -1;
        }
        ethtool.set(ValueLayout.JAVA_INT, 0, ETHTOOL_GLINK);
        ethtool.set(ValueLayout.JAVA_INT, 4, 0);
        ifreq.set(ValueLayout.ADDRESS, Ifreq.UNION, ethtool);
        int r = LibC.ioctlOrErrno(fd, Ifreq.SIOCETHTOOL, ifreq);
        if (r >= 0) {
            return ethtool.get(ValueLayout.JAVA_INT, 4) != 0 ? 1 : 0;
        }
        if (r == -Errno.ENODEV) {
            return -1;
        }
        return sysfsCarrier(ifname);
    }

    private static int sysfsCarrier(String ifname) {
        Path dir = SYS_CLASS_NET.resolve(ifname);
        try {
            return Files.readString(dir.resolve("carrier")).strip().equals("1") ? 1 : 0;
        } catch (IOException e) {
            // Reading carrier of an interface that is down fails with EINVAL: down. No directory: no interface.
            return Files.isDirectory(dir) ? 0 : -1;
        }
    }

    /**
     * True when the interface is stacked on another (its iflink differs from its ifindex: veth, vlan, macvlan), the
     * kernel's own test for delivering carrier events at once. Read from /sys/class/net/IF/{ifindex,iflink} of this
     * process's mount of sysfs; false for an interface that does not exist.
     */
    public static boolean isStacked(String ifname) {
        Path dir = SYS_CLASS_NET.resolve(ifname);
        try {
            String ifindex = Files.readString(dir.resolve("ifindex")).strip();
            String iflink = Files.readString(dir.resolve("iflink")).strip();
            return !ifindex.equals(iflink);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The hardware address (SIOCGIFHWADDR), low 48 bits, first octet most significant. */
    public synchronized long mac(String ifname) throws NativeException {
        request(ifname, Ifreq.SIOCGIFHWADDR, "SIOCGIFHWADDR");
        return Ifreq.mac(ifreq, Ifreq.HWADDR_DATA);
    }

    /** The MTU (SIOCGIFMTU). */
    public synchronized int mtu(String ifname) throws NativeException {
        request(ifname, Ifreq.SIOCGIFMTU, "SIOCGIFMTU");
        return ifreq.get(ValueLayout.JAVA_INT, Ifreq.UNION);
    }

    /**
     * The interface flags (SIOCGIFFLAGS): IFF_UP 0x1, IFF_RUNNING 0x40 and the others below 0x10000. The ioctl carries
     * 16 bits only, so IFF_LOWER_UP (0x10000) never appears here: use {@link #carrier}.
     */
    public synchronized int flags(String ifname) throws NativeException {
        request(ifname, Ifreq.SIOCGIFFLAGS, "SIOCGIFFLAGS");
        return Short.toUnsignedInt(ifreq.get(ValueLayout.JAVA_SHORT, Ifreq.UNION));
    }

    private void request(String ifname, long request, String what) throws NativeException {
        if (!Ifreq.putName(ifreq, ifname)) {
            throw new NativeException("ioctl(" + what + ")", "no interface can be called \"" + ifname + "\"");
        }
        LibC.ioctl(fd, request, ifreq, what + " " + ifname);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        LibC.closeQuietly(fd);
        arena.close();
    }
}
