#!/usr/bin/env bash
# Builds the vnicd test guest from Debian packages only: the installed linux-image kernel and an
# initramfs (cpio newc, gzip) holding busybox-static, the NIC modules and guests/init.
#
# Usage: guests/build.sh            (cached under guests/build/; rebuilt when an input changes)
#        VNICD_GUEST_KVER=6.1.0-56-amd64 guests/build.sh   to pick a kernel
#        guests/build.sh --force    to rebuild
# Prints, on stdout and nothing else, two lines a shell can eval and a program can parse:
#   VNICD_GUEST_KERNEL=/abs/path/vmlinux     (or vmlinuz, see below)
#   VNICD_GUEST_INITRD=/abs/path/initramfs.gz
# The kernel is the uncompressed ELF vmlinux taken out of Debian's bzImage when the kernel has CONFIG_PVH:
# QEMU then boots it through the PVH entry point, skipping SeaBIOS' real-mode path and the xz decompression,
# which under TCG halves the time to a shell (about 4.5 s instead of 9 s wall here). Where that is not
# possible (or with VNICD_GUEST_KERNEL_FORMAT=bzimage) the bzImage is used as is.
# Needs: linux-image-amd64, busybox-static, cpio, gzip (and xz/zstd for compressed modules).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$HERE/build"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

die() { echo "guests/build.sh: $*" >&2; exit 1; }
log() { echo "guests/build.sh: $*" >&2; }

# The modules the guest loads, by feature: "nic" always, "bond" and "vlan" only when the job asks for them.
# Dependencies are added from modinfo, in load order.
declare -A WANTED=([nic]="virtio_pci virtio_net" [bond]="bonding" [vlan]="8021q")
FEATURES=(nic bond vlan)

pick_kernel() {
    if [ -n "${VNICD_GUEST_KVER:-}" ]; then
        echo "$VNICD_GUEST_KVER"
        return
    fi
    local v best=""
    for v in $(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V); do
        [ -d "/lib/modules/$v" ] && best="$v"
    done
    [ -n "$best" ] || die "no /boot/vmlinuz-*-amd64 with /lib/modules/<version>: apt-get install linux-image-amd64"
    echo "$best"
}

KVER="$(pick_kernel)"
KERNEL_SRC="/boot/vmlinuz-$KVER"
MODDIR="/lib/modules/$KVER"
BUSYBOX="$(command -v busybox 2>/dev/null || true)"
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
[ -r "$KERNEL_SRC" ] || die "cannot read $KERNEL_SRC"
[ -n "$BUSYBOX" ] || die "no busybox: apt-get install busybox-static"
file_is_static() { ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'INTERP'; }
if command -v readelf >/dev/null && ! file_is_static "$BUSYBOX"; then
    die "$BUSYBOX is dynamically linked: apt-get install busybox-static"
fi
for tool in cpio gzip modinfo; do
    command -v "$tool" >/dev/null || die "missing $tool"
done

OUT="$BUILD/$KVER"
BZIMAGE="$OUT/vmlinuz"
VMLINUX="$OUT/vmlinux"
INITRD="$OUT/initramfs.gz"
FORMAT="${VNICD_GUEST_KERNEL_FORMAT:-pvh}"
KERNEL="$BZIMAGE"
[ "$FORMAT" = pvh ] && [ -f "$VMLINUX" ] && KERNEL="$VMLINUX"

# Cache key: everything the image is made of.
key() {
    {
        echo "$KVER"
        stat -c '%s %Y' "$KERNEL_SRC" "$BUSYBOX"
        echo "$FORMAT"
        cat "$HERE/init" "$HERE/build.sh" | sha256sum
        for f in "${FEATURES[@]}"; do echo "$f ${WANTED[$f]}"; done
    } | sha256sum | cut -d' ' -f1
}

# Writes the ELF kernel inside a bzImage to $2: tries every compressed-stream magic the kernel may use
# and keeps the first that decompresses to an ELF file.
extract_vmlinux() {
    local image="$1" out="$2" magic tool offset
    for pair in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08' 'lz4:\x02\x21\x4c\x18'; do
        tool="${pair%%:*}"; magic="${pair#*:}"
        command -v "$tool" >/dev/null || continue
        for offset in $(LC_ALL=C grep -obUaP "$magic" "$image" 2>/dev/null | head -5 | cut -d: -f1); do
            case "$tool" in
                xz) tail -c +$((offset + 1)) "$image" | xz -dc --single-stream >"$out" 2>/dev/null ;;
                zstd) tail -c +$((offset + 1)) "$image" | zstd -qdc >"$out" 2>/dev/null ;;
                gzip) tail -c +$((offset + 1)) "$image" | gzip -dc >"$out" 2>/dev/null ;;
                lz4) tail -c +$((offset + 1)) "$image" | lz4 -dc >"$out" 2>/dev/null ;;
            esac
            if [ "$(head -c 4 "$out" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then
                return 0
            fi
        done
    done
    rm -f "$out"
    return 1
}
KEY="$(key)"

