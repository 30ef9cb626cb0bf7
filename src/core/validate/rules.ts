// Cross-field rules over a fleet that passed the schema: every finding at once, each pointing
// at the field to change. Pure; runs on the same host plans the generator uses.
import type { Fleet, Host } from "../schema/fleet.js";
import type { SourceFile } from "../fleet/source.js";
import { issueAt } from "../fleet/source.js";
import { didYouMean, formatPath, type Issue, type YamlPath } from "./issues.js";
import { hostInterfaces } from "../features/network.js";
import { inSubnet4, parseCidr } from "../schema/network.js";
import { hostSecretNeeds } from "../plan/host.js";
import { isMember, planMesh } from "../mesh/plan.js";
import { planSecrets } from "../secrets/plan.js";
import { adminRecipientInputs, parseRecipient } from "../secrets/recipients.js";
import { mountHolding, persistentSecretsDir } from "../features/base.js";
import { hostServices, type PlannedService } from "../plan/host.js";
import { PROFILES } from "../features/hardware.js";
import { VOLUME_KINDS, volumeKind } from "../features/storage/registry.js";
import { formattedVolumes } from "../features/storage/layout.js";
import { placementOf, volumeDevices } from "../features/storage/place.js";
import { KERNEL_DISK } from "../schema/storage.js";
import { formatsOf } from "../features/formats.js";
import { jwtOf } from "../services/ethereum/common.js";
import { ethPlatforms } from "../services/ethereum/platforms.js";
import { PINS } from "../nix/input-pins.js";
import { KINDS_BY_ROLE } from "../services/registry.js";
import { CLIENT_FLAGS, parseArgs } from "../services/ethereum/flags.js";
import { imageAttr } from "../plan/image.js";
import { offsetIn, parsePrefix4 } from "../mesh/ip.js";
import { GRAFANA_DATA_DIR, NODE_EXPORTER_PORT, PROMETHEUS_DATA_DIR } from "../features/monitoring.js";
import { SMTP_PASSWORD_SECRET } from "../schema/monitoring.js";

export interface RuleInput {
  fleet: Fleet;
  sources: Map<string, SourceFile>;
  hostFiles: Map<string, string>;
  /** Files present in the fleet directory (for extraModules). */
  files: Record<string, string>;
}

type Report = (host: string, path: YamlPath, severity: Issue["severity"], message: string, hint?: string) => void;

export function checkRules(input: RuleInput): Issue[] {
  const issues: Issue[] = [];
  const report: Report = (host, path, severity, message, hint) => {
    const src = input.sources.get(input.hostFiles.get(host)!)!;
    issues.push(issueAt(src, path, severity, message, hint));
  };
  const { fleet } = input;
  const services = new Map<string, PlannedService[]>();
  for (const [name, host] of fleet.hosts) services.set(name, hostServices(fleet, name, host));

  validatorKeyRules(fleet, report);
  executionSharingRules(fleet, report);
  for (const [name, host] of fleet.hosts) {
    const svcs = services.get(name)!;
    hardwareRules(name, host, report);
    storageRules(name, host, report);
    portRules(name, svcs, report);
    ethereumRules(name, host, svcs, report, fleet.hosts);
    flagRules(name, svcs, report);
    dataDirRules(name, host, svcs, report);
    securityRules(name, host, report);
    networkRules(name, host, fleet, report);
    wsRules(name, host, report);
    for (const [i, m] of host.extraModules.entries())
      if (input.files[m] === undefined) report(name, ["extraModules", i], "error", `file '${m}' does not exist in the fleet directory`, "create it or remove the entry");
  }
  fleetRules(fleet, report);
  const fleetReport = (path: YamlPath, message: string, hint?: string, severity: Issue["severity"] = "error") => {
    const src = input.sources.get("fleet.yaml");
    issues.push(src ? issueAt(src, path, severity, message, hint) : { severity, file: "fleet.yaml", path, message, hint });
  };
  secretRules(fleet, report, fleetReport);
  meshRules(fleet, services, report, fleetReport);
  // A finding about a field the host file may leave to its default points at the field when the
  // file has it, else at `image:` (the line that brought the class's requirement in).
  const hasField = (host: string, path: YamlPath) => input.sources.get(input.hostFiles.get(host)!)?.doc.hasIn(path) ?? false;
  imageRules(fleet, report, fleetReport, hasField);
  monitoringRules(fleet, services, report, fleetReport);
  return issues;
}

/**
 * fleet.yaml `monitoring:` and `alerts:`: hosts that exist, a mesh to scrape over, ports free on
 * the hosts that open them, history on a volume, and no secret under a name hearth reserves.
 */
