/**
 * The one place where vnicd calls into the C library through java.lang.foreign: memory, eventfds, epoll, Unix sockets,
 * and for the wire side the sockets of a backing NIC ({@link io.vnicd.nativeio.NicSocket}: AF_PACKET's
 * {@link io.vnicd.nativeio.PacketSocket}, AF_XDP's {@link io.vnicd.nativeio.XdpSocket} with its XDP program built and
 * loaded through bpf(2)), rtnetlink link events
 * ({@link io.vnicd.nativeio.RtNetlink}) and interface ioctls ({@link io.vnicd.nativeio.LinkState}).
 * Every failing call becomes a {@link io.vnicd.nativeio.NativeException} naming the call and errno.
 */
package io.vnicd.nativeio;
