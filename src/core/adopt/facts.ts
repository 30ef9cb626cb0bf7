// What `hearth adopt --address` learns about a running Linux machine: the read-only script run
// over SSH in one round trip, and its parse into MachineFacts. Pure: the node side runs it.
// Unknown is `undefined` (the mapping turns it into a TODO), never a guess.

/** One block device as lsblk shows it, with blkid's probe and its /dev/disk/by-id names merged in. */
export interface BlockDevice {
  name: string;
  path: string;
  size: number;
  /** lsblk TYPE: disk, part, loop, crypt, lvm, raid1, … */
  type: string;
  fstype?: string;
  label?: string;
  uuid?: string;
  partlabel?: string;
  mountpoints: string[];
  model?: string;
  serial?: string;
  /** Its names under /dev/disk/by-id (stable across reboots), sorted. */
  byId: string[];
  children: BlockDevice[];
}

export interface InterfaceAddress {
  family: "inet" | "inet6";
  /** Address with prefix length, e.g. 192.168.1.50/24. */
  cidr: string;
  /** A lease (DHCP or SLAAC): the kernel expires it. */
  dynamic: boolean;
  scope: string;
}

export interface NetInterface {
  name: string;
  mac?: string;
  up: boolean;
  loopback: boolean;
  addresses: InterfaceAddress[];
  /** Kernel module of the NIC (what an initrd needs for remote unlock). */
  driverModule?: string;
}

export interface MountedFs {
  source: string;
  target: string;
  fstype: string;
  options: string[];
}

export interface NixosFacts {
  version?: string;
  configurationName?: string;
  currentSystem?: string;
  /** system.stateVersion as /etc/nixos/configuration.nix sets it (not evaluated). */
  stateVersion?: string;
  /** /etc/nixos/flake.nix exists: the configuration lives in a flake, not evaluated here. */
  flake: boolean;
  hardwareConfiguration?: {
    availableKernelModules: string[];
    kernelModules: string[];
    fileSystems: { mountpoint: string; device?: string; fsType?: string }[];
  };
}

export interface MachineFacts {
  /** Where the facts came from: the SSH script (maybe with nixos-facter's report) or a saved report. */
  source: "ssh" | "ssh+nixos-facter" | "nixos-facter";
  /** uname -m: x86_64, aarch64, … */
  arch?: string;
  hostname?: string;
  os?: { id?: string; name?: string; version?: string; prettyName?: string };
  /** /proc/device-tree/model (boards such as the Raspberry Pi). */
  model?: string;
  dmi?: { product?: string; vendor?: string };
  /** systemd-detect-virt or nixos-facter's virtualisation: none, kvm, qemu, … */
  virtualisation?: string;
  memKiB?: number;
  boot?: "uefi" | "bios";
  tpm?: { present: boolean; version?: string };
  /** Top-level block devices (disks, loop devices) with their partitions and layers below. */
  disks: BlockDevice[];
  mounts: MountedFs[];
  interfaces: NetInterface[];
  defaultRoute?: { dev: string; gateway?: string };
  defaultRoute6?: { dev: string; gateway?: string };
  dns: string[];
  /** Present when /etc/NIXOS exists. */
  nixos?: NixosFacts;
  /** nixos-facter's report was read (on the machine or from --facter-report). */
  facterVersion?: number;
}

