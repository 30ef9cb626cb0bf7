// A host's live state as one read-only shell script over SSH reports it (system generation,
// uptime, memory, systemd, volumes), parsed into JSON-serialisable data, compared with what
// hearth would deploy, and turned into alert conditions. Pure: the collector is node/monitor.
import { generationOf } from "../deploy/deploy.js";
import type { AlertInput } from "./types.js";

/** One mounted filesystem as `df -P -B1 -T` reports it. */
export interface Volume {
  mountpoint: string;
  device: string;
  fsType: string;
  sizeBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** Used share of what non-root users can have (used / (used + available)), as df computes it. */
  usedPercent: number;
  /** The same filesystem mounted elsewhere too (btrfs subvolumes, bind mounts). */
  alsoMountedAt?: string[];
}

export interface ReachableMachineState {
  reachable: true;
  kernel?: string;
  hostname?: string;
  /** Changes on every boot: a different one between polls means the host rebooted. */
  bootId?: string;
  uptimeSeconds?: number;
  load?: [number, number, number];
  memory?: { totalBytes: number; availableBytes?: number };
  nixos: boolean;
  system: {
    /** /run/current-system: what is active now. */
    current?: string;
    /** /run/booted-system: what the running kernel booted. */
    booted?: string;
    /** The system profile's generation number (system-42-link). */
    generation?: number;
  };
  /** `systemctl is-system-running` (running, degraded, starting …); absent without systemd. */
  systemState?: string;
  failedUnits: string[];
  volumes: Volume[];
  /** The script ran to its end (a cut connection leaves a partial report). */
  complete: boolean;
}

export interface UnreachableMachineState {
  reachable: false;
  /** Why, in words a person can act on. */
  reason: string;
}

export type MachineState = ReachableMachineState | UnreachableMachineState;

export const unreachableState = (reason: string): UnreachableMachineState => ({ reachable: false, reason });

// A line no command prints by accident; everything outside a section (motd, shell rc noise) is ignored.
const MARK = "@@hearth-machine-state@@";

/**
 * The script, POSIX sh, read-only and fine as a non-root user; each probe is allowed to fail
 * (no systemd, no Nix profile, a busybox df) and leaves its section empty.
 */
export const MACHINE_STATE_SCRIPT = [
  `m() { echo "${MARK} $1"; }`,
  "m kernel; uname -r 2>/dev/null",
  "m hostname; uname -n 2>/dev/null",
  "m boot-id; cat /proc/sys/kernel/random/boot_id 2>/dev/null",
  "m uptime; cat /proc/uptime 2>/dev/null",
  "m loadavg; cat /proc/loadavg 2>/dev/null",
  "m meminfo; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo 2>/dev/null",
  "m nixos; [ -e /etc/NIXOS ] && echo yes",
  "m current-system; readlink /run/current-system 2>/dev/null",
  "m booted-system; readlink /run/booted-system 2>/dev/null",
  "m profile; readlink /nix/var/nix/profiles/system 2>/dev/null",
  // is-system-running prints the state and exits non-zero unless "running": keep the output.
  "if command -v systemctl >/dev/null 2>&1; then m system-state; systemctl is-system-running 2>/dev/null; m failed-units; systemctl --failed --no-legend --plain 2>/dev/null; fi",
  // GNU df exits 1 when one mount cannot be read but still lists the rest, so probe -B1 on / first;
  // busybox builds without -B get 1024-byte blocks.
  "if df -B1 / >/dev/null 2>&1; then m df-bytes; df -P -B1 -T 2>/dev/null; else m df-kib; df -P -k -T 2>/dev/null; fi",
  "m end",
  "true",
].join("\n");

// Kernel and virtual filesystems, live media and container layers: not where data fills up.
const PSEUDO_FS = new Set([
  "tmpfs", "devtmpfs", "overlay", "squashfs", "iso9660", "ramfs", "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue",
  "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs", "autofs", "efivarfs", "nsfs",
  "binfmt_misc", "rpc_pipefs", "fuse.lxcfs", "fuse.portal", "fuse.gvfsd-fuse", "nfsd", "selinuxfs", "zram",
]);

