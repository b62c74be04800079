package io.vnicd.sriov.pf;

import io.vnicd.virtio.net.VirtioNetBackend;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * One virtual function: a virtio-net device on a vhost-user socket, attached to its PF's switch at {@link #port()}.
 *
 * @param mac the administratively set MAC (pinned in the switch), or -1 when the VF learns it from traffic
 */
public record VirtualFunction(String name, int port, long mac, VirtioNetBackend device, VhostUserEndpoint endpoint) {

    void start() throws IOException {
        endpoint.start();
    }

    public Path socket() {
        return endpoint.path();
    }

    public boolean connected() {
        return endpoint.isConnected();
    }
}