// One marker line per section; a section is the output of read-only commands only. Every
// command here reads: uname, cat, tr, grep, ls, readlink, lsblk, blkid (-c /dev/null: no cache
// file written; -p would be lower-level but skips the device list), findmnt, ip (show only),
// systemd-detect-virt, nixos-version, nixos-facter (prints its report to stdout without -o).
const SECTIONS: [string, string][] = [
  ["arch", "uname -m"],
  ["hostname", "cat /proc/sys/kernel/hostname"],
  ["os-release", "cat /etc/os-release 2>/dev/null"],
  ["model", "[ -r /proc/device-tree/model ] && tr -d '\\000' < /proc/device-tree/model"],
  ["dmi-product", "cat /sys/class/dmi/id/product_name 2>/dev/null"],
  ["dmi-vendor", "cat /sys/class/dmi/id/sys_vendor 2>/dev/null"],
  ["virt", "systemd-detect-virt 2>/dev/null"],
  ["meminfo", "grep MemTotal /proc/meminfo"],
  ["efi", "if [ -d /sys/firmware/efi ]; then echo uefi; else echo bios; fi"],
  ["tpm", "ls /sys/class/tpm 2>/dev/null; [ -e /dev/tpm0 ] && echo dev=/dev/tpm0; cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null | sed 's/^/version=/'"],
  ["lsblk", "lsblk -J -b -o NAME,PATH,SIZE,TYPE,FSTYPE,LABEL,UUID,PARTLABEL,MOUNTPOINTS,MODEL,SERIAL 2>/dev/null || lsblk -J -b -o NAME,PATH,SIZE,TYPE,FSTYPE,LABEL,UUID,PARTLABEL,MOUNTPOINT,MODEL,SERIAL"],
  ["blkid", "blkid -c /dev/null -o export 2>/dev/null"],
  ["by-id", "for l in /dev/disk/by-id/*; do [ -b \"$l\" ] && printf '%s %s\\n' \"$l\" \"$(readlink -f \"$l\")\"; done"],
  ["findmnt", "findmnt -J -l -o SOURCE,TARGET,FSTYPE,OPTIONS 2>/dev/null"],
  ["ip-addr", "ip -j addr show"],
  ["ip-route", "ip -j route show"],
  ["ip6-route", "ip -j -6 route show"],
  ["net-drivers", "for i in /sys/class/net/*; do m=$(readlink \"$i/device/driver/module\" 2>/dev/null) && printf '%s %s\\n' \"${i##*/}\" \"${m##*/}\"; done"],
  ["resolv", "cat /etc/resolv.conf 2>/dev/null"],
  ["nixos", "[ -e /etc/NIXOS ] && echo yes"],
  ["nixos-version", "nixos-version 2>/dev/null"],
  ["configuration-name", "cat /run/current-system/configuration-name 2>/dev/null"],
  ["current-system", "readlink /run/current-system 2>/dev/null"],
  ["nixos-flake", "[ -e /etc/nixos/flake.nix ] && echo yes"],
  ["state-version", "grep -h 'stateVersion' /etc/nixos/configuration.nix 2>/dev/null"],
  ["hardware-configuration", "cat /etc/nixos/hardware-configuration.nix 2>/dev/null"],
  ["facter", "command -v nixos-facter >/dev/null 2>&1 && nixos-facter 2>/dev/null"],
];

const MARK = "@@hearth-adopt:";

/** The one script `hearth adopt --address` runs on the machine: read-only, one round trip. */
export const ADOPT_SCRIPT = [...SECTIONS.map(([name, cmd]) => `echo '${MARK}${name}'; ${cmd}`), `echo '${MARK}end'`, "true"].join("\n");

/**
 * The remote command line for a login user: root runs the script; another user runs it under
 * `sudo -n` when it may (blkid's probe and nixos-facter need root), else as itself.
 */