function sections(output: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.startsWith(MARK + " ")) {
      current = [];
      out.set(line.slice(MARK.length + 1).trim(), current);
    } else if (current && line.trim() !== "") current.push(line);
  }
  return out;
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
};

function parseVolumes(lines: string[], blockBytes: number): Volume[] {
  const byDevice = new Map<string, Volume>();
  const volumes: Volume[] = [];
  for (const line of lines) {
    // The mount point is the rest of the line: it may hold spaces.
    const m = /^(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+(\/.*)$/.exec(line);
    if (!m) continue;
    const [, device, fsType, size, used, avail, mountpoint] = m as unknown as [string, string, string, string, string, string, string];
    // A RAM-booted host's root is a tmpfs, and filling it fills the RAM.
    if (PSEUDO_FS.has(fsType) && !(fsType === "tmpfs" && mountpoint === "/")) continue;
    const sizeBytes = Number(size) * blockBytes;
    if (sizeBytes === 0) continue;
    const usedBytes = Number(used) * blockBytes;
    const availableBytes = Number(avail) * blockBytes;
    const same = byDevice.get(device);
    // btrfs subvolumes and bind mounts repeat one filesystem: one volume, one fill level.
    if (same && same.fsType === fsType && same.sizeBytes === sizeBytes) {
      (same.alsoMountedAt ??= []).push(mountpoint);
      continue;
    }
    const v: Volume = {
      mountpoint,
      device,
      fsType,
      sizeBytes,
      usedBytes,
      availableBytes,
      usedPercent: usedBytes + availableBytes > 0 ? Math.round((usedBytes / (usedBytes + availableBytes)) * 1000) / 10 : 0,
    };
    byDevice.set(device, v);
    volumes.push(v);
  }
  return volumes;
}

/**
 * Parse what MACHINE_STATE_SCRIPT printed. Sections that are missing or empty leave their
 * fields out; text outside the marked sections is ignored.
 */
export function parseMachineState(output: string): ReachableMachineState {
  const s = sections(output);
  const first = (k: string) => s.get(k)?.[0]?.trim() || undefined;
  const state: ReachableMachineState = { reachable: true, nixos: first("nixos") === "yes", system: {}, failedUnits: [], volumes: [], complete: s.has("end") };

  const kernel = first("kernel");
  if (kernel) state.kernel = kernel;
  const hostname = first("hostname");
  if (hostname) state.hostname = hostname;
  const bootId = first("boot-id");
  if (bootId) state.bootId = bootId;
  const uptime = num(first("uptime")?.split(/\s+/)[0]);
  if (uptime !== undefined) state.uptimeSeconds = uptime;
  const load = first("loadavg")?.split(/\s+/).slice(0, 3).map(num);
  if (load?.length === 3 && load.every((x) => x !== undefined)) state.load = load as [number, number, number];

  const mem = new Map((s.get("meminfo") ?? []).map((l) => /^(\w+):\s+(\d+)\s*kB/.exec(l)).filter((m) => m !== null).map((m) => [m[1]!, Number(m[2]) * 1024]));
  const total = mem.get("MemTotal");
  if (total !== undefined) {
    const available = mem.get("MemAvailable");
    state.memory = available !== undefined ? { totalBytes: total, availableBytes: available } : { totalBytes: total };
  }

  const current = first("current-system");
  if (current) state.system.current = current;
  const booted = first("booted-system");
  if (booted) state.system.booted = booted;
  const profile = first("profile");
  const generation = profile ? generationOf(profile) : undefined;
  if (generation !== undefined) state.system.generation = generation;

  if (s.has("system-state")) state.systemState = first("system-state") ?? "unknown";
  // `unit load active sub description`; older systemd marks failed ones with a bullet even with --plain.
  state.failedUnits = (s.get("failed-units") ?? []).map((l) => l.trim().replace(/^[●*]\s*/, "").split(/\s+/)[0]!).filter((u) => /^[\w@:.\\-]+\.[a-z]+$/.test(u));

  if (s.has("df-bytes")) state.volumes = parseVolumes(s.get("df-bytes")!, 1);
  else if (s.has("df-kib")) state.volumes = parseVolumes(s.get("df-kib")!, 1024);
  return state;
}

/** Whether the machine runs what hearth would deploy. */
export type Drift = "in sync" | "drifted" | "reboot pending" | "unknown";

const storePath = (p: string) => p.trim().replace(/\/+$/, "");

/**
 * "drifted": the active system is not `expectedSystemPath` (what hearth would deploy now);
 * "reboot pending": it is (or nothing is expected), but the machine booted another one (a new
 * kernel or initrd waits for a reboot); "unknown": unreachable, not NixOS, or nothing to
 * compare with. `driftOf(state)` without an expected path can only tell a pending reboot.
 */
export function driftOf(state: MachineState, expectedSystemPath?: string): Drift {
  if (!state.reachable) return "unknown";
  const { current, booted } = state.system;
  if (!current) return "unknown";
  if (expectedSystemPath && storePath(current) !== storePath(expectedSystemPath)) return "drifted";
  if (booted && storePath(booted) !== storePath(current)) return "reboot pending";
  return expectedSystemPath ? "in sync" : "unknown";
}

export interface MachineThresholds {
  /** Volume used share (0–100) from which a warning is raised. */
  volumeWarningPercent: number;
  volumeCriticalPercent: number;
  /** Memory available below this share of the total raises a warning. */
  memoryAvailableMinPercent: number;
}

export const DEFAULT_MACHINE_THRESHOLDS: MachineThresholds = { volumeWarningPercent: 90, volumeCriticalPercent: 97, memoryAvailableMinPercent: 5 };

const GiB = 1024 ** 3;
const human = (bytes: number) => (bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`);

/**
 * The conditions true on this host now, for the alert engine. Keys are stable across polls:
 * `host.down`, `disk.<mountpoint>`, `unit.<name>.failed`, `memory.low`, `system.degraded`.
 */
export function alertsFromMachine(host: string, state: MachineState, thresholds: Partial<MachineThresholds> = {}): AlertInput[] {
  const t = { ...DEFAULT_MACHINE_THRESHOLDS, ...thresholds };
  if (!state.reachable)
    return [{ host, key: "host.down", severity: "critical", summary: `${host} is unreachable: ${state.reason}`, hint: `check that ${host} is powered and on the network, then \`ssh\` to it` }];
  const alerts: AlertInput[] = [];
  for (const v of state.volumes) {
    if (v.usedPercent < t.volumeWarningPercent) continue;
    alerts.push({
      host,
      key: `disk.${v.mountpoint}`,
      severity: v.usedPercent >= t.volumeCriticalPercent ? "critical" : "warning",
      summary: `${v.mountpoint} on ${host} is ${v.usedPercent}% full (${human(v.availableBytes)} free of ${human(v.sizeBytes)})`,
      hint: `free space on ${host}:${v.mountpoint} (old data, logs, nix-collect-garbage) or grow the volume`,
    });
  }
  for (const unit of state.failedUnits)
    alerts.push({ host, key: `unit.${unit}.failed`, severity: "warning", summary: `${unit} failed on ${host}`, hint: `see why: ssh ${host} journalctl -b -u ${unit}; then systemctl restart ${unit}` });
  const m = state.memory;
  if (m?.availableBytes !== undefined && m.totalBytes > 0 && (m.availableBytes / m.totalBytes) * 100 < t.memoryAvailableMinPercent)
    alerts.push({
      host,
      key: "memory.low",
      severity: "warning",
      summary: `${host} has ${human(m.availableBytes)} of ${human(m.totalBytes)} memory available`,
      hint: `find what grew: ssh ${host} 'ps aux --sort=-rss | head'`,
    });
  if (state.systemState === "degraded")
    alerts.push({
      host,
      key: "system.degraded",
      severity: "warning",
      summary: `systemd reports ${host} degraded${state.failedUnits.length ? ` (${state.failedUnits.length} failed unit${state.failedUnits.length > 1 ? "s" : ""})` : ""}`,
      hint: `ssh ${host} systemctl --failed`,
    });
  return alerts;
}