if [ "$FORCE" = 0 ] && [ -f "$OUT/key" ] && [ "$(cat "$OUT/key")" = "$KEY" ] && [ -f "$KERNEL" ] && [ -f "$INITRD" ]; then
    echo "VNICD_GUEST_KERNEL=$KERNEL"
    echo "VNICD_GUEST_INITRD=$INITRD"
    exit 0
fi

log "building guest for kernel $KVER"
# The path of a module file by name, from modules.dep when depmod has run, else by search.
module_file() {
    local name="$1" f
    if [ -f "$MODDIR/modules.dep" ]; then
        f="$(grep -E "(^|/)${name}\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -1 | cut -d: -f1)"
        [ -n "$f" ] && { echo "$MODDIR/$f"; return; }
    fi
    f="$(find "$MODDIR/kernel" -name "${name}.ko" -o -name "${name}.ko.xz" -o -name "${name}.ko.zst" -o -name "${name}.ko.gz" | head -1)"
    [ -n "$f" ] || die "module $name not found under $MODDIR (built in? check /boot/config-$KVER)"
    echo "$f"
}

ORDER=()
LINES=()
declare -A SEEN=()
# Depth-first: dependencies before the module itself.
visit() {
    local name="$1" file dep
    [ -n "${SEEN[$name]:-}" ] && return
    SEEN[$name]=1
    if grep -qE "/${name}\.ko" "$MODDIR/modules.builtin" 2>/dev/null; then
        return
    fi
    file="$(module_file "$name")"
    for dep in $(modinfo -F depends "$file" | tr , ' '); do
        visit "${dep//-/_}"
    done
    ORDER+=("$name")
}
# One "feature module" line per module; a module shared by two features is listed under both.
for f in "${FEATURES[@]}"; do
    ORDER=()
    SEEN=()
    for m in ${WANTED[$f]}; do visit "$m"; done
    for m in "${ORDER[@]}"; do LINES+=("$f $m"); done
done

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/vnicd-guest.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,lib/modules}
cp "$BUSYBOX" "$STAGE/bin/busybox"
# Only the shell is linked here; init links the other applets at boot (busybox --install -s), one
# process there instead of ~400 ln processes here.
ln -sf busybox "$STAGE/bin/sh"
install -m 0755 "$HERE/init" "$STAGE/init"
if [ "$(id -u)" = 0 ]; then
    mknod -m 600 "$STAGE/dev/console" c 5 1
    mknod -m 666 "$STAGE/dev/null" c 1 3
fi

: >"$STAGE/lib/modules/load-order"
for line in "${LINES[@]}"; do
    m="${line#* }"
    echo "$line" >>"$STAGE/lib/modules/load-order"
    [ -f "$STAGE/lib/modules/$m.ko" ] && continue
    f="$(module_file "$m")"
    case "$f" in
        *.ko.xz) xz -dc "$f" >"$STAGE/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$f" >"$STAGE/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$f" >"$STAGE/lib/modules/$m.ko" ;;
        *) cp "$f" "$STAGE/lib/modules/$m.ko" ;;
    esac
done
log "modules in load order: ${LINES[*]}"

mkdir -p "$OUT"
cp "$KERNEL_SRC" "$BZIMAGE.tmp$$" && mv "$BZIMAGE.tmp$$" "$BZIMAGE"
KERNEL="$BZIMAGE"
# Two builds at once (two test JVMs) each write their own .tmp$$ files and the last mv wins: the files a
# reader sees are always complete.
if [ "$FORMAT" = pvh ]; then
    if ! grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null; then
        log "kernel $KVER has no CONFIG_PVH: booting the bzImage"
    elif extract_vmlinux "$BZIMAGE" "$VMLINUX.tmp$$"; then
        mv "$VMLINUX.tmp$$" "$VMLINUX"
        KERNEL="$VMLINUX"
    else
        log "could not take the vmlinux out of $KERNEL_SRC: booting the bzImage"
    fi
fi
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -6 >"$INITRD.tmp$$"
mv "$INITRD.tmp$$" "$INITRD"
echo "$KEY" >"$OUT/key"
log "initramfs $(du -h "$INITRD" | cut -f1)"

echo "VNICD_GUEST_KERNEL=$KERNEL"
echo "VNICD_GUEST_INITRD=$INITRD"
