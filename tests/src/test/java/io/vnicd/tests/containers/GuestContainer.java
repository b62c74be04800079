package io.vnicd.tests.containers;

import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.command.WaitContainerResultCallback;
import com.github.dockerjava.api.exception.DockerClientException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Volume;
import io.vnicd.testkit.Peers;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.OutputFrame.OutputType;
import org.testcontainers.containers.startupcheck.StartupCheckStrategy;
import org.testcontainers.utility.DockerImageName;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One QEMU guest (TCG, no KVM) in a container of the local image {@code vnicd/guest-runner:1}.
 *
 * <p>Why a container: a test can boot several guests, each with its own QEMU, and Testcontainers removes them when
 * the test ends, pass or fail. The guest reaches vnicd only through vhost-user sockets, so a socket folder is
 * bind-mounted at the same path inside: a socket path means the same thing to vnicd on the host and to QEMU in the
 * container. The container needs no network of its own (host networking by default).
 *
 * <p>The serial console (ttyS0) is QEMU's stdout, which is the container log: {@link #console()} reads it and
 * {@link #waitingForConsole} makes {@code start()} return once a marker shows. Guest RAM is a shared memfd, as
 * vhost-user needs (the backend maps it from SET_MEM_TABLE's fds).
 *
 * <pre>{@code
 * try (GuestContainer guest = new GuestContainer(kernel, initramfs)
 *         .withKernelCommandLine("console=ttyS0 panic=-1")
 *         .withSocketFolder(socketDir)
 *         .withQemuArgs("-chardev", "socket,id=vu0,path=" + socketDir.resolve("vf0.sock"), ...)
 *         .waitingForConsole("login:", Duration.ofMinutes(2))) {
 *     guest.start();
 *     ...
 * }
 * }</pre>
 * The image is never pulled: {@code scripts/docker-engine start} builds it from the host's QEMU. Nothing else may
 * be pulled either: the JVM needs {@code TESTCONTAINERS_RYUK_DISABLED=true} and {@code TESTCONTAINERS_CHECKS_DISABLE=true}
 * in its environment (tests/pom.xml gives them to surefire; Testcontainers reads them from nowhere else but
 * ~/.testcontainers.properties), and {@link EngineApiVersion} lets Testcontainers talk to Debian's older engine.
 * With vhost-user, give virtio-net-pci {@code vectors=0}: QEMU 7.2 under TCG crashes with MSI-X (shared/DESIGN.md).
 */
public final class GuestContainer extends GenericContainer<GuestContainer> {
    public static final DockerImageName IMAGE = DockerImageName.parse("vnicd/guest-runner:1");
    static final String QEMU = "/usr/bin/qemu-system-x86_64";
    static final String KERNEL_INSIDE = "/vnicd/guest/kernel";
    static final String INITRAMFS_INSIDE = "/vnicd/guest/initramfs";
    static final Duration DEFAULT_BOOT_TIMEOUT = Duration.ofMinutes(3);

    private final List<Bind> binds = new ArrayList<>();
    private final List<String> qemuArgs = new ArrayList<>();
    private String kernelCommandLine = "console=ttyS0 panic=-1";
    private int memoryMiB = 256;

    /** A guest booting {@code kernel} with {@code initramfs}, both bind-mounted read-only. */
    public GuestContainer(Path kernel, Path initramfs) {
        super(IMAGE);
        bind(requireFile(kernel), KERNEL_INSIDE, AccessMode.ro);
        bind(requireFile(initramfs), INITRAMFS_INSIDE, AccessMode.ro);
        withImagePullPolicy(image -> false);
        withNetworkMode("host");
        withStartupCheckStrategy(new StartedOrExited());
        waitingFor(new ConsoleMarkerWait("Linux version").withStartupTimeout(DEFAULT_BOOT_TIMEOUT));
        // Testcontainers' own bind API is deprecated in 2.x; binds go straight into the host config.
        withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withBinds(binds));
    }

    /** The kernel command line; default {@code console=ttyS0 panic=-1} (console on the container log). */
    public GuestContainer withKernelCommandLine(String commandLine) {
        this.kernelCommandLine = commandLine;
        return this;
    }

    /** Bind-mounts a folder of vhost-user (or other unix) sockets read-write at the same path inside. */
    public GuestContainer withSocketFolder(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new IllegalArgumentException("socket folder " + folder + " is not a directory");
        }
        Path absolute = folder.toAbsolutePath();
        return bind(absolute, absolute.toString(), AccessMode.rw);
    }

    /** Appends QEMU arguments (devices, chardevs, netdevs) after the ones GuestContainer sets. */
    public GuestContainer withQemuArgs(String... args) {
        qemuArgs.addAll(List.of(args));
        return this;
    }

    /** Guest RAM in MiB (a shared memfd); default 256. */
    public GuestContainer withMemoryMiB(int mebibytes) {
        this.memoryMiB = mebibytes;
        return this;
    }

    /** {@code start()} returns once the console shows {@code marker}; fails early if the guest exits first. */
    public GuestContainer waitingForConsole(String marker, Duration timeout) {
        return waitingFor(new ConsoleMarkerWait(marker).withStartupTimeout(timeout));
    }

    /** The guest's serial console so far (QEMU's stdout); readable after the guest has exited. */
    public String console() {
        return getLogs(OutputType.STDOUT);
    }

    /** QEMU's own messages (stderr): warnings, and the reason when it refuses to start. */
    public String qemuMessages() {
        return getLogs(OutputType.STDERR);
    }

    /**
     * Waits for the guest to power off (QEMU runs with -no-reboot, so a panic ends it too) and returns QEMU's exit
     * code; a guest still running after {@code timeout} fails with its console in the message.
     */
    public int awaitExit(Duration timeout) {
        try (WaitContainerResultCallback callback = getDockerClient().waitContainerCmd(getContainerId()).start()) {
            return callback.awaitStatusCode(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (DockerClientException e) {
            throw new IllegalStateException("guest still running after " + timeout + "; console and QEMU output:\n"
                    + ConsoleMarkerWait.tail(getLogs()), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The QEMU command line the container runs (after {@code start()} or {@code configure()}). */
    public List<String> qemuCommandLine() {
        return List.of(getCommandParts());
    }

    @Override
    protected void configure() {
        List<String> command = new ArrayList<>(List.of(QEMU,
                "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
                "-serial", "stdio", "-no-reboot", "-accel", "tcg",
                "-m", memoryMiB + "M",
                "-object", "memory-backend-memfd,id=mem,size=" + memoryMiB + "M,share=on",
                "-numa", "node,memdev=mem",
                "-kernel", KERNEL_INSIDE, "-initrd", INITRAMFS_INSIDE, "-append", kernelCommandLine));
        command.addAll(qemuArgs);
        setCommand(command.toArray(String[]::new));
    }

    @Override
    public void start() {
        try {
            getDockerClient().inspectImageCmd(IMAGE.asCanonicalNameString()).exec();
        } catch (NotFoundException e) {
            throw new IllegalStateException("image " + IMAGE.asCanonicalNameString()
                    + " is missing and cannot be pulled: build it with scripts/docker-engine start", e);
        }
        super.start();
    }

    private GuestContainer bind(Path host, String inside, AccessMode mode) {
        binds.add(new Bind(host.toAbsolutePath().toString(), new Volume(inside), mode));
        return this;
    }

    /**
     * Goes on when a Docker engine answers; otherwise fails the test in CI and skips it elsewhere ({@link Peers}).
     * Replaces {@code @Testcontainers(disabledWithoutDocker = true)}, which skips even in CI.
     */
    public static void requireEngine() {
        Peers.require(DockerClientFactory.instance().isDockerAvailable(), "a Docker engine (scripts/docker-engine start)");
    }

    private static Path requireFile(Path file) {
        if (!Files.isReadable(file)) {
            throw new IllegalArgumentException(file + " is not a readable file");
        }
        return file;
    }

    /**
     * Started once the container runs or has already run: a short guest may power off before Testcontainers looks,
     * and the console wait, not this check, decides whether it did what it should.
     */
    static final class StartedOrExited extends StartupCheckStrategy {
        @Override
        public StartupStatus checkStartupState(com.github.dockerjava.api.DockerClient client, String containerId) {
            InspectContainerResponse.ContainerState state = getCurrentState(client, containerId);
            boolean ran = Boolean.TRUE.equals(state.getRunning())
                    || (state.getFinishedAt() != null && !state.getFinishedAt().startsWith("0001-"));
            return ran ? StartupStatus.SUCCESSFUL : StartupStatus.NOT_YET_KNOWN;
        }
    }
}
