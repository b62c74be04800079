package io.vnicd.nativeio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * The XDP program that hands every frame of an interface's receive queues to the AF_XDP sockets of an XSKMAP, built
 * here as raw BPF instructions (no compiler, no libbpf), and its attachment to the interface through a BPF link
 * (BPF_LINK_CREATE, attach type BPF_XDP, Linux 5.9 and later): the link detaches the program when its descriptor is
 * closed, also when the process dies, so a crash never leaves an interface redirecting into nothing.
 * <p>
 * The program, in the kernel's assembler notation (include/uapi/linux/bpf.h, Documentation/bpf/standardization):
 * <pre>
 *   r2 = *(u32 *)(r1 + 16)     ; ctx-&gt;rx_queue_index (struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index)
 *   r1 = map[xskmap] ll        ; BPF_LD | BPF_DW | BPF_IMM, src_reg BPF_PSEUDO_MAP_FD: the loader turns the fd into the map
 *   r3 = 2                     ; flags: XDP_PASS when the queue has no socket (the low bits of flags, Linux 5.3 and later)
 *   call bpf_redirect_map      ; helper 51
 *   exit                       ; r0 = XDP_REDIRECT, or XDP_PASS
 * </pre>
 * One instruction is 8 bytes: 0 code (u8), 1 dst_reg (low 4 bits) and src_reg (high 4 bits), 2 off (s16), 4 imm (s32);
 * the 64-bit load takes two, the second holding the upper 32 bits of the immediate (0 here).
 * <p>
 * The bpf_attr layouts used (union bpf_attr, linux/bpf.h), every other byte zero:
 * <pre>
 * BPF_MAP_CREATE      0 map_type  4 key_size  8 value_size  12 max_entries  16 map_flags  28 map_name[16]
 * BPF_MAP_UPDATE_ELEM 0 map_fd  8 key (u64 pointer)  16 value (u64 pointer)  24 flags (u64)
 * BPF_PROG_LOAD       0 prog_type  4 insn_cnt  8 insns (u64 pointer)  16 license (u64 pointer)  24 log_level
 *                     28 log_size  32 log_buf (u64 pointer)  44 prog_flags  48 prog_name[16]  68 expected_attach_type
 * BPF_LINK_CREATE     0 prog_fd  4 target_ifindex  8 attach_type  12 flags (XDP_FLAGS_*)
 * </pre>
 */
final class XdpProgram implements AutoCloseable {
    // enum bpf_cmd
    private static final int BPF_MAP_CREATE = 0;
    private static final int BPF_MAP_UPDATE_ELEM = 2;
    private static final int BPF_PROG_LOAD = 5;
    private static final int BPF_LINK_CREATE = 28;
    private static final int BPF_MAP_TYPE_XSKMAP = 17;
    private static final int BPF_PROG_TYPE_XDP = 6;
    /** enum bpf_attach_type */
    private static final int BPF_XDP = 37;
    private static final int BPF_FUNC_REDIRECT_MAP = 51;
    private static final int BPF_PSEUDO_MAP_FD = 1;
    private static final int XDP_PASS = 2;
    // linux/if_link.h
    static final int XDP_FLAGS_SKB_MODE = 1 << 1;
    static final int XDP_FLAGS_DRV_MODE = 1 << 2;

    /** The union's size in the uapi header of Linux 6.1; a newer kernel's is larger, and takes a shorter one. */
    private static final int ATTR_SIZE = 144;
    private static final int OBJ_NAME_LEN = 16;
    private static final int LOG_SIZE = 64 << 10;

    /** Where the program runs: in the driver (native XDP) or on the skb after it (generic XDP, any interface). */
    enum Mode {
        DRV("drv", XDP_FLAGS_DRV_MODE),
        SKB("skb", XDP_FLAGS_SKB_MODE);

        final String word;
        final int flag;

        Mode(String word, int flag) {
            this.word = word;
            this.flag = flag;
        }
    }

