#!/usr/bin/env bash
# Runs the cgroups v2 tests (agent/tests/cgroups_v2.rs, all #[ignore]d on
# the v1 build hosts) in a throwaway qemu VM whose root is a real cgroup v2
# hierarchy, following docs/cgroups-v2-vm.md of the shared docs.
#
#   scripts/cgroups-v2-vm-test.sh [--out DIR]
#
# Needs (Debian): qemu-system-x86 (from bookworm-backports on hosts that
# carry qemu-utils from there), cpio, busybox-static; downloads a Debian
# 6.1 kernel package once into $CGROUPS_VM_DIR (default
# /tmp/mesos-cgroups-vm) and unpacks it there (nothing goes into /boot).
# The guest shares the host's /usr read-only and a work folder read-write
# over virtio-9p, runs the test binary in a chroot whose bin/lib/lib64
# point into that /usr, writes the test output and its exit code (the
# verdict) to the shared folder, and powers off. Exit code: the tests'.
#
# Part of the test command: scripts/test.sh runs it after `cargo test
# --workspace`. It runs every #[ignore]d test of agent/tests/cgroups_v2.rs
# (9 today: the cgroups2 module's controls, OOM, kill and pids.max tests and
# the containerizer's limits, OOM, devices and nested cgroups tests on v2).
# Seen working: qemu 10.0.2 (bookworm-backports) under TCG, Debian kernel
# 6.1.0-56, 1 GB, all 9 pass in ~14 s of test time, ~1 min end to end with the host build
# cached (the kernel package is downloaded once, ~70 MB). The
# verdict is also copied to DIR with --out.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
VM_DIR="${CGROUPS_VM_DIR:-/tmp/mesos-cgroups-vm}"
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    *) echo "usage: $0 [--out DIR]" >&2; exit 2 ;;
  esac
done

for tool in qemu-system-x86_64 cpio busybox dpkg-deb apt-get cargo; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done
case "$(file -b "$(command -v busybox)" 2>/dev/null || echo static)" in
  *dynamically*) echo "busybox must be static (busybox-static)" >&2; exit 2 ;;
esac

mkdir -p "$VM_DIR"
cd "$VM_DIR"

# 1. A kernel, unpacked from Debian's package.
if [ ! -d kernel/boot ]; then
  pkg="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | cut -d' ' -f1 | sort -V | tail -1)"
  [ -n "$pkg" ] || { echo "no linux-image-6.1.0-*-amd64 package found" >&2; exit 2; }
  rm -f linux-image-*.deb
  apt-get download "$pkg"
  dpkg-deb -x linux-image-*.deb kernel
fi
vmlinuz="$(ls kernel/boot/vmlinuz-* | head -1)"
modules="$(ls -d kernel/lib/modules/* | head -1)"

# 2. The test binary, built on the host.
binary="$(cd "$REPO" && cargo test -q -p mesos-agent --test cgroups_v2 --no-run --message-format=json 2>/dev/null \
  | grep '"name":"cgroups_v2"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)"
[ -x "$binary" ] || { echo "could not build the cgroups_v2 test binary" >&2; exit 2; }

share="$VM_DIR/share"
rm -rf "$share" && mkdir -p "$share"
cp "$binary" "$share/cgroups_v2"
# The launch helper the containerizer tests fork, from the same build.
helper="$REPO/target/debug/mesos-containerizer"
(cd "$REPO" && cargo build -q -p mesos-agent --bin mesos-containerizer)
cp "$helper" "$share/mesos-containerizer"

# 3. An initramfs: static busybox, the virtio and 9p modules, and an init.
rm -rf initramfs && mkdir -p initramfs/bin initramfs/modules initramfs/newroot
cp "$(command -v busybox)" initramfs/bin/busybox
MODULE_ORDER="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p"
for module in $MODULE_ORDER; do
  file="$(find "$modules" -name "$module.ko" | head -1)"
  if [ -n "$file" ]; then cp "$file" initramfs/modules/; fi
done
cat > initramfs/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in MODULE_ORDER_PLACEHOLDER; do
  [ -f /modules/$module.ko ] && insmod /modules/$module.ko
done
R=/newroot
mkdir -p $R/usr $R/work $R/proc $R/sys $R/dev $R/tmp
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $opts,ro hostusr $R/usr
mount -t 9p -o $opts work $R/work
ln -s usr/bin $R/bin; ln -s usr/sbin $R/sbin; ln -s usr/lib $R/lib; ln -s usr/lib64 $R/lib64
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t cgroup2 none $R/sys/fs/cgroup
mount -t devtmpfs devtmpfs $R/dev
mount -t tmpfs tmpfs $R/tmp
echo "guest kernel $(uname -r); cgroup.controllers: $(cat $R/sys/fs/cgroup/cgroup.controllers)" > $R/work/output.txt
chroot $R /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp RUST_BACKTRACE=1 MESOS_TEST_LAUNCHER_DIR=/work \
  /work/cgroups_v2 --ignored --test-threads=1 --nocapture >> $R/work/output.txt 2>&1
echo $? > $R/work/verdict
sync
poweroff -f
INIT
sed -i "s/MODULE_ORDER_PLACEHOLDER/$MODULE_ORDER/" initramfs/init
chmod 755 initramfs/init
(cd initramfs && find . | cpio -o -H newc --quiet | gzip -1) > initramfs.cpio.gz

# 4. Boot.
timeout 900 qemu-system-x86_64 -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd initramfs.cpio.gz \
  -append 'console=ttyS0 quiet panic=-1' \
  -virtfs local,path=/usr,mount_tag=hostusr,security_model=none,readonly=on \
  -virtfs "local,path=$share,mount_tag=work,security_model=none" \
  > "$VM_DIR/console.log" 2>&1 || true

cat "$share/output.txt" 2>/dev/null || { echo "no output from the guest; console:" >&2; tail -40 "$VM_DIR/console.log" >&2; }
verdict="$(cat "$share/verdict" 2>/dev/null || echo none)"
echo "cgroups v2 VM test verdict: $verdict (0 = all passed)"
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"
  cp "$share/output.txt" "$OUT/cgroups-v2-vm-output.txt" 2>/dev/null || true
  echo "$verdict" > "$OUT/cgroups-v2-vm-verdict"
fi
[ "$verdict" = 0 ]
