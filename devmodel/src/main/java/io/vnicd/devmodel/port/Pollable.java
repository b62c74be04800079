package io.vnicd.devmodel.port;

/** Work the data-path thread does in each round; every method runs on that thread only. */
public interface Pollable {
    /**
     * Start of a round, before any {@link #poll()}: read ahead what this round will touch (the RX descriptors
     * other devices' frames will go to), so that the loads of all devices overlap.
     */
    default void beforePoll() {
    }

    /** Processes what is pending (bounded); returns how much work was done, 0 when there was none. */
    int poll();

    /** End of a round: publish what was batched (used indices, notifications). */
    default void flush() {
    }

    /**
     * The thread is about to sleep: ask the drivers to kick again. Returns false when work arrived meanwhile
     * (the thread must not sleep then).
     */
    default boolean prepareToSleep() {
        return true;
    }

    /** The thread woke up and polls again: drivers may stop kicking. */
    default void wokeUp() {
    }

    /**
     * One of the methods above threw: stop doing work (until whatever owns this resets it), so that the failure
     * stays here and every other pollable of the thread keeps running. Called on the data-path thread.
     */
    void failed(Throwable cause);
}
