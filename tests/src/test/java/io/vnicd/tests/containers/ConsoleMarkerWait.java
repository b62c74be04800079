package io.vnicd.tests.containers;

import org.testcontainers.containers.ContainerLaunchException;
import org.testcontainers.containers.output.OutputFrame.OutputType;
import org.testcontainers.containers.wait.strategy.AbstractWaitStrategy;

/**
 * Ready when the guest's serial console (the container's stdout) shows a marker.
 *
 * <p>Why not Testcontainers' log-message wait: a guest that panics or powers off ends its container, and the test
 * should then fail at once, naming the exit code and showing the console, instead of waiting out the timeout.
 * A guest that prints the marker and then powers off is ready: the console is what counts.
 */
final class ConsoleMarkerWait extends AbstractWaitStrategy {
    /** How often the console is read while waiting; a guest boot takes seconds under TCG. */
    private static final long POLL_MILLIS = 200;
    private static final int TAIL_CHARS = 4000;

    private final String marker;

    ConsoleMarkerWait(String marker) {
        this.marker = marker;
    }

    @Override
    protected void waitUntilReady() {
        long deadline = System.nanoTime() + startupTimeout.toNanos();
        while (true) {
            boolean running = waitStrategyTarget.isRunning();
            // Read after the state: a guest that printed the marker and exited in between is still seen as ready.
            if (waitStrategyTarget.getLogs(OutputType.STDOUT).contains(marker)) {
                return;
            }
            if (!running) {
                Long exitCode = waitStrategyTarget.getCurrentContainerInfo().getState().getExitCodeLong();
                throw new ContainerLaunchException("guest exited (code " + exitCode + ") before its console showed '"
                        + marker + "'; console and QEMU output:\n" + tail(waitStrategyTarget.getLogs()));
            }
            if (System.nanoTime() > deadline) {
                throw new ContainerLaunchException("guest console did not show '" + marker + "' within "
                        + startupTimeout + "; console and QEMU output:\n" + tail(waitStrategyTarget.getLogs()));
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ContainerLaunchException("interrupted while waiting for '" + marker + "'", e);
            }
        }
    }

    static String tail(String text) {
        return text.length() <= TAIL_CHARS ? text : "..." + text.substring(text.length() - TAIL_CHARS);
    }
}
