// nixos-facter's JSON report → MachineFacts. The shape follows numtide/nixos-facter v0.3.0
// (report version 1): pkg/facter/facter.go (Report: version, system, virtualisation, hardware,
// smbios, swap), pkg/facter/hardware.go (hardware.<class> lists: disk, partition,
// network_interface, network_controller, memory, cpu, system), pkg/hwinfo/hardware.go
// (HardwareDevice: index, attached_to, unix_device_name(s), resources, driver_module(s), model),
// pkg/hwinfo/resource_size.go ({type: "size", unit, value_1, value_2}), resource_phys_mem.go
// ({type: "phys_mem", range}), pkg/facter/smbios.go + pkg/hwinfo/smbios_sys_info.go (smbios.system
// manufacturer/product). v0.3.0's hwaddr resource carries one byte of the MAC
// (resource_hw_addr.go: `Address byte`), so no MAC is taken from it. The report knows no
// filesystems, boot mode, TPM or addresses: those stay unknown.
import type { BlockDevice, MachineFacts, NetInterface } from "./facts.js";

/** The part of a nixos-facter report hearth reads. */
export interface FacterReport {
  version: number;
  system: string;
  virtualisation?: string;
  hardware?: {
    cpu?: { architecture?: string }[];
    disk?: FacterDevice[];
    partition?: FacterDevice[];
    network_interface?: FacterDevice[];
    network_controller?: FacterDevice[];
    memory?: FacterDevice[];
    system?: { form_factor?: string; vendor?: string; model?: string };
  };
  smbios?: { system?: { manufacturer?: string; product?: string }; board?: { manufacturer?: string; product?: string } };
}

export interface FacterDevice {
  index: number;
  attached_to: number;
  model?: string;
  serial?: string;
  unix_device_name?: string;
  unix_device_names?: string[];
  resources?: { type: string; unit?: string; value_1?: number; value_2?: number; range?: number }[];
  driver?: string;
  driver_module?: string;
  driver_modules?: string[];
  sysfs_id?: string;
}

/** Refuses what is not a nixos-facter report (of a version hearth reads), saying why. */
export function parseFacterReport(text: string): FacterReport {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  if (!r || typeof r !== "object" || typeof (r as FacterReport).system !== "string" || typeof (r as FacterReport).version !== "number")
    throw new Error("not a nixos-facter report (no version and system fields)");
  const v = (r as FacterReport).version;
  if (v < 1) throw new Error(`nixos-facter report version ${v} is not one hearth reads (1 and later)`);
  return r as FacterReport;
}

const SIZE_UNIT: Record<string, number> = { byte: 1, kbyte: 1024, mbyte: 1 << 20, gbyte: 1 << 30 };

/** Bytes of a disk from its size resource: sectors × sector size (value_2, 512 when absent). */
function bytesOf(d: FacterDevice): number {
  const r = d.resources?.find((x) => x.type === "size");
  if (!r) return 0;
  if (r.unit === "sectors") return (r.value_1 ?? 0) * (r.value_2 || 512);
  return (r.value_1 ?? 0) * (SIZE_UNIT[r.unit ?? ""] ?? 0);
}

const byIdOf = (d: FacterDevice) => (d.unix_device_names ?? []).filter((n) => n.startsWith("/dev/disk/by-id/")).sort();

function block(d: FacterDevice, type: string, children: BlockDevice[]): BlockDevice {
  const path = d.unix_device_name ?? `/dev/${d.sysfs_id?.split("/").pop() ?? `hw${d.index}`}`;
  return {
    name: path.replace(/^\/dev\//, ""),
    path,
    size: bytesOf(d),
    type,
    mountpoints: [],
    ...(d.model ? { model: d.model } : {}),
    ...(d.serial ? { serial: d.serial } : {}),
    byId: byIdOf(d),
    children,
  };
}

/** The report as facts; what it does not tell stays undefined (→ a TODO in the host file). */
export function factsFromFacter(r: FacterReport): Omit<MachineFacts, "source"> {
  const hw = r.hardware ?? {};
  const parts = hw.partition ?? [];
  const disks = (hw.disk ?? []).map((d) => block(d, "disk", parts.filter((p) => p.attached_to === d.index).map((p) => block(p, "part", []))));
  const controllers = new Map((hw.network_controller ?? []).map((c) => [c.index, c]));
  const interfaces: NetInterface[] = (hw.network_interface ?? [])
    .filter((n) => n.unix_device_name)
    .map((n) => {
      const c = controllers.get(n.attached_to);
      const mod = c?.driver_module ?? c?.driver_modules?.[0] ?? n.driver_module;
      return { name: n.unix_device_name!, up: false, loopback: n.unix_device_name === "lo", addresses: [], ...(mod ? { driverModule: mod } : {}) };
    });
  const memBytes = (hw.memory ?? []).flatMap((m) => m.resources ?? []).filter((x) => x.type === "phys_mem").reduce((a, x) => a + (x.range ?? 0), 0);
  const arch = r.system.split("-")[0];
  const product = r.smbios?.system?.product;
  const vendor = r.smbios?.system?.manufacturer;
  // On device-tree boards (a Pi) hwinfo's system detail carries the model; DMI is absent there.
  const model = !product && hw.system?.model ? hw.system.model : undefined;
  return {
    ...(arch ? { arch } : {}),
    ...(model ? { model } : {}),
    ...(product || vendor ? { dmi: { ...(product ? { product } : {}), ...(vendor ? { vendor } : {}) } } : {}),
    ...(r.virtualisation ? { virtualisation: r.virtualisation } : {}),
    ...(memBytes ? { memKiB: Math.round(memBytes / 1024) } : {}),
    disks,
    mounts: [],
    interfaces,
    dns: [],
    facterVersion: r.version,
  };
}

/**
 * The SSH facts completed by the report of nixos-facter run on the same machine: the script's
 * own findings win (they come with filesystems and addresses); the report adds what it alone
 * knows (board, virtualisation, NIC drivers, disks' by-id names).
 */
export function mergeFacter(f: MachineFacts, r: FacterReport): MachineFacts {
  const x = factsFromFacter(r);
  const drivers = new Map(x.interfaces.filter((i) => i.driverModule).map((i) => [i.name, i.driverModule!]));
  const ids = new Map(x.disks.flatMap((d) => [d, ...d.children]).map((d) => [d.path, d.byId]));
  const withIds = (d: BlockDevice): BlockDevice => ({ ...d, byId: d.byId.length ? d.byId : (ids.get(d.path) ?? []), children: d.children.map(withIds) });
  return {
    ...f,
    source: "ssh+nixos-facter",
    ...(f.model || !x.model ? {} : { model: x.model }),
    ...(f.dmi || !x.dmi ? {} : { dmi: x.dmi }),
    ...(f.virtualisation || !x.virtualisation ? {} : { virtualisation: x.virtualisation }),
    disks: f.disks.map(withIds),
    interfaces: f.interfaces.map((i) => (i.driverModule || !drivers.has(i.name) ? i : { ...i, driverModule: drivers.get(i.name)! })),
    facterVersion: r.version,
  };
}
