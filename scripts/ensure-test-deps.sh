#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing (fresh Debian machine, as root).
set -euo pipefail
need=()
# command → Debian package that provides it (g++, make, python3: the Lodestar kit's native addons, test/support/lodestar-kit.ts;
# minisign: signature interop; mtools, dosfstools, systemd-boot-efi, ovmf: the A/B boot test's disk image and firmware;
# prometheus, prometheus-node-exporter: test/prometheus.test.ts runs both as plain processes;
# xfsprogs, lvm2: test/adopt.test.ts makes XFS and LVM on loop devices)
for pair in nix-instantiate:nix-bin age:age age-keygen:age ssh-keygen:openssh-client wg:wireguard-tools wireguard-go:wireguard-go ip:iproute2 ping:iputils-ping sqlite3:sqlite3 chromium:chromium /usr/sbin/sshd:openssh-server /usr/sbin/mkfs.btrfs:btrfs-progs /usr/sbin/cryptsetup:cryptsetup \
  /usr/bin/qemu-system-x86_64:qemu-system-x86 /usr/bin/busybox:busybox-static /usr/sbin/dropbear:dropbear-bin /usr/bin/dropbearconvert:dropbear-bin /usr/sbin/kexec:kexec-tools /usr/bin/cpio:cpio xz:xz-utils zstd:zstd /usr/sbin/nft:nftables \
  g++:g++ make:make python3:python3 prometheus:prometheus prometheus-node-exporter:prometheus-node-exporter \
  minisign:minisign /usr/bin/mcopy:mtools /usr/sbin/mkfs.vfat:dosfstools /usr/lib/systemd/boot/efi/systemd-bootx64.efi:systemd-boot-efi /usr/share/OVMF/OVMF_CODE_4M.fd:ovmf /usr/sbin/mkfs.ext4:e2fsprogs /usr/sbin/sfdisk:fdisk /usr/sbin/mkfs.xfs:xfsprogs /usr/sbin/pvcreate:lvm2; do
  cmd="${pair%%:*}"
  if [[ "$cmd" == /* ]]; then [ -e "$cmd" ] || need+=("${pair#*:}"); else command -v "$cmd" >/dev/null 2>&1 || need+=("${pair#*:}"); fi
done
# The QEMU kexec test boots this machine's Debian kernel (and its virtio modules).
compgen -G '/boot/vmlinuz-*' >/dev/null || need+=(linux-image-amd64)
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u | sed '/^$/d')
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
