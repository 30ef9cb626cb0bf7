// Facts about a machine → the fields of its host file, with notes for what the schema cannot say
// yet and TODOs for what the facts cannot decide. The one place that knows which fact becomes
// which field: when the schema grows (XFS/LVM/mdadm volumes, MACs, IPv6, initrd modules, a TPM
// field) this module is what changes.
import type { BlockDevice, MachineFacts, NetInterface } from "./facts.js";

export interface HostDraft {
  /** The host file's fields (a HostInput). */
  doc: Record<string, unknown>;
  /** Comment lines placed above the key at `path` ([] = the top of the file). */
  notes: { path: string[]; lines: string[] }[];
  /** What the facts could not decide, each also a `TODO(adopt):` comment at its place. */
  todos: string[];
  /** One line per finding, for the command's output. */
  found: string[];
}

export interface MapOptions {
  name: string;
  /** The machine's pinned SSH host key (ssh-ed25519 …), if known. */
  sshHostKey?: string;
  /** The login user, when it is not root. */
  user?: string;
  address?: string;
}

export const TODO = "TODO(adopt):";

const ARCH_SYSTEM: Record<string, string> = { x86_64: "x86_64-linux", aarch64: "aarch64-linux", arm64: "aarch64-linux" };
const LABEL_RE = { btrfs: /^[A-Za-z0-9_-]{1,32}$/, ext4: /^[A-Za-z0-9_-]{1,16}$/, xfs: /^[A-Za-z0-9_-]{1,12}$/ };
const MIB = 1 << 20;
const human = (b: number) => (b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(1)} GiB` : `${Math.round(b / MIB)} MiB`);

/** The hardware profile the facts point to, with how sure that is. */
export function guessHardware(f: MachineFacts): { hardware?: string; why: string; sure: boolean } {
  const model = f.model ?? "";
  if (/Raspberry Pi 5/i.test(model)) return { hardware: "raspberry-pi-5", why: `board "${model}"`, sure: true };
  if (/Raspberry Pi 4/i.test(model)) return { hardware: "raspberry-pi-4", why: `board "${model}"`, sure: true };
  const vendor = f.dmi?.vendor ?? "";
  const product = f.dmi?.product ?? "";
  if (/hetzner/i.test(vendor) && /vServer/i.test(product)) return { hardware: "hetzner-cloud", why: `DMI "${vendor} ${product}"`, sure: true };
  if (/^(kvm|qemu)$/.test(f.virtualisation ?? "") || /QEMU/i.test(vendor) || /^Standard PC \(/.test(product))
    return { hardware: "qemu-vm", why: `virtual machine (${f.virtualisation ?? `DMI "${vendor} ${product}"`})`, sure: true };
  if (f.arch === "x86_64")
    return { hardware: "generic-x86-uefi", why: product || vendor ? `DMI "${[vendor, product].filter(Boolean).join(" ")}", no specific profile` : "an x86-64 machine without DMI data", sure: false };
  return { why: `no hardware profile for ${model || product || f.arch || "this machine"}`, sure: false };
}

/** A volume name from a label or mount point: lower-case letters, digits and '-'. */
function volumeName(d: BlockDevice, taken: Set<string>): string {
  const fromMount = d.mountpoints[0] === "/" ? "root" : d.mountpoints[0]?.replace(/^\/+/, "").replace(/[^a-z0-9]+/gi, "-");
  const base = [d.label, fromMount, d.fstype, "volume"]
    .map((s) => s?.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^[^a-z]+|-+$/g, ""))
    .find((s) => s && /^[a-z][a-z0-9-]*$/.test(s))!;
  let n = base;
  for (let i = 2; taken.has(n); i++) n = `${base}-${i}`;
  taken.add(n);
  return n;
}

/** Filesystem holders of a disk: the disk itself (no partition table) or its partitions. */
const holders = (d: BlockDevice) => (d.children.length && !d.fstype ? d.children : [d]);

/** What sits inside a device-mapper/md layer, for the notes: "crypt luks-… → ext4". */
function layers(d: BlockDevice, depth = 0): string[] {
  return d.children.flatMap((c) => [
    `${"  ".repeat(depth)}${c.type} ${c.name}${c.fstype ? ` → ${c.fstype}` : ""}${c.label ? ` label ${c.label}` : ""}${c.mountpoints.length ? ` mounted at ${c.mountpoints.join(", ")}` : ""}`,
    ...layers(c, depth + 1),
  ]);
}

/** The MachineFacts as a host document. */
export function mapFacts(f: MachineFacts, o: MapOptions): HostDraft {
  const doc: Record<string, unknown> = { name: o.name };
  const notes: HostDraft["notes"] = [];
  const todos: string[] = [];
  const found: string[] = [];
  // A nixos-facter report knows hardware, not filesystems, addresses, boot mode or TPM.
  const fromReport = f.source === "nixos-facter";
  const note = (path: string[], ...lines: string[]) => notes.push({ path, lines });
  const todo = (path: string[], line: string) => {
    todos.push(line);
    note(path, `${TODO} ${line}`);
  };

  // ---- what the machine is ------------------------------------------------------------------
  const what = [f.model ?? [f.dmi?.vendor, f.dmi?.product].filter(Boolean).join(" "), f.os?.prettyName].filter(Boolean).join(", ");
  doc["description"] = `Adopted: ${f.hostname ?? o.name}${what ? ` (${what})` : ""}`;
  note(
    [],
    `Written by \`hearth adopt\` from ${f.source === "nixos-facter" ? `a nixos-facter report (version ${f.facterVersion})` : `the running machine${o.address ? ` at ${o.address}` : ""}${f.facterVersion ? " and its nixos-facter report" : ""}`}.`,
    "Nothing on the machine was changed. Lines starting with TODO(adopt) need a decision.",
  );
  if (f.memKiB) found.push(`RAM ${human(f.memKiB * 1024)}`);

  const system = f.arch ? ARCH_SYSTEM[f.arch] : undefined;
  if (system) {
    doc["system"] = system;
    found.push(`system ${system} (${fromReport ? "the report's system" : `uname -m ${f.arch}`})`);
  } else todo(["system"], f.arch ? `the machine is ${f.arch}; hearth builds x86_64-linux and aarch64-linux only` : "the CPU architecture is unknown: set system");

  const hw = guessHardware(f);
  if (hw.hardware) {
    doc["hardware"] = hw.hardware;
    note(["hardware"], `From ${hw.why}.`);
    if (!hw.sure) todo(["hardware"], `check the hardware profile (a guess from ${hw.why}; also: hetzner-dedicated, qemu-vm, raspberry-pi-4/5)`);
    found.push(`hardware ${hw.hardware}${hw.sure ? "" : " (a guess)"}: ${hw.why}`);
  } else {
    doc["hardware"] = system === "aarch64-linux" ? "raspberry-pi-4" : "generic-x86-uefi";
    todo(["hardware"], `${hw.why}: choose the nearest profile (this line is a placeholder)`);
  }

  if (o.sshHostKey) {
    doc["sshHostKey"] = o.sshHostKey;
    note(["sshHostKey"], "The machine's own host key, pinned at first contact: hearth generates none for it.");
  } else todo([], "no SSH host key recorded: add sshHostKey (ssh-keyscan -t ed25519 ADDRESS), or let `hearth secrets generate` make one and install it");

  let initrdModules: string[] | undefined;
  // ---- operating system and boot --------------------------------------------------------------
  const nx = f.nixos;
  if (nx) {
    found.push(`NixOS ${nx.version ?? "(version unknown)"}${nx.configurationName ? `, configuration ${nx.configurationName}` : ""}`);
    if (nx.stateVersion) {
      doc["stateVersion"] = nx.stateVersion;
      note(["stateVersion"], `The running NixOS's system.stateVersion (from /etc/nixos/configuration.nix); keep it.`);
    } else
      todo([], `the machine runs NixOS ${nx.version ?? ""} but its system.stateVersion was not found${nx.flake ? " (its configuration is a flake in /etc/nixos)" : ""}: set stateVersion to the machine's`.replace("  ", " "));
    const hc = nx.hardwareConfiguration;
    if (hc) {
      const lines = ["/etc/nixos/hardware-configuration.nix on the machine says:"];
      if (hc.availableKernelModules.length) lines.push(`  boot.initrd.availableKernelModules = [ ${hc.availableKernelModules.map((m) => `"${m}"`).join(" ")} ];`);
      if (hc.kernelModules.length) lines.push(`  kernel modules = [ ${hc.kernelModules.map((m) => `"${m}"`).join(" ")} ];`);
      for (const fs of hc.fileSystems) lines.push(`  fileSystems."${fs.mountpoint}": ${fs.device ?? "?"} (${fs.fsType ?? "?"})`);
      note(["boot"], ...lines);
      if (hc.availableKernelModules.length) initrdModules = hc.availableKernelModules.filter((m) => /^[a-z0-9_-]+$/.test(m));
    }
  } else if (f.os) {
    found.push(`OS ${f.os.prettyName ?? f.os.name ?? f.os.id} (not NixOS)`);
    note([], `The machine runs ${f.os.prettyName ?? f.os.name ?? f.os.id}, not NixOS: hearth would install NixOS (nixos-anywhere) or kexec into it.`);
  }
  doc["boot"] = {};
  if (f.boot === "uefi") {
    note(["boot"], "The machine boots by UEFI (/sys/firmware/efi exists).");
    found.push("boot mode UEFI");
  } else if (f.boot === "bios") {
    found.push("boot mode BIOS (legacy)");
    todo(["boot"], `the machine boots in BIOS (legacy) mode; ${doc["hardware"] === "hetzner-cloud" ? "the hetzner-cloud profile's GRUB handles it" : `the ${doc["hardware"]} profile installs systemd-boot, which needs UEFI: switch the firmware to UEFI before an install`}`);
  } else todo(["boot"], "the boot mode (UEFI or BIOS) is unknown");
  todo(["boot"], "installed (boot.formats: [disk]) or RAM-only (ephemeral: true, kexec)? Left at the default: installed");

  // ---- storage --------------------------------------------------------------------------------
  const volumes: Record<string, Record<string, unknown>> = {};
  doc["storage"] = { volumes, ...(initrdModules?.length ? { initrdModules } : {}) };
  if (initrdModules?.length) note(["storage", "initrdModules"], "boot.initrd.availableKernelModules of the machine's hardware-configuration.nix.");
  const taken = new Set<string>();
  const mountsOf = (d: BlockDevice) => f.mounts.filter((m) => m.source === d.path || m.source.startsWith(`${d.path}[`));
  // zram and other memory-backed disks are not storage; a loop device counts once it has a by-id name.
  const disks = f.disks.filter((d) => d.size > 0 && !/^(zram|ram)\d/.test(d.name) && (d.type === "disk" || (d.type === "loop" && d.byId.length > 0)));
  if (!disks.length) todo(["storage"], "no disks were found");
  for (const disk of disks) {
    const diskId = disk.byId[0];
    const title = `${diskId ?? disk.path}: ${human(disk.size)}${disk.model ? ` ${disk.model}` : ""}`;
    found.push(`disk ${title}`);
    if (!diskId) todo(["storage"], `${disk.path} (${human(disk.size)}) has no /dev/disk/by-id name; name it by a stable path before hearth uses it`);
    const hs = holders(disk);
    if (hs.length === 1 && hs[0] === disk && !disk.fstype) {
      note(["storage"], `${title}: no partitions, no filesystem (empty?)`);
      continue;
    }
    for (const h of hs) {
      const id = h.byId[0];
      const where = id ?? h.path;
      const fs = h.fstype;
      const desc = `${where}: ${fs ?? (fromReport ? "filesystem unknown" : "no filesystem")}${h.label ? ` label ${h.label}` : ""}${h.mountpoints.length ? ` mounted at ${h.mountpoints.join(", ")}` : ""}`;
      if (h !== disk) found.push(`  ${desc}`);
      else found[found.length - 1] += ` → ${fs}`;
      const mp = h.mountpoints[0];
      if ((fs === "ext4" || fs === "btrfs" || fs === "xfs") && !id) {
        // The disk's own TODO already says it has no by-id name.
        if (h !== disk) todo(["storage"], `${desc}: no /dev/disk/by-id name, so no volume was written for it`);
        else note(["storage"], `${desc}: no volume written without a by-id name`);
        continue;
      }
      if (fs === "ext4") {
        const name = volumeName(h, taken);
        const label = h.label && LABEL_RE.ext4.test(h.label) ? h.label : undefined;
        volumes[name] = { type: "ext4", format: false, devices: [id], ...(label ? { label } : {}), mountpoint: mp ?? `/mnt/${name}` };
        note(["storage", "volumes", name], `Existing ext4 on ${id}${h.uuid ? ` (UUID ${h.uuid})` : ""}: mounted only, never formatted.`);
        if (!mp) todo(["storage", "volumes", name], `not mounted on the machine now: /mnt/${name} is a placeholder mount point`);
      } else if (fs === "btrfs") {
        const name = volumeName(h, taken);
        const label = h.label && LABEL_RE.btrfs.test(h.label) ? h.label : undefined;
        const subvolumes: Record<string, { mountpoint: string }> = {};
        for (const m of mountsOf(h)) {
          const sv = m.options.find((x) => x.startsWith("subvol="))?.slice("subvol=".length).replace(/^\/+/, "");
          if (sv && /^[A-Za-z0-9@._-]+$/.test(sv)) subvolumes[sv] = { mountpoint: m.target };
        }
        volumes[name] = { type: "btrfs", format: false, devices: [id], ...(label ? { label } : {}), subvolumes };
        note(["storage", "volumes", name], `Existing btrfs on ${id}${h.uuid ? ` (UUID ${h.uuid})` : ""}: mounted only, never formatted.`);
        if (!Object.keys(subvolumes).length)
          todo(["storage", "volumes", name], `hearth mounts btrfs by subvolume; ${mp ? `it is mounted at ${mp} (top level)` : "it is not mounted now"}: list the subvolumes to mount (btrfs subvolume list)`);
      } else if (fs === "vfat" && h.mountpoints.some((m) => m === "/boot" || m === "/boot/efi" || m === "/efi")) {
        note(["storage"], `${desc}: the EFI system partition.`);
        todo(["storage"], `storage.bootDisk (${diskId ?? disk.path}) is left out: setting it lets an install repartition that disk`);
      } else if (fs === "crypto_LUKS") {
        note(["storage"], `${desc} (LUKS${h.children.length ? ", open:" : ", not open now"})`, ...layers(h).map((l) => `  ${l}`));
        todo(["storage"], `LUKS container on ${where}: an existing encrypted volume has no field yet; unlock and mount it with an extraModules file`);
      } else if (fs === "LVM2_member") {
        note(["storage"], `${desc} (LVM physical volume${h.children.length ? "; logical volumes:" : ", no active logical volumes"})`, ...layers(h).map((l) => `  ${l}`));
        todo(["storage"], `LVM on ${where}: existing volume groups have no field yet`);
      } else if (fs === "linux_raid_member") {
        note(["storage"], `${desc} (mdadm member)`, ...layers(h).map((l) => `  ${l}`));
        todo(["storage"], `mdadm RAID member ${where}: existing arrays have no field yet`);
      } else if (fs === "xfs") {
        const name = volumeName(h, taken);
        const label = h.label && LABEL_RE.xfs.test(h.label) ? h.label : undefined;
        volumes[name] = { type: "xfs", format: false, devices: [id], ...(label ? { label } : {}), mountpoint: mp ?? `/mnt/${name}` };
        note(["storage", "volumes", name], `Existing XFS on ${id}${h.uuid ? ` (UUID ${h.uuid})` : ""}: mounted only, never formatted.`);
        if (!mp) todo(["storage", "volumes", name], `not mounted on the machine now: /mnt/${name} is a placeholder mount point`);
      } else if (fs === "swap") {
        note(["storage"], `${desc} (swap)`);
        todo(["storage"], `swap on ${where}: storage.swap makes a new partition on the boot disk; an existing one is not expressible`);
      } else if (fs === "zfs_member") {
        note(["storage"], `${desc} (ZFS pool member${h.label ? ` of pool ${h.label}` : ""})`);
        todo(["storage"], `ZFS pool on ${where}: a zfs volume would be formatted; existing pools are not expressible yet`);
      } else if (fs) {
        note(["storage"], desc);
        todo(["storage"], `${fs} on ${where}: no volume type for it`);
      } else note(["storage"], `${desc}${h.partlabel ? ` (partition ${h.partlabel})` : ""}`);
    }
    if (fromReport) todo(["storage"], `the report names no filesystems: describe what ${diskId ?? disk.path} holds (existing volumes with format: false)`);
  }

  // ---- security ---------------------------------------------------------------------------------
  doc["security"] = {};
  if (f.tpm?.present) {
    found.push(`TPM ${f.tpm.version ? `${f.tpm.version}.0 ` : ""}present`);
    note(["security"], `A TPM ${f.tpm.version ? `${f.tpm.version}.0 ` : ""}is present (/dev/tpm0): security.unlock.method: tpm2 can unlock encrypted volumes unattended.`);
  } else if (f.tpm) note(["security"], "No TPM found (/dev/tpm0, /sys/class/tpm).");
  else todo(["security"], "TPM presence unknown");

  // ---- network --------------------------------------------------------------------------------
  const net: Record<string, unknown> = {};
  doc["network"] = net;
  const nics = f.interfaces.filter((i) => !i.loopback);
  const primary: NetInterface | undefined =
    nics.find((i) => i.name === f.defaultRoute?.dev) ?? nics.find((i) => i.addresses.some((a) => a.family === "inet")) ?? nics[0];
  if (!primary) todo(["network"], "no network interface found: set network.interface");
  else {
    net["interface"] = primary.name;
    if (primary.mac) net["mac"] = primary.mac;
    const v4 = primary.addresses.filter((a) => a.family === "inet");
    const v6 = primary.addresses.filter((a) => a.family === "inet6" && a.scope === "global");
    const dynamic = v4.some((a) => a.dynamic);
    found.push(`interface ${primary.name}${primary.mac ? ` ${primary.mac}` : ""}${v4.length ? ` ${v4.map((a) => a.cidr).join(", ")}` : ""}${dynamic ? " (DHCP)" : ""}${f.defaultRoute?.gateway ? ` via ${f.defaultRoute.gateway}` : ""}`);
    const mac = primary.mac ? `MAC ${primary.mac}` : "MAC unknown";
    note(["network", "interface"], `${mac}${primary.driverModule ? `, driver ${primary.driverModule} (security.remoteUnlock.networkModule if the initrd needs it)` : ""}.`);
    if (fromReport) todo(["network", "interface"], "the report carries no usable MAC (nixos-facter 0.3.0 records one byte of it) and no addresses: DHCP is assumed");
    if (dynamic || !v4.length) {
      net["dhcp"] = true;
      if (!fromReport) note(["network", "dhcp"], v4.length ? `Leased now: ${v4.map((a) => a.cidr).join(", ")}${f.defaultRoute?.gateway ? ` via ${f.defaultRoute.gateway}` : ""}.` : "No IPv4 address now.");
    } else {
      net["dhcp"] = false;
      net["addresses"] = v4.map((a) => a.cidr);
      if (f.defaultRoute?.gateway && /^\d+\.\d+\.\d+\.\d+$/.test(f.defaultRoute.gateway) && f.defaultRoute.dev === primary.name) net["gateway"] = f.defaultRoute.gateway;
      else todo(["network", "dhcp"], `no IPv4 default route via ${primary.name}: set network.gateway`);
      const dns = f.dns.filter((d) => /^\d+\.\d+\.\d+\.\d+$/.test(d) && !d.startsWith("127."));
      if (dns.length) net["dns"] = dns;
      else todo(["network", "dhcp"], `no DNS server found (${f.dns.join(", ") || "/etc/resolv.conf empty"}): set network.dns`);
      note(["network", "dhcp"], "Static addresses, as configured on the machine now.");
    }
    if (v6.length)
      todo(["network"], `IPv6 ${v6.map((a) => `${a.cidr}${a.dynamic ? " (SLAAC/DHCPv6)" : ""}`).join(", ")}${f.defaultRoute6?.gateway ? ` via ${f.defaultRoute6.gateway}` : ""} on ${primary.name}: static IPv6 has no field yet`);
    for (const i of nics.filter((x) => x !== primary && (x.up || x.addresses.length)))
      todo(["network"], `interface ${i.name}${i.mac ? ` (${i.mac})` : ""}${i.addresses.length ? ` ${i.addresses.map((a) => a.cidr).join(", ")}` : ""} is not described: one interface per host so far`);
  }
  if (o.user && o.user !== "root") todo([], `adopted as ${o.user}: hearth deploys as root; add ${o.user} under users (and the fleet admins' keys to root) if it stays`);
  return { doc, notes, todos, found };
}
