package io.vnicd.vmm.qemu;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QemuLauncherTest {
    private static final GuestImage IMAGE = new GuestImage(Path.of("/img/vmlinuz"), Path.of("/img/initramfs.gz"));
    private static final Path WORK = Path.of("/run/vm");

    @Test
    void shouldGiveVhostUserNicSharedGuestMemoryAndNoMsix() {
        List<String> cmd = QemuLauncher.builder(IMAGE, WORK, "vm1")
                .nic(QemuNic.vhostUser("vf0", "52:54:00:00:00:01", Path.of("/run/vnicd/vf0.sock")))
                .build().commandLine();

        assertTrue(containsPair(cmd, "-object", "memory-backend-memfd,id=mem,size=256M,share=on"), cmd.toString());
        assertTrue(containsPair(cmd, "-numa", "node,memdev=mem"), cmd.toString());
        assertTrue(containsPair(cmd, "-chardev", "socket,id=vf0-chr,path=/run/vnicd/vf0.sock"), cmd.toString());
        assertTrue(containsPair(cmd, "-netdev", "vhost-user,id=vf0-net,chardev=vf0-chr"), cmd.toString());
        assertTrue(containsPair(cmd, "-device", "virtio-net-pci,id=vf0,netdev=vf0-net,mac=52:54:00:00:00:01,vectors=0"),
                cmd.toString());
    }

    @Test
    void shouldListenWithoutWaitingWhenTheBackendConnectsToQemu() {
        List<String> cmd = QemuLauncher.builder(IMAGE, WORK, "vm1")
                .nic(QemuNic.vhostUserServer("vf0", "52:54:00:00:00:01", Path.of("/run/vf0.sock")))
                .nic(QemuNic.vhostUser("vf1", "52:54:00:00:00:02", Path.of("/run/vf1.sock")).withReconnect(1))
                .build().commandLine();

        assertTrue(containsPair(cmd, "-chardev", "socket,id=vf0-chr,path=/run/vf0.sock,server=on,wait=off"), cmd.toString());
        assertTrue(containsPair(cmd, "-chardev", "socket,id=vf1-chr,path=/run/vf1.sock,reconnect=1"), cmd.toString());
    }

    @Test
    void shouldAskForMultiqueueWhenVhostUserNicHasSeveralQueuePairs() {
        List<String> cmd = QemuLauncher.builder(IMAGE, WORK, "vm1")
                .nic(QemuNic.vhostUser("vf0", "52:54:00:00:00:01", Path.of("/run/vf0.sock")).withQueuePairs(2))
                .build().commandLine();

        assertTrue(containsPair(cmd, "-netdev", "vhost-user,id=vf0-net,chardev=vf0-chr,queues=2"), cmd.toString());
        assertTrue(containsPair(cmd, "-device", "virtio-net-pci,id=vf0,netdev=vf0-net,mac=52:54:00:00:00:01,vectors=0,mq=on"),
                cmd.toString());
    }

    @Test
    void shouldBootTheImageWithSerialConsoleQmpAndNoReboot() {
        QemuLauncher launcher = QemuLauncher.builder(IMAGE, WORK, "vm1").accel("tcg")
                .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.run=ping:10.0.0.2:5").build();
        List<String> cmd = launcher.commandLine();

        assertEquals(QemuLauncher.DEFAULT_BINARY, cmd.getFirst());
        assertTrue(containsPair(cmd, "-kernel", "/img/vmlinuz"));
        assertTrue(containsPair(cmd, "-initrd", "/img/initramfs.gz"));
        assertTrue(containsPair(cmd, "-append", "console=ttyS0 quiet panic=-1 vnicd.ip=eth0:10.0.0.1/24 vnicd.run=ping:10.0.0.2:5"));
        assertTrue(containsPair(cmd, "-chardev", "file,id=console,path=/run/vm/vm1.console.log"), cmd.toString());
        assertTrue(containsPair(cmd, "-chardev", "socket,id=qmp,path=/run/vm/vm1.qmp.sock,server=on,wait=off"), cmd.toString());
        assertTrue(containsPair(cmd, "-machine", "q35"));
        assertTrue(containsPair(cmd, "-accel", "tcg"));
        assertTrue(cmd.containsAll(List.of("-no-reboot", "-nodefaults")));
    }

    @Test
    void shouldWireTwoGuestsBySocketNetdevs() {
        List<String> listen = QemuLauncher.builder(IMAGE, WORK, "a")
                .nic(QemuNic.socketListen("nic0", "52:54:00:00:00:01", 5000)).build().commandLine();
        List<String> udp = QemuLauncher.builder(IMAGE, WORK, "b")
                .nic(QemuNic.socketUdp("nic0", "52:54:00:00:00:02", 5001, 5002)).build().commandLine();

        assertTrue(containsPair(listen, "-netdev", "socket,id=nic0-net,listen=127.0.0.1:5000"), listen.toString());
        assertTrue(containsPair(udp, "-netdev", "socket,id=nic0-net,udp=127.0.0.1:5002,localaddr=127.0.0.1:5001"), udp.toString());
    }

    @Test
    void shouldOfferEmptyRootPortsForHotplugOnQ35Only() {
        List<String> q35 = QemuLauncher.builder(IMAGE, WORK, "a").hotplugSlots(2).build().commandLine();
        List<String> pc = QemuLauncher.builder(IMAGE, WORK, "b").machine("pc").hotplugSlots(2).build().commandLine();

        assertTrue(containsPair(q35, "-device", "pcie-root-port,id=hp0,chassis=1,slot=1"), q35.toString());
        assertTrue(containsPair(q35, "-device", "pcie-root-port,id=hp1,chassis=2,slot=2"), q35.toString());
        assertFalse(pc.stream().anyMatch(a -> a.startsWith("pcie-root-port")), pc.toString());
    }

    @Test
    void shouldDoubleCommasInsideOptionValues() {
        List<String> cmd = QemuLauncher.builder(IMAGE, Path.of("/tmp/a,b"), "vm1")
                .nic(QemuNic.vhostUser("vf0", "52:54:00:00:00:01", Path.of("/tmp/a,b/vf0.sock")))
                .build().commandLine();

        assertTrue(containsPair(cmd, "-chardev", "socket,id=vf0-chr,path=/tmp/a,,b/vf0.sock"), cmd.toString());
        assertTrue(containsPair(cmd, "-chardev", "file,id=console,path=/tmp/a,,b/vm1.console.log"), cmd.toString());
    }

    @Test
    void shouldRejectWhatQemuOrTheGuestWouldMisread() {
        QemuLauncher.Builder builder = QemuLauncher.builder(IMAGE, WORK, "vm1");

        assertThrows(IllegalArgumentException.class, () -> builder.kernelArgs("vnicd.run=ping 10.0.0.2"));
        assertThrows(IllegalArgumentException.class, () -> QemuNic.socketListen("nic0", "52:54:00:00:01", 5000));
        assertThrows(IllegalArgumentException.class, () -> QemuNic.socketListen("0nic", "52:54:00:00:00:01", 5000));
        assertThrows(IllegalArgumentException.class,
                () -> QemuNic.vhostUserServer("vf0", "52:54:00:00:00:01", Path.of("/s")).withReconnect(1));
        builder.nic(QemuNic.socketListen("nic0", "52:54:00:00:00:01", 5000));
        builder.nic(QemuNic.socketListen("nic0", "52:54:00:00:00:02", 5001));
        assertThrows(IllegalArgumentException.class, builder::build);
    }

    private static boolean containsPair(List<String> cmd, String option, String value) {
        for (int i = 0; i + 1 < cmd.size(); i++) {
            if (cmd.get(i).equals(option) && cmd.get(i + 1).equals(value)) {
                return true;
            }
        }
        return false;
    }
}
