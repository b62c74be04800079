package io.vnicd.nativeio;

import io.vnicd.nativeio.RtNetlink.LinkEvent;
import io.vnicd.testkit.TestNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RtNetlinkTest {
    private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** Records what read() hands over. */
    private static final class Recorder implements RtNetlink.Handler {
        final List<LinkEvent> events = new ArrayList<>();
        int overruns;
        /** Events before this one were already looked at by {@link #await}. */
        int cursor;

        @Override
        public void onLink(LinkEvent e) {
            events.add(e);
        }

        @Override
        public void overrun() {
            overruns++;
        }
    }

    /** Reads until an event after the ones already awaited matches what (returned), or 5 s pass (null). */
    private static LinkEvent await(RtNetlink rt, Recorder r, Predicate<LinkEvent> what) throws Exception {
        long deadline = System.nanoTime() + WAIT_NANOS;
        try (Epoll epoll = new Epoll(1)) {
            epoll.add(rt.fd(), 1);
            while (System.nanoTime() < deadline) {
                rt.read(r);
                while (r.cursor < r.events.size()) {
                    LinkEvent e = r.events.get(r.cursor++);
                    if (what.test(e)) {
                        return e;
                    }
                }
                epoll.await(50);
            }
        }
        return null;
    }

    /** Waits until the kernel has nothing more to say about ifname (operstate settled), so no event is in flight. */
    private static void settle(String ifname) throws Exception {
        long deadline = System.nanoTime() + WAIT_NANOS;
        while (!java.nio.file.Files.readString(java.nio.file.Path.of("/sys/class/net", ifname, "operstate")).strip().equals("up")
                && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        Thread.sleep(100);
    }

    @Test
    void shouldFollowAVethThroughDumpCarrierLossDeletionAndRecreation() throws Exception {
        try (TestNetwork net = TestNetwork.create("rtnl"); RtNetlink rt = RtNetlink.open()) {
            String ns = net.netns("peer");
            TestNetwork.VethPair v = net.veth("rta", "rtb", ns, null);
            int ifindex = LibC.ifNameToIndex(v.a());
            Recorder r = new Recorder();

            rt.requestDump();
            LinkEvent dumped = await(rt, r, e -> e.name().equals(v.a()) && e.lowerUp());
            assertNotNull(dumped, "the dump (or an event) reports " + v.a() + " with its carrier");
            assertEquals(ifindex, dumped.ifindex());
            assertFalse(dumped.deleted());
            assertTrue(dumped.up());
            assertEquals(1500, dumped.mtu());
            assertNotEquals(-1L, dumped.mac());
            assertTrue(dumped.link() > 0, "a veth names its peer's ifindex");

            net.setDown(ns, v.b());
            LinkEvent lost = await(rt, r, e -> e.ifindex() == ifindex && !e.lowerUp());
            assertNotNull(lost, "carrier loss of " + v.a() + " when its peer goes down");
            assertEquals(0, lost.carrier());
            assertTrue(lost.up(), "still administratively up");
            // DOWN when the peer lives in another namespace (default_operstate() looks it up in ours), else LOWERLAYERDOWN
            assertTrue(lost.operState() == LinkEvent.IF_OPER_DOWN || lost.operState() == LinkEvent.IF_OPER_LOWERLAYERDOWN,
                    "operstate " + lost.operState());

            net.setUp(ns, v.b());
            LinkEvent back = await(rt, r, e -> e.ifindex() == ifindex && e.lowerUp());
            assertNotNull(back);
            assertEquals(1, back.carrier());
            assertEquals(LinkEvent.IF_OPER_UP, back.operState());

            net.delete(v.a());
            LinkEvent gone = await(rt, r, e -> e.ifindex() == ifindex && e.deleted());
            assertNotNull(gone, "RTM_DELLINK for " + v.a());
            assertEquals(v.a(), gone.name());

            TestNetwork.VethPair again = net.veth("rta", "rtb", ns, null);
            assertEquals(v.a(), again.a(), "the same name");
            LinkEvent recreated = await(rt, r, e -> e.name().equals(v.a()) && !e.deleted());
            assertNotNull(recreated);
            assertNotEquals(ifindex, recreated.ifindex(), "a new link has a new ifindex");
            assertEquals(0, r.overruns);
        }
    }

    @Test
    void shouldRunADumpAskedForDuringAnotherAfterIt() throws Exception {
        try (TestNetwork net = TestNetwork.create("rtnl")) {
            TestNetwork.VethPair v = net.veth("rta", "rtb");
            settle(v.a()); // from here on, only the dumps speak of it
            try (RtNetlink rt = RtNetlink.open()) {
                Recorder r = new Recorder();
                rt.requestDump();
                rt.requestDump(); // the kernel runs one dump per socket at a time: this one waits for the first
                long deadline = System.nanoTime() + WAIT_NANOS;
                while (count(r, v.a()) < 2 && System.nanoTime() < deadline) {
                    rt.read(r);
                    Thread.sleep(5);
                }
                assertEquals(2, count(r, v.a()), "two dumps");
            }
        }
    }

    private static long count(Recorder r, String ifname) {
        return r.events.stream().filter(e -> e.name().equals(ifname)).count();
    }

    @Test
    void shouldCallOverrunOnceWhenTheKernelDroppedEventsAndGoOn() throws Exception {
        try (TestNetwork net = TestNetwork.create("rtnl"); RtNetlink rt = RtNetlink.open();
             Arena arena = Arena.ofConfined()) {
            TestNetwork.VethPair v = net.veth("rta", "rtb");
            MemorySegment small = arena.allocate(ValueLayout.JAVA_INT);
            small.set(ValueLayout.JAVA_INT, 0, 1); // the kernel raises it to its minimum: a few messages
            LibC.setsockopt(rt.fd(), 1 /* SOL_SOCKET */, 8 /* SO_RCVBUF */, small);
            for (int i = 0; i < 10; i++) { // a flap storm nobody reads
                net.setDown(v.b());
                net.setUp(v.b());
            }
            Recorder r = new Recorder();
            rt.read(r);
            assertEquals(1, r.overruns, "once per read, however many ENOBUFS");
            assertTrue(rt.overruns() >= 1);

            rt.requestDump(); // what the owner does after an overrun
            assertNotNull(await(rt, r, e -> e.name().equals(v.b())), "the socket still works");
        }
    }

    // ---- the parser, on crafted datagrams ----

    /** Writes netlink messages into a segment, the way the kernel lays them out. */
    private static final class Datagram {
        final MemorySegment buf;
        long end;
        long messageStart;

        Datagram(Arena arena) {
            buf = arena.allocate(8192, 8);
        }

        Datagram link(int type, int ifindex, int flags) {
            messageStart = end;
            buf.set(ValueLayout.JAVA_SHORT, end + 4, (short) type);
            buf.set(ValueLayout.JAVA_SHORT, end + 6, (short) 0x2); // NLM_F_MULTI
            end += RtNetlink.NLMSG_HDRLEN;
            buf.set(ValueLayout.JAVA_INT, end + 4, ifindex);
            buf.set(ValueLayout.JAVA_INT, end + 8, flags);
            end += RtNetlink.IFINFOMSG_LEN;
            return this;
        }

        Datagram control(int type, int payloadInt) {
            messageStart = end;
            buf.set(ValueLayout.JAVA_SHORT, end + 4, (short) type);
            end += RtNetlink.NLMSG_HDRLEN;
            buf.set(ValueLayout.JAVA_INT, end, payloadInt);
            end += 4;
            return done();
        }

        Datagram attr(int type, byte[] payload) {
            buf.set(ValueLayout.JAVA_SHORT, end, (short) (RtNetlink.RTA_HDRLEN + payload.length));
            buf.set(ValueLayout.JAVA_SHORT, end + 2, (short) type);
            MemorySegment.copy(payload, 0, buf, ValueLayout.JAVA_BYTE, end + RtNetlink.RTA_HDRLEN, payload.length);
            end += (RtNetlink.RTA_HDRLEN + payload.length + 3) & ~3;
            return this;
        }

        Datagram name(String name) {
            byte[] s = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            return attr(RtNetlink.IFLA_IFNAME, s);
        }

        Datagram intAttr(int type, int value) {
            return attr(type, new byte[] {(byte) value, (byte) (value >>> 8), (byte) (value >>> 16), (byte) (value >>> 24)});
        }

        /** Ends the current message: its nlmsg_len covers what was written since it began. */
        Datagram done() {
            buf.set(ValueLayout.JAVA_INT, messageStart, (int) (end - messageStart));
            return this;
        }
    }

    @Test
    void shouldParseLinkMessagesAndTheirAttributes() throws Exception {
        try (Arena arena = Arena.ofConfined(); RtNetlink parser = RtNetlink.unbound()) {
            Datagram d = new Datagram(arena);
            d.link(RtNetlink.RTM_NEWLINK, 7, LinkEvent.IFF_UP | LinkEvent.IFF_RUNNING | LinkEvent.IFF_LOWER_UP)
                    .name("eth9")
                    .attr(RtNetlink.IFLA_ADDRESS, new byte[] {0x02, 0x11, 0x22, 0x33, 0x44, 0x55})
                    .intAttr(RtNetlink.IFLA_MTU, 9000)
                    .intAttr(RtNetlink.IFLA_LINK, 3)
                    .attr(RtNetlink.IFLA_OPERSTATE, new byte[] {6})
                    .attr(RtNetlink.IFLA_CARRIER, new byte[] {1})
                    .attr(0x8000 | 18, new byte[8]) // a nested attribute we do not read (IFLA_LINKINFO)
                    .attr(999, new byte[] {1, 2, 3}) // one we do not know, with padding after it
                    .done();
            d.link(RtNetlink.RTM_DELLINK, 8, 0).name("old0").done();
            d.control(RtNetlink.NLMSG_DONE, 0);
            Recorder r = new Recorder();

            assertEquals(2, parser.parse(d.buf, d.end, r));
            assertEquals(new LinkEvent(false, 7, "eth9", 0x10041, 6, 1, 0x02_11_22_33_44_55L, 9000, 3), r.events.get(0));
            assertTrue(r.events.get(0).up() && r.events.get(0).lowerUp());
            assertEquals(new LinkEvent(true, 8, "old0", 0, 0, -1, -1, 0, -1), r.events.get(1));
            assertFalse(r.events.get(1).up() || r.events.get(1).lowerUp());
            assertEquals(0, parser.malformed());
        }
    }

    @Test
    void shouldSkipMalformedMessagesAndKeepTheRest() throws Exception {
        try (Arena arena = Arena.ofConfined(); RtNetlink parser = RtNetlink.unbound()) {
            Datagram d = new Datagram(arena);
            d.link(RtNetlink.RTM_NEWLINK, 1, 0).name("bad0").attr(RtNetlink.IFLA_MTU, new byte[4]).done();
            d.buf.set(ValueLayout.JAVA_SHORT, d.end - 8, (short) 200); // the MTU attribute claims more than its message
            d.link(RtNetlink.RTM_NEWLINK, 2, 0).intAttr(RtNetlink.IFLA_MTU, 1500).done(); // no name
            d.control(RtNetlink.RTM_NEWLINK, 3); // 20 bytes: shorter than an ifinfomsg
            d.link(RtNetlink.RTM_NEWLINK, 4, 0).name("good0").done();
            long goodEnd = d.end;
            d.link(RtNetlink.RTM_NEWLINK, 5, 0).name("cut0").done();
            Recorder r = new Recorder();

            assertEquals(1, parser.parse(d.buf, goodEnd + 20, r), "a datagram cut inside its last message");
            assertEquals(List.of("good0"), r.events.stream().map(LinkEvent::name).toList());
            assertEquals(4, parser.malformed(), "bad0, the nameless, the short and the cut one");

            d.buf.set(ValueLayout.JAVA_INT, 0, 8); // nlmsg_len below a header: nothing after it can be framed
            r.events.clear();
            assertEquals(0, parser.parse(d.buf, d.end, r));
            assertEquals(5, parser.malformed());
        }
    }
}