    private final int mapFd;
    private final int linkFd;
    private final Mode mode;
    private boolean closed;

    private XdpProgram(int mapFd, int linkFd, Mode mode) {
        this.mapFd = mapFd;
        this.linkFd = linkFd;
        this.mode = mode;
    }

    /**
     * Creates an XSKMAP of entries slots (one per receive queue), loads the program over it and attaches it to ifindex
     * in driver mode, or in generic (skb) mode where the driver has no XDP or refuses it (a veth whose peer's MTU
     * exceeds a page, a driver without ndo_bpf). skbOnly skips the attempt in driver mode.
     *
     * @throws NativeException naming the step; a program the verifier refused carries its log
     */
    static XdpProgram attach(int ifindex, String ifname, int entries, boolean skbOnly) throws NativeException {
        int mapFd = -1;
        int progFd = -1;
        try (Arena temp = Arena.ofConfined()) {
            MemorySegment attr = temp.allocate(ATTR_SIZE, 8);
            attr.set(ValueLayout.JAVA_INT, 0, BPF_MAP_TYPE_XSKMAP);
            attr.set(ValueLayout.JAVA_INT, 4, 4);
            attr.set(ValueLayout.JAVA_INT, 8, 4);
            attr.set(ValueLayout.JAVA_INT, 12, entries);
            putName(attr, 28, "vnicd_xsks");
            mapFd = LibC.bpf(BPF_MAP_CREATE, attr, "BPF_MAP_CREATE(XSKMAP)");

            progFd = load(mapFd, temp);

            NativeException drv = null;
            int linkFd = -1;
            Mode mode = skbOnly ? Mode.SKB : Mode.DRV;
            if (!skbOnly) {
                try {
                    linkFd = link(progFd, ifindex, Mode.DRV, temp);
                } catch (NativeException e) {
                    drv = e;
                    mode = Mode.SKB;
                }
            }
            if (linkFd < 0) {
                try {
                    linkFd = link(progFd, ifindex, Mode.SKB, temp);
                } catch (NativeException e) {
                    throw drv == null ? e : new NativeException(e.call(), e.errno(),
                            "in skb mode; in driver mode " + drv.getMessage());
                }
            }
            // The link holds the program, the program the map: the program's own descriptor is not needed any more.
            LibC.closeQuietly(progFd);
            return new XdpProgram(mapFd, linkFd, mode);
        } catch (NativeException | RuntimeException e) {
            LibC.closeQuietly(progFd);
            LibC.closeQuietly(mapFd);
            if (e instanceof NativeException n) {
                throw n.within("XDP program for " + ifname);
            }
            throw e;
        }
    }

