package io.vnicd.sriov.peer;

import io.vnicd.devmodel.proxy.FrameChannel;
import io.vnicd.nativeio.EventFd;

import java.util.List;

/** What a peer link needs of the PF it joins to its peers (the PF implements it; every call may block briefly). */
public interface PeerHost {
    /** The name this daemon's PF gives itself to peers. */
    String peerName();

    /** A proxy port for a peer: a detached one of this link (the one that had this peer, if any), or a new one. */
    ProxyPort proxyFor(PeerLink link, String peer);

    /** Attaches the channel to the proxy, on the data path; onBroken runs there if the peer breaks it. */
    void attach(ProxyPort proxy, String peer, FrameChannel channel, EventFd wakeMe, EventFd wakePeer, Runnable onBroken);

    /** Detaches the proxy's channel and forgets every address behind it, on the data path. */
    void detach(ProxyPort proxy);

    /** The addresses to announce to the peer behind toward: this PF's VNICs and those behind its other proxies. */
    List<PeerAddress> addresses(ProxyPort toward);

    /** Maps (or unmaps) addresses the peer announced to its proxy, on the data path; returns how many it holds now. */
    int apply(ProxyPort proxy, List<PeerAddress> changes);
}
