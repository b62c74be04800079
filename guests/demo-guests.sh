#!/usr/bin/env bash
# Boots two test guests on two vnicd VFs: guest 1 (10.0.0.1) waits for a TCP stream, guest 2 (10.0.0.2)
# pings it, then streams 4 MB to it. Prints what the guests report on their serial consoles.
#   guests/demo-guests.sh VF0_SOCKET VF1_SOCKET WORKDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
s0=$1 s1=$2 work=$3
eval "$("$here/build.sh")"
bytes=4000000
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

boot() { # NAME SOCKET MAC KERNEL-ARGS...
  local name=$1 sock=$2 mac=$3; shift 3
  qemu-system-x86_64 -name "$name" -machine q35 -accel tcg -m 256M -smp 1 \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    -kernel "$VNICD_GUEST_KERNEL" -initrd "$VNICD_GUEST_INITRD" -append "console=ttyS0 quiet panic=-1 $*" \
    -chardev socket,id=c0,path="$sock" -netdev vhost-user,id=n0,chardev=c0 \
    -device virtio-net-pci,netdev=n0,mac="$mac",vectors=0 \
    -serial file:"$work/$name.console" -display none -no-reboot -nodefaults &
  pids+=($!)
}

start=$(date +%s)
boot guest1 "$s0" 52:54:00:00:00:01 vnicd.ip=eth0:10.0.0.1/24 vnicd.run=tcp-recv:5001
boot guest2 "$s1" 52:54:00:00:00:02 vnicd.ip=eth0:10.0.0.2/24 vnicd.run=ping:10.0.0.1:5 \
  "vnicd.run=tcp-send:10.0.0.1:5001:$bytes"
for _ in $(seq 300); do
  grep -q "VNICD-GUEST done" "$work/guest1.console" 2>/dev/null && grep -q "VNICD-GUEST done" "$work/guest2.console" 2>/dev/null && break
  sleep 1
done
for g in guest1 guest2; do
  echo "   $g:"; grep -h "VNICD-GUEST" "$work/$g.console" | sed 's/^/     /'
done
echo "   both guests done after $(( $(date +%s) - start )) s (QEMU under TCG)"
sent=$(grep -ho "tcp-send bytes=[0-9]* md5=[0-9a-f]*" "$work/guest2.console" | sed 's/tcp-send //')
got=$(grep -ho "tcp-recv bytes=[0-9]* md5=[0-9a-f]*" "$work/guest1.console" | sed 's/tcp-recv //')
if [ -n "$sent" ] && [ "$sent" = "$got" ]; then
  echo "   the TCP stream arrived intact: $got"
else
  echo "   TCP stream: sent '$sent', received '$got'"; exit 1
fi