    /** BPF_PROG_LOAD without a log; refused, loaded again with one, so that the exception can say why. */
    private static int load(int mapFd, Arena temp) throws NativeException {
        MemorySegment insns = temp.allocate(6 * 8, 8);
        insn(insns, 0, 0x61, 2, 1, 16, 0);                // BPF_LDX | BPF_MEM | BPF_W: r2 = *(u32 *)(r1 + 16)
        insn(insns, 1, 0x18, 1, BPF_PSEUDO_MAP_FD, 0, mapFd); // BPF_LD | BPF_DW | BPF_IMM: r1 = map fd
        insn(insns, 2, 0, 0, 0, 0, 0);                     //   its second half: imm's upper 32 bits
        insn(insns, 3, 0xb7, 3, 0, 0, XDP_PASS);           // BPF_ALU64 | BPF_MOV | BPF_K: r3 = XDP_PASS
        insn(insns, 4, 0x85, 0, 0, 0, BPF_FUNC_REDIRECT_MAP); // BPF_JMP | BPF_CALL
        insn(insns, 5, 0x95, 0, 0, 0, 0);                  // BPF_JMP | BPF_EXIT
        MemorySegment license = temp.allocateFrom("GPL");
        MemorySegment attr = temp.allocate(ATTR_SIZE, 8);
        attr.set(ValueLayout.JAVA_INT, 0, BPF_PROG_TYPE_XDP);
        attr.set(ValueLayout.JAVA_INT, 4, 6);
        attr.set(ValueLayout.JAVA_LONG, 8, insns.address());
        attr.set(ValueLayout.JAVA_LONG, 16, license.address());
        putName(attr, 48, "vnicd_xsk");
        attr.set(ValueLayout.JAVA_INT, 68, BPF_XDP);
        try {
            return LibC.bpf(BPF_PROG_LOAD, attr, "BPF_PROG_LOAD");
        } catch (NativeException first) {
            MemorySegment log = temp.allocate(LOG_SIZE);
            attr.set(ValueLayout.JAVA_INT, 24, 1);
            attr.set(ValueLayout.JAVA_INT, 28, LOG_SIZE);
            attr.set(ValueLayout.JAVA_LONG, 32, log.address());
            try {
                return LibC.bpf(BPF_PROG_LOAD, attr, "BPF_PROG_LOAD");
            } catch (NativeException e) {
                String text = log.getString(0, StandardCharsets.UTF_8).strip();
                throw new NativeException(e.call(), e.errno(), text.isEmpty() ? "no verifier log" : "verifier log: " + text);
            }
        }
    }

    private static int link(int progFd, int ifindex, Mode mode, Arena temp) throws NativeException {
        MemorySegment attr = temp.allocate(ATTR_SIZE, 8);
        attr.set(ValueLayout.JAVA_INT, 0, progFd);
        attr.set(ValueLayout.JAVA_INT, 4, ifindex);
        attr.set(ValueLayout.JAVA_INT, 8, BPF_XDP);
        attr.set(ValueLayout.JAVA_INT, 12, mode.flag);
        return LibC.bpf(BPF_LINK_CREATE, attr, "BPF_LINK_CREATE(XDP, " + mode.word + " mode)");
    }

    private static void insn(MemorySegment insns, int index, int code, int dst, int src, int off, int imm) {
        long at = index * 8L;
        insns.set(ValueLayout.JAVA_BYTE, at, (byte) code);
        insns.set(ValueLayout.JAVA_BYTE, at + 1, (byte) ((src << 4) | dst));
        insns.set(ValueLayout.JAVA_SHORT, at + 2, (short) off);
        insns.set(ValueLayout.JAVA_INT, at + 4, imm);
    }

    private static void putName(MemorySegment attr, long at, String name) {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(b, 0, attr, ValueLayout.JAVA_BYTE, at, Math.min(b.length, OBJ_NAME_LEN - 1));
    }

    /** Puts the AF_XDP socket xskFd in the map at queue: frames of that queue go to it from now. */
    void insert(int queue, int xskFd) throws NativeException {
        try (Arena temp = Arena.ofConfined()) {
            MemorySegment key = temp.allocate(ValueLayout.JAVA_INT);
            key.set(ValueLayout.JAVA_INT, 0, queue);
            MemorySegment value = temp.allocate(ValueLayout.JAVA_INT);
            value.set(ValueLayout.JAVA_INT, 0, xskFd);
            MemorySegment attr = temp.allocate(ATTR_SIZE, 8);
            attr.set(ValueLayout.JAVA_INT, 0, mapFd);
            attr.set(ValueLayout.JAVA_LONG, 8, key.address());
            attr.set(ValueLayout.JAVA_LONG, 16, value.address());
            LibC.bpf(BPF_MAP_UPDATE_ELEM, attr, "BPF_MAP_UPDATE_ELEM(XSKMAP[" + queue + "])");
        }
    }

    Mode mode() {
        return mode;
    }

    /** Detaches the program (closing the link's descriptor) and releases the map; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        LibC.closeQuietly(linkFd);
        LibC.closeQuietly(mapFd);
    }
}
