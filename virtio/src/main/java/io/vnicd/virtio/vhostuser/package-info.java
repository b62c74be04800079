/**
 * The vhost-user protocol, back-end side (QEMU docs/interop/vhost-user.rst): message layouts, the request
 * handler for one frontend connection, and the server and client endpoints that own the sockets.
 */
package io.vnicd.virtio.vhostuser;