export function adoptRemoteCommand(user: string): string {
  const q = `'${ADOPT_SCRIPT.replace(/'/g, `'\\''`)}'`;
  return user === "root" ? `sh -c ${q}` : `if sudo -n true 2>/dev/null; then sudo -n sh -c ${q}; else sh -c ${q}; fi`;
}

/** The script's output split by section. */
export function splitSections(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  let cur: string | undefined;
  let buf: string[] = [];
  for (const line of stdout.split("\n")) {
    if (line.startsWith(MARK)) {
      if (cur) m.set(cur, buf.join("\n").trim());
      cur = line.slice(MARK.length).trim();
      buf = [];
    } else buf.push(line);
  }
  if (cur && cur !== "end") m.set(cur, buf.join("\n").trim());
  return m;
}

const json = (s: string | undefined): unknown => {
  if (!s) return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};
const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const opt = (s: string | undefined) => (s && s.trim() !== "" ? s.trim() : undefined);

/** /etc/os-release's KEY=value lines (values possibly quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) r[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, "$2");
  }
  return r;
}

interface LsblkNode {
  name?: string;
  path?: string;
  size?: number | string;
  type?: string;
  fstype?: string | null;
  label?: string | null;
  uuid?: string | null;
  partlabel?: string | null;
  mountpoints?: (string | null)[];
  mountpoint?: string | null;
  model?: string | null;
  serial?: string | null;
  children?: LsblkNode[];
}

/**
 * lsblk's tree with blkid's probe (for machines whose udev has not recorded a filesystem, e.g.
 * one made a moment ago) and the by-id links (`link target` lines) merged in.
 */
export function parseBlockDevices(lsblkJson: string | undefined, blkid: string, byIdLines: string): BlockDevice[] {
  const probe = new Map<string, Record<string, string>>();
  for (const block of blkid.split(/\n\s*\n/)) {
    const kv: Record<string, string> = {};
    for (const line of block.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) kv[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    if (kv["DEVNAME"]) probe.set(kv["DEVNAME"], kv);
  }
  const byId = new Map<string, string[]>();
  for (const line of byIdLines.split("\n")) {
    const [link, target] = line.trim().split(/\s+/);
    if (link && target) byId.set(target, [...(byId.get(target) ?? []), link].sort());
  }
  const tree = json(lsblkJson) as { blockdevices?: LsblkNode[] } | undefined;
  const conv = (n: LsblkNode): BlockDevice => {
    const path = str(n.path) ?? `/dev/${n.name ?? "?"}`;
    // blkid names a device-mapper device /dev/mapper/NAME or /dev/dm-N; lsblk's path is the former.
    const p = probe.get(path) ?? probe.get(`/dev/${n.name ?? ""}`) ?? {};
    const mps = (n.mountpoints ?? [n.mountpoint ?? null]).filter((x): x is string => typeof x === "string" && x !== "");
    return {
      name: n.name ?? path.replace(/^\/dev\//, ""),
      path,
      size: Number(n.size ?? 0),
      type: n.type ?? "unknown",
      ...optional("fstype", str(n.fstype) ?? str(p["TYPE"])),
      ...optional("label", str(n.label) ?? str(p["LABEL"])),
      ...optional("uuid", str(n.uuid) ?? str(p["UUID"])),
      ...optional("partlabel", str(n.partlabel) ?? str(p["PARTLABEL"])),
      mountpoints: mps,
      ...optional("model", str(n.model)),
      ...optional("serial", str(n.serial)),
      byId: byId.get(path) ?? [],
      children: (n.children ?? []).map(conv),
    };
  };
  return (tree?.blockdevices ?? []).map(conv);
}

function optional<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

interface IpAddrJson {
  ifname?: string;
  flags?: string[];
  link_type?: string;
  address?: string;
  operstate?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string; dynamic?: boolean }[];
}

export function parseInterfaces(ipAddr: string | undefined, drivers: string): NetInterface[] {
  const mods = new Map(drivers.split("\n").map((l) => l.trim().split(/\s+/)).filter((x) => x.length === 2).map(([a, b]) => [a!, b!] as const));
  const list = (json(ipAddr) as IpAddrJson[] | undefined) ?? [];
  return list
    .filter((i) => i.ifname)
    .map((i) => ({
      name: i.ifname!,
      ...optional("mac", i.link_type === "ether" && i.address ? i.address : undefined),
      up: (i.flags ?? []).includes("UP"),
      loopback: i.link_type === "loopback" || (i.flags ?? []).includes("LOOPBACK"),
      addresses: (i.addr_info ?? [])
        .filter((a) => (a.family === "inet" || a.family === "inet6") && a.local)
        .map((a) => ({ family: a.family as "inet" | "inet6", cidr: `${a.local}/${a.prefixlen ?? (a.family === "inet" ? 32 : 128)}`, dynamic: a.dynamic === true, scope: a.scope ?? "global" })),
      ...optional("driverModule", mods.get(i.ifname!)),
    }));
}

function defaultRoute(ipRoute: string | undefined): { dev: string; gateway?: string } | undefined {
  const routes = (json(ipRoute) as { dst?: string; gateway?: string; dev?: string; metric?: number }[] | undefined) ?? [];
  const d = routes.filter((r) => r.dst === "default" && r.dev).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
  return d ? { dev: d.dev!, ...optional("gateway", d.gateway) } : undefined;
}

/** The Nix list of strings bound to `attr` (e.g. boot.initrd.availableKernelModules = [ "ahci" … ];). */
function nixStringList(text: string, attr: string): string[] {
  const m = new RegExp(`${attr.replace(/\./g, "\\.")}\\s*=\\s*\\[([^\\]]*)\\]`).exec(text);
  return m ? [...m[1]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!) : [];
}

/**
 * hardware-configuration.nix as nixos-generate-config writes it: the initrd's module lists and
 * each `fileSystems."/x" = { device = "…"; fsType = "…"; };`. A reading of the text, not an
 * evaluation: a hand-edited file may hold more than this finds.
 */
export function parseHardwareConfiguration(text: string): NonNullable<NixosFacts["hardwareConfiguration"]> {
  const fileSystems: { mountpoint: string; device?: string; fsType?: string }[] = [];
  for (const m of text.matchAll(/fileSystems\."([^"]+)"\s*=\s*\{([^}]*)\}/g)) {
    const body = m[2]!;
    fileSystems.push({
      mountpoint: m[1]!,
      ...optional("device", /device\s*=\s*"([^"]+)"/.exec(body)?.[1]),
      ...optional("fsType", /fsType\s*=\s*"([^"]+)"/.exec(body)?.[1]),
    });
  }
  return {
    availableKernelModules: nixStringList(text, "boot.initrd.availableKernelModules"),
    kernelModules: [...new Set([...nixStringList(text, "boot.initrd.kernelModules"), ...nixStringList(text, "boot.kernelModules")])],
    fileSystems,
  };
}

/** The script's output → facts. `facter` is the section holding nixos-facter's report, if it ran. */
export function parseAdoptOutput(stdout: string): { facts: MachineFacts; facterReport?: string } {
  const s = splitSections(stdout);
  const get = (k: string) => s.get(k) ?? "";
  const os = parseOsRelease(get("os-release"));
  const mem = /MemTotal:\s*(\d+)/.exec(get("meminfo"));
  const tpmText = get("tpm");
  const tpmPresent = /\btpm\d+\b/.test(tpmText.replace(/dev=\/dev\/tpm\d+/, "")) || /dev=\/dev\/tpm0/.test(tpmText);
  const stateVersion = /stateVersion\s*=\s*"(\d\d\.\d\d)"/.exec(get("state-version"))?.[1];
  const hw = get("hardware-configuration");
  const nixos: NixosFacts | undefined =
    get("nixos") === "yes"
      ? {
          ...optional("version", opt(get("nixos-version"))),
          ...optional("configurationName", opt(get("configuration-name"))),
          ...optional("currentSystem", opt(get("current-system"))),
          ...optional("stateVersion", stateVersion),
          flake: get("nixos-flake") === "yes",
          ...(hw ? { hardwareConfiguration: parseHardwareConfiguration(hw) } : {}),
        }
      : undefined;
  const mounts = ((json(get("findmnt")) as { filesystems?: { source?: string; target?: string; fstype?: string; options?: string }[] } | undefined)?.filesystems ?? [])
    .filter((f) => f.source && f.target)
    .map((f) => ({ source: f.source!, target: f.target!, fstype: f.fstype ?? "", options: (f.options ?? "").split(",").filter(Boolean) }));
  const efi = get("efi");
  const dns = get("resolv")
    .split("\n")
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
  const facts: MachineFacts = {
    source: "ssh",
    ...optional("arch", opt(get("arch"))),
    ...optional("hostname", opt(get("hostname"))),
    ...(Object.keys(os).length ? { os: { ...optional("id", os["ID"]), ...optional("name", os["NAME"]), ...optional("version", os["VERSION_ID"]), ...optional("prettyName", os["PRETTY_NAME"]) } } : {}),
    ...optional("model", opt(get("model"))),
    ...(opt(get("dmi-product")) || opt(get("dmi-vendor")) ? { dmi: { ...optional("product", opt(get("dmi-product"))), ...optional("vendor", opt(get("dmi-vendor"))) } } : {}),
    ...optional("virtualisation", opt(get("virt"))),
    ...optional("memKiB", mem ? Number(mem[1]) : undefined),
    ...optional("boot", efi === "uefi" || efi === "bios" ? (efi as "uefi" | "bios") : undefined),
    ...(s.has("tpm") ? { tpm: { present: tpmPresent, ...optional("version", /version=(\d+)/.exec(tpmText)?.[1]) } } : {}),
    disks: parseBlockDevices(s.get("lsblk"), get("blkid"), get("by-id")),
    mounts,
    interfaces: parseInterfaces(s.get("ip-addr"), get("net-drivers")),
    ...optional("defaultRoute", defaultRoute(s.get("ip-route"))),
    ...optional("defaultRoute6", defaultRoute(s.get("ip6-route"))),
    dns,
    ...optional("nixos", nixos),
  };
  // Without udev (a container, an initrd-less boot) lsblk knows no filesystem of a mounted device.
  const fill = (d: BlockDevice): BlockDevice => {
    const m = d.fstype ? undefined : mounts.find((x) => x.source === d.path);
    return { ...d, ...(m?.fstype ? { fstype: m.fstype } : {}), children: d.children.map(fill) };
  };
  facts.disks = facts.disks.map(fill);
  const facter = opt(get("facter"));
  return { facts, ...(facter ? { facterReport: facter } : {}) };
}
