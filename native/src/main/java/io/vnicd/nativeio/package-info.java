/**
 * The one place where vnicd calls into the C library through java.lang.foreign: memory, eventfds, epoll, Unix sockets,
 * and for the wire side packet sockets ({@link io.vnicd.nativeio.PacketSocket}), rtnetlink link events
 * ({@link io.vnicd.nativeio.RtNetlink}) and interface ioctls ({@link io.vnicd.nativeio.LinkState}).
 * Every failing call becomes a {@link io.vnicd.nativeio.NativeException} naming the call and errno.
 */
package io.vnicd.nativeio;