function monitoringRules(
  fleet: Fleet,
  services: Map<string, PlannedService[]>,
  report: Report,
  fleetReport: (path: YamlPath, message: string, hint?: string, severity?: Issue["severity"]) => void,
) {
  const m = fleet.monitoring;
  const names = [...fleet.hosts.keys()];
  const known = (host: string, path: YamlPath) => {
    if (fleet.hosts.has(host)) return true;
    fleetReport(path, `no host '${host}' in the fleet`, didYouMean(host, names) ?? (names.length ? `one of: ${names.join(", ")}` : "add the host under hosts/"));
    return false;
  };
  if (m?.grafana && !m.prometheus)
    fleetReport(["monitoring", "grafana"], "Grafana needs Prometheus: its dashboards read from the fleet's Prometheus", "add monitoring.prometheus.host (Grafana then runs on that host unless grafana.host says otherwise)");
  const prom = m?.prometheus && known(m.prometheus.host, ["monitoring", "prometheus", "host"]) ? m.prometheus.host : undefined;
  const graf = m?.grafana?.host !== undefined && !known(m.grafana.host, ["monitoring", "grafana", "host"]) ? undefined : m?.grafana && prom ? (m.grafana.host ?? prom) : undefined;
  if (prom) {
    const promHost = fleet.hosts.get(prom)!;
    const others = names.filter((n) => n !== prom);
    if (!fleet.mesh && others.length)
      fleetReport(["monitoring", "prometheus"], `Prometheus on '${prom}' scrapes the other hosts over the mesh, but the fleet has no mesh`,
        "add a mesh to fleet.yaml (mesh: { type: wireguard }); without one Prometheus watches only its own host");
    else if (fleet.mesh && !promHost.mesh.enable && others.length)
      report(prom, ["mesh", "enable"], "error", "this host runs Prometheus, which scrapes the other hosts over the mesh, but it is not in the mesh", "remove mesh.enable: false");
    if (fleet.mesh)
      for (const [name, h] of fleet.hosts)
        if (name !== prom && !h.mesh.enable)
          report(name, ["mesh", "enable"], "warning", `Prometheus on '${prom}' cannot scrape this host: it is not in the mesh`, "remove mesh.enable: false to get its graphs and alerts");
    if (graf && graf !== prom && fleet.mesh && !fleet.hosts.get(graf)!.mesh.enable)
      fleetReport(["monitoring", "grafana", "host"], `Grafana on '${graf}' reads Prometheus on '${prom}' over the mesh, but '${graf}' is not in the mesh`, `run Grafana on '${prom}' (remove grafana.host) or put '${graf}' in the mesh`);
  }
  // Ports hearth opens for monitoring against the host's services.
  const opened = (host: string, port: number, what: string, path: YamlPath) => {
    for (const s of services.get(host) ?? [])
      for (const p of s.ports)
        if (p.port === port && p.protocol === "tcp")
          fleetReport(path, `${what} port ${port}/tcp on '${host}' is already used by ${s.kind.id} (services.${s.role}.${p.field.join(".")})`, `choose another port for one of them`);
  };
  if (prom && m?.nodeExporter)
    for (const name of names.filter((n) => n === prom || (fleet.mesh && fleet.hosts.get(n)!.mesh.enable)))
      for (const s of services.get(name) ?? [])
        for (const p of s.ports)
          if (p.port === NODE_EXPORTER_PORT && p.protocol === "tcp")
            report(name, ["services", s.role, ...p.field], "error", `port ${NODE_EXPORTER_PORT}/tcp is node_exporter's on every monitored host (fleet.yaml monitoring.nodeExporter)`, "choose another port for this service");
  if (prom && m?.prometheus) opened(prom, m.prometheus.port, "Prometheus", ["monitoring", "prometheus", "port"]);
  if (graf && m?.grafana) opened(graf, m.grafana.port, "Grafana", ["monitoring", "grafana", "port"]);
  if (prom && graf === prom && m?.grafana && m.prometheus && m.grafana.port === m.prometheus.port)
    fleetReport(["monitoring", "grafana", "port"], `Grafana and Prometheus both listen on port ${m.grafana.port} on '${prom}'`, "choose another port for one of them");
  if (prom && m?.nodeExporter && m.prometheus?.port === NODE_EXPORTER_PORT)
    fleetReport(["monitoring", "prometheus", "port"], `port ${NODE_EXPORTER_PORT} is node_exporter's`, "choose another Prometheus port");
  // A RAM-only host forgets what is not on a volume: the metrics history, Grafana's users and settings.
  for (const [host, dir, what, path] of [
    [prom, PROMETHEUS_DATA_DIR, "Prometheus' history", ["monitoring", "prometheus", "host"]],
    [graf, GRAFANA_DATA_DIR, "Grafana's database (users, settings)", ["monitoring", "grafana"]],
  ] as const) {
    const h = host ? fleet.hosts.get(host) : undefined;
    if (h?.ephemeral && !mountHolding(h, dir))
      fleetReport([...path], `'${host}' is RAM-only and ${dir} is on none of its volumes: ${what} would be lost at every reboot`,
        `add a subvolume or dataset mounted at ${dir} to ${host}'s storage.volumes`, "warning");
  }
  // alerts:
  const smtp = fleet.alerts?.email?.smtp;
  if (smtp?.passwordSecret && !smtp.user)
    fleetReport(["alerts", "email", "smtp", "passwordSecret"], "a password without a user: SMTP authenticates a login with its password", "set alerts.email.smtp.user");
  if (fleet.secrets.custom[SMTP_PASSWORD_SECRET] && smtp?.passwordSecret)
    fleetReport(["secrets", "custom", SMTP_PASSWORD_SECRET], `the name '${SMTP_PASSWORD_SECRET}' is the SMTP password's (alerts.email.smtp.passwordSecret)`, "rename this custom secret");
}

function hardwareRules(name: string, host: Host, report: Report) {
  const p = PROFILES[host.hardware];
  if (p.system !== host.system)
    report(name, ["system"], "error", `hardware '${host.hardware}' is ${p.system}, but system is ${host.system}`, `set system: ${p.system}`);
  const formats = formatsOf(host);
  if (formats.includes("sd-image") && host.system !== "aarch64-linux")
    report(name, ["boot", "formats"], "error", "sd-image is built for aarch64-linux (Raspberry Pi) hosts only", "use kexec or iso for x86 hosts");
  if (host.ephemeral && formats.includes("disk"))
    report(name, ["boot", "formats"], "error", "an ephemeral (RAM-only) host is not installed to disk", "use kexec, iso or sd-image, or set ephemeral: false");
  if (!host.ephemeral && formats.includes("disk")) {
    const roots = Object.values(host.storage.volumes).flatMap((v) => volumeKind(v).mounts(v)).filter((m) => m.mountpoint === "/");
    if (roots.length === 0)
      report(name, ["storage", "volumes"], "error", "an installed host needs a volume mounted at /", "add a zfs dataset, btrfs subvolume or ext4 volume with mountpoint: /, or set ephemeral: true");
    if (!host.storage.bootDisk && !host.hardware.startsWith("raspberry-pi"))
      report(name, ["storage"], "error", "an installed host needs storage.bootDisk for its EFI system partition", "set storage.bootDisk: /dev/disk/by-id/...");
  }
}

function storageRules(name: string, host: Host, report: Report) {
  const vols = host.storage.volumes;
  const at = (vname: string, ...rest: (string | number)[]): YamlPath => ["storage", "volumes", vname, ...rest];
  const seenDev = new Map<string, string>();
  const seenMount = new Map<string, string>();
  const byType = (t: string) => Object.keys(vols).filter((n) => vols[n]!.type === t);
  /** Volumes placed on each array or group: what an array holds, what a group's LVs are. */
  const onRaid = new Map<string, string[]>();
  const onVg = new Map<string, string[]>();
  const formatted = new Set(formattedVolumes(host).flatMap(([, v]) => volumeDevices(v)));
  if (host.storage.bootDisk) formatted.add(host.storage.bootDisk);
  for (const [vname, vol] of Object.entries(vols)) {
    const kind = VOLUME_KINDS[vol.type];
    const devices = volumeDevices(vol);
    const min = kind.minDevices?.(vol);
    if (min && devices.length < min[0])
      report(name, at(vname, "devices"), "error", `${min[1]}, but ${devices.length} given`, "add disks or choose a layout with less redundancy");
    devices.forEach((d, i) => {
      const prev = seenDev.get(d);
      if (prev) report(name, at(vname, "devices", i), "error", `disk ${d} is already used by volume '${prev}'`, "each disk belongs to one volume");
      seenDev.set(d, vname);
      deviceNameRule(name, d, at(vname, "devices", i), report, true);
    });
    for (const m of kind.mounts(vol)) {
      const prev = seenMount.get(m.mountpoint);
      if (prev) report(name, at(vname, ...m.field), "error", `${m.mountpoint} is already mounted by volume '${prev}'`, "mount each path once");
      seenMount.set(m.mountpoint, vname);
    }
    if (vol.type === "zfs" && host.ephemeral && vol.encryption === "credstore")
      report(name, at(vname, "encryption"), "error", "the credstore unlock runs in an installed system's initrd; an ephemeral host cannot use it", "use encryption: native or none");
    if (vol.type === "xfs" && vol.subvolumes !== undefined)
      report(name, at(vname, "subvolumes"), "error", "XFS has no subvolumes", "use type: btrfs for subvolumes, or make one xfs volume per mount point (logical volumes of an lvm group: lvm: { vg, size })");
    // Where the volume lives: its own disks, a logical volume of a group, or an array.
    const place = placementOf(vol);
    const lvmRef = "lvm" in vol ? vol.lvm : undefined;
    const raidRef = "raid" in vol ? vol.raid : undefined;
    const kinds = [devices.length > 0 && "devices", lvmRef && "lvm", raidRef && "raid"].filter((x): x is string => !!x);
    if (vol.type !== "mount" && vol.type !== "zfs" && kinds.length === 0)
      report(name, at(vname), "error", `volume '${vname}' is on nothing: it names no disks, volume group or array`,
        vol.type === "lvm" ? "add devices: [/dev/disk/by-id/...] (its physical volumes) or raid: NAME" : "add devices: [/dev/disk/by-id/...], lvm: { vg: NAME, size: 50G } or raid: NAME");
    if (kinds.length > 1) report(name, at(vname, kinds[1]!), "error", `volume '${vname}' names both ${kinds[0]} and ${kinds[1]}`, "a volume lives in one place: on its disks, on a logical volume or on an array");
    if (place.on === "lvm") {
      const vg = vols[place.vg];
      if (vg?.type !== "lvm")
        report(name, at(vname, "lvm", "vg"), "error", vg ? `'${place.vg}' is a ${vg.type} volume, not an LVM volume group` : `no volume group '${place.vg}' in storage.volumes`,
          didYouMean(place.vg, byType("lvm")) ?? (byType("lvm").length ? `one of: ${byType("lvm").join(", ")}` : `add it: storage.volumes.${place.vg}: { type: lvm, devices: [/dev/disk/by-id/...] }`));
      else onVg.set(place.vg, [...(onVg.get(place.vg) ?? []), vname]);
      if ("format" in vol && !vol.format) report(name, at(vname, "format"), "error", "a logical volume is made by disko with its group; format: false has nothing to mount", "remove format: false, or describe the existing filesystem as type: mount");
    }
    if (place.on === "raid") {
      const r = vols[place.raid];
      if (r?.type !== "raid")
        report(name, at(vname, "raid"), "error", r ? `'${place.raid}' is a ${r.type} volume, not a RAID array` : `no RAID array '${place.raid}' in storage.volumes`,
          didYouMean(place.raid, byType("raid")) ?? (byType("raid").length ? `one of: ${byType("raid").join(", ")}` : `add it: storage.volumes.${place.raid}: { type: raid, level: 1, devices: [...] }`));
      else onRaid.set(place.raid, [...(onRaid.get(place.raid) ?? []), vname]);
    }
    if (vol.type === "mount") {
      deviceNameRule(name, vol.device, at(vname, "device"), report, false);
      // The filesystem must not be on something hearth formats: the same name, or a partition of it.
      const wiped = [...formatted].find((d) => vol.device === d || isPartitionOf(vol.device, d));
      if (wiped)
        report(name, at(vname, "device"), "error", `${vol.device} is ${vol.device === wiped ? "" : "on "}${wiped}, which hearth formats (${seenDev.get(wiped) ? `volume '${seenDev.get(wiped)}'` : "storage.bootDisk"}): this filesystem would be wiped`,
          "remove the disk from the formatted volume, or this mount if the filesystem is to be made anew");
      const prev = seenDev.get(vol.device);
      if (prev && prev !== vname && !wiped) report(name, at(vname, "device"), "error", `${vol.device} is already used by volume '${prev}'`, "each device belongs to one volume");
      seenDev.set(vol.device, vname);
    }
  }
  for (const r of byType("raid")) {
    const users = onRaid.get(r) ?? [];
    if (users.length === 0) report(name, at(r), "warning", `RAID array '${r}' holds nothing: no volume names raid: ${r}`, `put a filesystem or an lvm group on it (raid: ${r}), or remove it`);
    for (const u of users.slice(1))
      report(name, at(u, "raid"), "error", `array '${r}' already holds volume '${users[0]}'`, "an array holds one volume; put an lvm group on it for several");
  }
  for (const g of byType("lvm")) {
    const lvs = onVg.get(g) ?? [];
    if (lvs.length === 0) report(name, at(g), "warning", `volume group '${g}' has no logical volumes: no volume names lvm: { vg: ${g} }`, `add volumes with lvm: { vg: ${g}, size: 50G }, or remove it`);
    // Sizes are known only as shares of the group: more than all of it cannot be made.
    const shares = lvs.map((lv) => ({ lv, size: (vols[lv] as { lvm: { size: string } }).lvm.size })).filter((x) => x.size.endsWith("%"));
    let sum = 0;
    for (const { lv, size } of shares) {
      sum += Number(size.slice(0, -1));
      if (sum > 100)
        report(name, at(lv, "lvm", "size"), "error", `logical volume '${lv}' gets ${size} of group '${g}', but the volumes before it already take ${sum - Number(size.slice(0, -1))}%`,
          "shares are of the space left when the volume is made; give fixed sizes (50G), and 100% to the last one only");
    }
    const full = shares.filter((x) => x.size === "100%");
    if (full.length === 1 && lvs.length > 1 && shares.length > 1)
      report(name, at(full[0]!.lv, "lvm", "size"), "warning", `'${full[0]!.lv}' takes all of group '${g}' and other volumes take shares too`, "give the others fixed sizes, or lower this share");
  }
  if (host.storage.bootDisk) deviceNameRule(name, host.storage.bootDisk, ["storage", "bootDisk"], report, true);
  if (host.storage.bootDisk && host.ephemeral)
    report(name, ["storage", "bootDisk"], "warning", "an ephemeral host boots from the network or RAM; bootDisk is ignored", "remove storage.bootDisk");
}

/** /dev/sdb1 of /dev/sdb, /dev/nvme0n1p2 of /dev/nvme0n1, …-part1 of a by-id or by-path disk. */
function isPartitionOf(dev: string, disk: string): boolean {
  if (/^\/dev\/disk\/by-(id|path)\//.test(disk)) return new RegExp(`^${escapeRe(disk)}-part\\d+$`).test(dev);
  if (KERNEL_DISK.test(disk)) return new RegExp(`^${escapeRe(disk)}${/\d$/.test(disk) ? "p" : ""}\\d+$`).test(dev);
  return false;
}
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Kernel names (/dev/sdb) follow the order disks are found in, which changes across boots, and a
 * disk formatted by label or UUID loses that name when it is formatted.
 */
function deviceNameRule(name: string, dev: string, path: YamlPath, report: Report, formatted: boolean) {
  if (!dev.startsWith("/dev/disk/"))
    report(name, path, "warning", `${dev} is a kernel name, which can point at another disk after a reboot or a new disk`,
      "name it by /dev/disk/by-id/... (ls -l /dev/disk/by-id/ on the machine)" + (formatted ? "" : ", or by-uuid/by-label for a filesystem (blkid)"));
  else if (formatted && /^\/dev\/disk\/by-(label|uuid|partuuid)\//.test(dev))
    report(name, path, "warning", `${dev} names a filesystem or partition that formatting replaces: the name is gone after the first install`,
      "name the disk by /dev/disk/by-id/... (ls -l /dev/disk/by-id/ on the machine)");
}

function portRules(name: string, svcs: PlannedService[], report: Report) {
  const seen = new Map<string, { svc: PlannedService; field: YamlPath }>();
  for (const s of svcs)
    for (const p of s.ports) {
      const key = `${p.port}/${p.protocol}`;
      const prev = seen.get(key);
      if (prev && prev.svc !== s)
        report(name, ["services", s.role, ...p.field], "error",
          `port ${key} (${s.kind.id} ${p.name}) is already used by ${prev.svc.kind.id} (services.${prev.svc.role}.${prev.field.join(".")})`,
          `choose another port for one of them`);
      else if (!prev) seen.set(key, { svc: s, field: p.field });
    }
}

function ethereumRules(name: string, host: Host, svcs: PlannedService[], report: Report, hosts: ReadonlyMap<string, Host>) {
  const { execution, consensus, validator, mevBoost } = host.services;
  if (consensus && !execution && !consensus.executionEndpoint && !consensus.executionHost)
    report(name, ["services", "consensus"], "error", `${consensus.client} has no execution client on this host and no executionEndpoint`,
      "add services.execution, or set services.consensus.executionHost to the fleet host whose execution client it uses (or executionEndpoint to a URL)");
  if (consensus?.executionHost !== undefined) {
    const other = hosts.get(consensus.executionHost);
    if (!other)
      report(name, ["services", "consensus", "executionHost"], "error", `no host '${consensus.executionHost}' in the fleet`,
        didYouMean(consensus.executionHost, [...hosts.keys()]) ?? "name a host of this fleet that runs services.execution");
    else if (!other.services.execution)
      report(name, ["services", "consensus", "executionHost"], "error", `host '${consensus.executionHost}' runs no execution client`, "name a host with services.execution");
    else if (execution)
      report(name, ["services", "consensus", "executionHost"], "error", "this host runs its own execution client, which the beacon node uses", "remove executionHost (or the local execution client)");
  }
  if (validator && !consensus && !validator.beaconNodes)
    report(name, ["services", "validator"], "error", "the validator has no consensus client on this host and no beaconNodes", "add services.consensus or set services.validator.beaconNodes");
  if (mevBoost && !consensus)
    report(name, ["services", "mevBoost"], "warning", "MEV-boost runs but no consensus client on this host uses it", "add services.consensus or remove mevBoost");
  if (execution && consensus && !consensus.executionEndpoint && jwtOf(execution) !== jwtOf(consensus))
    report(name, ["services", "consensus", "jwtSecretFile"], "error",
      `JWT secret file ${jwtOf(consensus)} differs from the execution client's ${jwtOf(execution)}; the paired clients must share one secret`,
      `set both services.execution.jwtSecretFile and services.consensus.jwtSecretFile to the same path`);
  // What the pinned ethereum.nix builds for this system (its package list), before any build.
  for (const s of svcs) {
    if (!["execution", "consensus", "validator", "mevBoost"].includes(s.role)) continue;
    const platforms = ethPlatforms(s.kind.id);
    if (platforms.includes(host.system)) continue;
    const sameRole = KINDS_BY_ROLE[s.role].map((k) => k.id).filter((c) => ethPlatforms(c).includes(host.system));
    report(name, ["services", s.role, ...(s.role === "mevBoost" ? [] : ["client"])], "error",
      `the pinned ethereum.nix (${PINS["ethereum-nix"].release}) builds ${s.kind.id} only for ${platforms.join(", ") || "no system"}, not for ${host.system}`,
      sameRole.length ? `choose a ${s.role} client it builds for ${host.system}: ${sameRole.join(", ")}` : `run ${s.role} on an x86_64-linux host and point this host at it`);
  }
}

/** A validator key signing in two places is a slashing: each key is listed by one validator only. */
function validatorKeyRules(fleet: Fleet, report: Report) {
  const where = new Map<string, [string, number][]>();
  for (const [name, host] of fleet.hosts)
    for (const [i, pk] of (host.services.validator?.keys ?? []).entries()) where.set(pk, [...(where.get(pk) ?? []), [name, i]]);
  for (const [pk, places] of where) {
    if (places.length < 2) continue;
    for (const [name, i] of places)
      report(name, ["services", "validator", "keys", i], "error",
        `validator ${pk.slice(0, 12)}… is listed ${places.length} times (${places.map(([h]) => h).join(", ")}): two clients signing with one key get it slashed`,
        "keep it on one host; to move it, use `hearth validator move`, which carries its slashing-protection history across");
  }
}

/**
 * Each execution client serves one beacon node: the Engine API has a single consensus client
 * driving fork choice (every pinned consensus client takes exactly one --execution-endpoint, and
 * no execution client arbitrates between two: data/client-flags/REPORT-*.md).
 */
function executionSharingRules(fleet: Fleet, report: Report) {
  const users = new Map<string, { host: string; path: YamlPath }[]>();
  for (const [name, host] of fleet.hosts) {
    const cl = host.services.consensus;
    if (!cl) continue;
    const el = cl.executionHost ?? (!cl.executionEndpoint && host.services.execution ? name : undefined);
    if (!el) continue;
    users.set(el, [...(users.get(el) ?? []), { host: name, path: cl.executionHost ? ["services", "consensus", "executionHost"] : ["services", "consensus"] }]);
  }
  for (const [el, list] of users) {
    if (list.length < 2) continue;
    for (const u of list.slice(1))
      report(u.host, u.path, "error",
        `the execution client on ${el} already serves the beacon node of ${list[0]!.host}; an execution client supports one consensus client`,
        `run an execution client on ${u.host} (services.execution), or point this beacon node at another host's`);
  }
}

/** Every flag hearth puts on a client's command line, and every extraArgs entry, as the pinned client reads them. */
function flagRules(name: string, svcs: PlannedService[], report: Report) {
  for (const s of svcs) {
    if (!CLIENT_FLAGS[s.kind.id]) continue;
    const extra = ((s.cfg as { extraArgs?: string[] }).extraArgs ?? []).length;
    for (const p of s.processes) {
      const own = p.args.length - extra;
      for (const problem of parseArgs(s.kind.id, p.binary, p.args).problems) {
        const i = problem.index - own;
        const hint = problem.suggestion ? `did you mean ${problem.suggestion}?` : undefined;
        if (i >= 0) {
          const first = problem.kind === "repeated" ? parseArgs(s.kind.id, p.binary, p.args.slice(0, own)).flags.find((f) => problem.message.startsWith(f.name + " ")) : undefined;
          report(name, ["services", s.role, "extraArgs", i], "error",
            first ? `${problem.message}: hearth sets ${first.name} itself` : problem.message,
            first ? "change the setting hearth derives it from (see `hearth eval` of this service) instead of repeating the flag" : (hint ?? `see \`${p.binary} --help\` of ${s.kind.id} ${CLIENT_FLAGS[s.kind.id]!.version}`));
        } else
          report(name, ["services", s.role], "error", `hearth made a command line ${s.kind.id} ${CLIENT_FLAGS[s.kind.id]!.version} refuses (a bug in hearth): ${problem.message}`, "report it; meanwhile choose another client");
      }
      for (const step of (p.preStart ?? []).filter((x) => !x.removeStale))
        for (const problem of parseArgs(s.kind.id, step.binary ?? p.binary, step.args).problems)
          report(name, ["services", s.role], "error", `hearth made a start-up command ${s.kind.id} refuses (a bug in hearth): ${problem.message}`, "report it; meanwhile choose another client");
    }
    if (s.kind.id === "lodestar" && s.role === "consensus" && (s.cfg as { keepPayloads?: boolean }).keepPayloads)
      report(name, ["services", "consensus", "keepPayloads"], "error", "hearth knows no Lodestar option that keeps execution payloads", "choose lighthouse, prysm, teku or nimbus for an archive, or remove keepPayloads");
  }
}

function dataDirRules(name: string, host: Host, svcs: PlannedService[], report: Report) {
  const mounts = Object.values(host.storage.volumes).flatMap((v) => volumeKind(v).mounts(v).map((m) => m.mountpoint));
  const under = (dir: string) => mounts.some((m) => m === "/" || dir === m || dir.startsWith(m + "/"));
  for (const s of svcs)
    for (const d of s.dataDirs) {
      if (under(d.path)) continue;
      report(name, ["services", s.role, ...d.field], "error",
        host.ephemeral
          ? `data directory ${d.path} is on no declared volume; on a RAM-only host it would be lost at every reboot`
          : `data directory ${d.path} is on no declared volume`,
        mounts.length ? `move it under one of: ${mounts.join(", ")}` : "declare a volume under storage.volumes that mounts it");
    }
}

function securityRules(name: string, host: Host, report: Report) {
  const sec = host.security;
  const credstore = Object.values(host.storage.volumes).some((v) => v.type === "zfs" && v.encryption === "credstore");
  const encrypted = Object.values(host.storage.volumes).some((v) => (v.type === "zfs" && v.encryption !== "none") || ("encryption" in v && v.encryption === "luks"));
  if (sec.unlock.method === "tpm2") {
    if (!sec.secureBoot)
      report(name, ["security", "unlock", "method"], "warning", "TPM2 unlock without Secure Boot: PCR 7 does not prove what booted, so anyone can boot another system and unseal the key",
        "set security.secureBoot: true");
    if (!credstore)
      report(name, ["security", "unlock", "method"], "error", "TPM2 unlock needs a LUKS credstore (a zfs volume with encryption: credstore)", "add one, or use method: passphrase");
  }
  if (sec.secureBoot && (host.ephemeral || host.system !== "x86_64-linux"))
    report(name, ["security", "secureBoot"], "error", "Lanzaboote Secure Boot needs an installed x86_64 UEFI host", "set secureBoot: false");
  if (sec.remoteUnlock?.enable && !encrypted)
    report(name, ["security", "remoteUnlock"], "warning", "remote unlock is enabled but no volume is encrypted", "remove security.remoteUnlock");
}

/**
 * A host's interfaces, VLANs, gateways and Wi-Fi: names and MACs once each, VLANs on interfaces
 * that exist, gateways reachable from the addressing, Wi-Fi only on hardware that has it and
 * with its passphrase a secret this host may read.
 */
/** Erigon and Nethermind serve WebSocket through their HTTP JSON-RPC server: ws needs http. */
function wsRules(name: string, host: Host, report: Report) {
  const ex = host.services.execution;
  if (ex?.ws && !ex.http && (ex.client === "erigon" || ex.client === "nethermind"))
    report(name, ["services", "execution", "ws"], "error", `${ex.client} serves WebSocket through its HTTP JSON-RPC server, which http: false turns off`, "set http: true (the default), or turn ws off");
}

function networkRules(name: string, host: Host, fleet: Fleet, report: Report) {
  const n = host.network;
  const ifaces = hostInterfaces(host);
  const seen = new Map<string, (string | number)[]>();
  for (const i of ifaces) {
    const at = i.path.length === 1 ? ["network", "interface"] : i.path[1] === "wifi" ? ["network", "wifi", "interface"] : i.path;
    const prev = seen.get(i.name);
    if (prev) report(name, at, "error", `interface name '${i.name}' is already used by ${formatPath(prev)}`, "give each interface, VLAN and the Wi-Fi interface its own name");
    else seen.set(i.name, at);
  }
  const macs = new Map<string, string>();
  for (const [iface, mac, path] of [
    ...(n.mac ? [[n.interface, n.mac, ["network", "mac"]] as const] : []),
    ...Object.entries(n.interfaces).flatMap(([k, i]) => (i.mac ? [[k, i.mac, ["network", "interfaces", k, "mac"]] as const] : [])),
  ]) {
    const prev = macs.get(mac.toLowerCase());
    if (prev) report(name, [...path], "error", `MAC address ${mac} is already matched by interface '${prev}'`, "one NIC has one MAC address: name it once");
    else macs.set(mac.toLowerCase(), iface);
  }
  const wired = [n.interface, ...Object.keys(n.interfaces)];
  for (const [vname, v] of Object.entries(n.vlans))
    if (!wired.includes(v.interface))
      report(name, ["network", "vlans", vname, "interface"], "error", `VLAN '${vname}' is on interface '${v.interface}', which this host does not have`,
        didYouMean(v.interface, wired) ?? `use one of: ${wired.join(", ")} (network.interface or a name under network.interfaces)`);
  const v4 = ifaces.flatMap((i) => i.addressing.addresses.filter((a) => parseCidr(a)?.family === 4));
  const dhcp4 = ifaces.some((i) => i.addressing.dhcp === true || i.addressing.dhcp === "ipv4");
  if (n.gateway && v4.length && !v4.some((a) => inSubnet4(n.gateway!, a)))
    report(name, ["network", "gateway"], "error", `gateway ${n.gateway} is outside every IPv4 subnet of this host (${v4.join(", ")})`, "a gateway is reached directly: give it an address in one of these subnets, or fix the prefix length");
  else if (n.gateway && !v4.length && !dhcp4)
    report(name, ["network", "gateway"], "error", `gateway ${n.gateway}, but no interface of this host has an IPv4 address`, "add an IPv4 address to network.addresses or turn on DHCP");
  const v6 = n.addresses.some((a) => parseCidr(a)?.family === 6);
  if (n.gateway6 && !v6 && n.dhcp !== true && n.dhcp !== "ipv6")
    report(name, ["network", "gateway6"], "error", `IPv6 gateway ${n.gateway6}, but ${n.interface} has no IPv6 address and no IPv6 by DHCP`, "add the IPv6 address with its prefix (e.g. 2a01:4f8:c17:1234::1/64) to network.addresses");
  if (n.wifi) {
    if (PROFILES[host.hardware].wifi === false)
      report(name, ["network", "wifi"], "error", `hardware '${host.hardware}' has no Wi-Fi`, "remove network.wifi, or use a hardware profile with Wi-Fi (raspberry-pi-4, raspberry-pi-5, generic-x86-uefi)");
    const custom = Object.keys(fleet.secrets.custom);
    const ssids = new Set<string>();
    n.wifi.networks.forEach((w, i) => {
      if (ssids.has(w.ssid)) report(name, ["network", "wifi", "networks", i, "ssid"], "error", `SSID '${w.ssid}' is listed twice`, "list each network once");
      ssids.add(w.ssid);
      const c = fleet.secrets.custom[w.pskSecret];
      if (!c)
        report(name, ["network", "wifi", "networks", i, "pskSecret"], "error", `no secret '${w.pskSecret}' under secrets.custom in fleet.yaml`,
          didYouMean(w.pskSecret, custom) ?? `declare it in fleet.yaml (secrets: { custom: { ${w.pskSecret}: { hosts: [${name}] } } }) and set it with \`hearth secrets set ${w.pskSecret}\``);
      else if (!c.hosts.includes(name))
        report(name, ["network", "wifi", "networks", i, "pskSecret"], "error", `secret '${w.pskSecret}' is not decrypted on this host`, `add ${name} to secrets.custom.${w.pskSecret}.hosts in fleet.yaml`);
    });
  }
}

function fleetRules(fleet: Fleet, report: Report) {
  // One address, one host: static addresses and initrd addresses alike.
  const addrs = new Map<string, string>();
  for (const [name, host] of fleet.hosts) {
    host.network.addresses.forEach((a, i) => {
      const ip = a.split("/")[0]!;
      const prev = addrs.get(ip);
      if (prev && prev !== name) report(name, ["network", "addresses", i], "error", `address ${ip} is already used by host '${prev}'`, "give each host its own address");
      addrs.set(ip, name);
    });
  }
  const servers = [...fleet.hosts].filter(([, h]) => h.services.headscale);
  for (const [name] of servers.slice(1))
    report(name, ["services", "headscale"], "error", `the fleet already has a Headscale server on '${servers[0]![0]}'`, "run one Headscale server per fleet");
  const inits = [...fleet.hosts].filter(([, h]) => h.services.k3s?.clusterInit);
  for (const [name] of inits.slice(1))
    report(name, ["services", "k3s", "clusterInit"], "error", `'${inits[0]![0]}' already initialises the k3s cluster`, "set clusterInit on exactly one server");
  for (const [name, host] of fleet.hosts) {
    const k = host.services.k3s;
    if (k && !k.clusterInit && !k.serverAddr && inits.length === 0)
      report(name, ["services", "k3s"], "error", "no k3s server to join: no host has clusterInit and serverAddr is not set", "set clusterInit: true on one server, or serverAddr");
    const t = host.services.tailscale;
    if (t && !t.loginServer && servers.length === 0)
      report(name, ["services", "tailscale", "loginServer"], "error", "no coordination server: no host runs headscale and loginServer is not set", "add services.headscale to one host or set loginServer");
  }
}

function secretRules(fleet: Fleet, report: Report, fleetReport: (path: YamlPath, message: string, hint?: string) => void) {
  for (const [name, c] of Object.entries(fleet.secrets.custom))
    c.hosts.forEach((h, i) => {
      if (!fleet.hosts.has(h))
        fleetReport(["secrets", "custom", name, "hosts", i], `no host '${h}' in the fleet`, didYouMean(h, [...fleet.hosts.keys()]) ?? "list hosts of this fleet");
    });
  // Admins' ed25519 login keys double as secret recipients, so they must be real keys.
  for (const a of adminRecipientInputs(fleet.admins)) {
    const r = parseRecipient(a.text);
    if (!r.ok) fleetReport(a.path, `this key ${r.reason}`, "paste the whole line of the admin's ~/.ssh/id_ed25519.pub");
  }
  const planned = planSecrets(fleet, [...fleet.hosts.keys()].map((h) => hostSecretNeeds(fleet, h)));
  if (planned.length && adminRecipientInputs(fleet.admins).length === 0)
    fleetReport(["admins"], "no admin has an age or ssh-ed25519 key, so nobody could read, rekey or recover the fleet's secrets",
      "add admins.<you>.ageKeys with the recipient `hearth secrets keygen` prints, or an ssh-ed25519 key under sshKeys");
  // A RAM-only host decrypts with its SSH host key; in RAM that key would change at every boot.
  const readers = new Set(planned.flatMap((s) => s.readers));
  for (const [name, host] of fleet.hosts) {
    if (host.storage.secretsDir && !mountHolding(host, host.storage.secretsDir))
      report(name, ["storage", "secretsDir"], "error", `${host.storage.secretsDir} is on none of the host's volumes, so it would not survive a reboot`,
        "choose a directory below the mountpoint of one of storage.volumes");
    // A class node's key comes from its identity drive at every boot (see imageRules).
    if (host.ephemeral && readers.has(name) && !host.sshHostKey && !host.image && !persistentSecretsDir(host))
      report(name, ["storage"], "error", "this RAM-only host decrypts secrets with its SSH host key, but has no persistent place to keep that key",
        "add a volume, subvolume or dataset named 'secrets' (seed 001's /var/mnt/secrets), or set storage.secretsDir to a directory on a volume");
  }
}

function meshRules(
  fleet: Fleet,
  services: Map<string, PlannedService[]>,
  report: Report,
  fleetReport: (path: YamlPath, message: string, hint?: string, severity?: Issue["severity"]) => void,
) {
  const plan = planMesh(fleet);
  for (const f of plan?.findings ?? []) {
    if (f.host) report(f.host, f.path, f.severity, f.message, f.hint);
    else fleetReport(f.path, f.message, f.hint, f.severity);
  }
  for (const [name, host] of fleet.hosts)
    for (const s of services.get(name)!)
      if ((s.cfg as { address?: string }).address === "mesh" && !isMember(fleet, host))
        report(name, ["services", s.role, "address"], "error", "`address: mesh` binds to the mesh address, but this host is not in a mesh",
          fleet.mesh ? "remove mesh.enable: false from this host" : "add a mesh to fleet.yaml (mesh: { type: wireguard })");
}

/**
 * Node classes (fleet.yaml `images:`) and the hosts that boot them: each class needs keys to
 * trust and media its hardware boots; each of its hosts the class's system and hardware, RAM-only,
 * with the SSH host key hearth made (it goes on the identity drive).
 */
function imageRules(
  fleet: Fleet,
  report: Report,
  fleetReport: (path: YamlPath, message: string, hint?: string, severity?: Issue["severity"]) => void,
  hasField: (host: string, path: YamlPath) => boolean,
) {
  const classes = Object.keys(fleet.images);
  const keys = fleet.signing?.publicKeys ?? [];
  const meshPrefix = classes.length ? planMesh(fleet)?.ipv4 : undefined;
  for (const [name, cls] of Object.entries(fleet.images)) {
    if (keys.length === 0)
      fleetReport(["images", name], `class '${name}' has no key to trust: signing.publicKeys is empty, so its nodes would accept no configuration`,
        "run `hearth signing init`, which makes the signing key and lists its public key under signing.publicKeys");
    const p = PROFILES[cls.hardware];
    if (p.system !== cls.system)
      fleetReport(["images", name, "system"], `hardware '${cls.hardware}' is ${p.system}, but the class's system is ${cls.system}`, `set system: ${p.system}`);
    cls.formats.forEach((f, i) => {
      if (f === "disk" && p.loader !== "systemd-boot")
        fleetReport(["images", name, "formats", i], `the A/B disk image boots with systemd-boot from UEFI, and hardware '${cls.hardware}' boots with ${p.loader === "extlinux" ? "its firmware and U-Boot (extlinux)" : "GRUB (BIOS)"}`,
          "use kexec, netboot or iso for this class, or a UEFI hardware profile (generic-x86-uefi, hetzner-dedicated, qemu-vm)");
      if (f === "iso" && p.piFirmware)
        fleetReport(["images", name, "formats", i], "a Raspberry Pi's firmware does not boot an ISO image", "use kexec or netboot for a class of Raspberry Pis");
      if (cls.formats.indexOf(f) !== i) fleetReport(["images", name, "formats", i], `format ${f} is listed twice`, "list each format once", "warning");
    });
    // The image holds no mesh key (those are each host's secrets): its first pull cannot use the mesh.
    const serverHost = /^https?:\/\/([0-9.]+)(:[0-9]+)?(\/|$)/.exec(cls.server)?.[1];
    if (meshPrefix && serverHost && /^\d+\.\d+\.\d+\.\d+$/.test(serverHost) && offsetIn(parsePrefix4(meshPrefix), serverHost) !== undefined)
      fleetReport(["images", name, "server"], `${serverHost} is a mesh address, but the class image has no mesh key: a node can reach it only after its first pull`,
        "name the server by an address the nodes reach without the mesh (LAN or public); the hosts' own configurations may still use the mesh", "warning");
    if (fleet.hosts.has(imageAttr(name)))
      fleetReport(["images", name], `the flake names this class's image nixosConfigurations.${imageAttr(name)}, which is also the name of a host`, `rename the class or host '${imageAttr(name)}'`);
  }
  for (const [name, host] of fleet.hosts) {
    if (host.image === undefined) continue;
    const cls = fleet.images[host.image];
    if (!cls) {
      report(name, ["image"], "error", `no class '${host.image}' under images: in fleet.yaml`,
        didYouMean(host.image, classes) ?? (classes.length ? `one of: ${classes.join(", ")}` : "define the class under images: in fleet.yaml"));
      continue;
    }
    const at = (field: string): YamlPath => (hasField(name, [field]) ? [field] : ["image"]);
    if (host.system !== cls.system)
      report(name, at("system"), "error", `class '${host.image}' is built for ${cls.system}, but this host is ${host.system}`, `set system: ${cls.system}, or use a class built for ${host.system}`);
    if (host.hardware !== cls.hardware)
      report(name, at("hardware"), "error", `class '${host.image}' is built for hardware '${cls.hardware}', but this host is '${host.hardware}'`, `set hardware: ${cls.hardware}, or use a class for ${host.hardware}`);
    if (!host.ephemeral)
      report(name, at("ephemeral"), "error", "a host that boots a class image runs from RAM: its configuration is switched to in the image, never installed",
        "set ephemeral: true, or remove image: to install the host from its own media");
    if (host.sshHostKey)
      report(name, ["sshHostKey"], "error", "a class node gets its SSH host key from its identity drive, which hearth writes with the key it made for the host",
        "remove sshHostKey so hearth makes the host's key");
    if (host.storage.secretsDir)
      report(name, ["storage", "secretsDir"], "warning", `ignored: a class node reads its SSH host key from its identity drive at every boot, not from ${host.storage.secretsDir}`, "remove storage.secretsDir");
  }
}
