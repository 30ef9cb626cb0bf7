// Renaming and deleting a host, planned first (the files to write and remove, the secrets to
// move, the hosts that depend on it) and then applied in an order a crash cannot make
// inconsistent: everything new is written before anything old is removed. The server's fleet
// model runs both; `plan*` is also its dry run.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createTwoFilesPatch } from "diff";
import { parseDocument } from "yaml";
import { setInYaml } from "../core/fleet/edit.js";
import { HOST_FILE } from "../core/fleet/load.js";
import { issueAt } from "../core/fleet/source.js";
import { headscaleServer } from "../core/mesh/plan.js";
import { MANIFEST_FILE } from "../core/secrets/kinds.js";
import { parseManifest, printManifest, type Manifest } from "../core/secrets/manifest.js";
import { fileOf, type StatusRow } from "../core/secrets/plan.js";
import { serviceContext } from "../core/plan/host.js";
import { kindFor, ROLES } from "../core/services/registry.js";
import type { Role } from "../core/services/types.js";
import type { Fleet, Host } from "../core/schema/fleet.js";
import { type Issue, type YamlPath } from "../core/validate/issues.js";
import { readFleetFile, validateFleetDir, type Validated } from "./fleet-dir.js";
import { readMeshAddresses, recordMeshAddresses, writeMeshAddresses } from "./fleet-plan.js";
import { writeFileAtomic } from "./fs-atomic.js";
import { openStore, reencrypt, status, writeRules } from "./secrets/store.js";
import type { LoadedIdentity } from "./secrets/age.js";

/** A place in the fleet's files that names a host. */
export interface HostReference {
  file: string;
  path: YamlPath;
  line?: number;
  /** In words, for the refusal: "fleet.yaml mesh.hubs: it is the mesh hub". */
  what: string;
  /** The other host that depends on it (undefined for fleet.yaml settings). */
  host?: string;
  /** The value to write on a rename (undefined: the reference follows by itself). */
  rewrite?: (to: string) => unknown;
}

export interface HostChangePlan {
  action: "rename" | "delete";
  host: string;
  to?: string;
  /** Fleet files (relative path → new text), written first. */
  writes: Record<string, string>;
  /** Fleet files removed after the writes. */
  removes: string[];
  /** Unified diffs of every fleet file written or removed, for review. */
  diffs: { file: string; diff: string }[];
  /** Secret keys moved (rename) or deleted (delete). */
  secrets: { key: string; to?: string }[];
  /** The host's recorded mesh address (kept under the new name, or freed). */
  meshAddress?: string;
  /** Delete: what depends on the host; any one refuses the delete. Rename: what is rewritten. */
  references: HostReference[];
  /** Findings of the fleet as it would be afterwards (errors refuse the change). */
  issues: Issue[];
  notes: string[];
}

export interface HostChangeResult extends HostChangePlan {
  /** Secrets re-encrypted to their planned recipients afterwards (needs an admin identity). */
  reencrypted: string[];
  /** Secrets still to re-encrypt (no admin identity on the server): `hearth secrets rekey`. */
  stale: string[];
}

/** A change the fleet refuses: the message names what to do, the issues where. */
export class HostChangeRefused extends Error {
  constructor(
    message: string,
    readonly issues: Issue[] = [],
    readonly status: 404 | 409 | 422 = 422,
  ) {
    super(message);
  }
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Validate the fleet directory with some files replaced and some removed, as validateFleetDir
 * does for replacements alone (a removed host file is not read at all).
 */
export function validateFleetChange(dir: string, writes: Record<string, string>, removes: string[] = []): Validated {
  return validateFleetDir(dir, writes, removes);
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** The host part of a URL (`http://beta:5052` → beta), or undefined. */
function urlHost(u: string): string | undefined {
  try {
    return new URL(u).hostname;
  } catch {
    return undefined;
  }
}

/** `u` with its host name `from` (or `from.<domain>`) replaced by `to`. */
function renameInUrl(u: string, from: string, to: string): string {
  const url = new URL(u);
  url.hostname = url.hostname === from ? to : to + url.hostname.slice(from.length);
  // URL adds a trailing slash to a bare origin: keep the text as it was written.
  const out = url.toString();
  return !u.endsWith("/") && out.endsWith("/") && url.pathname === "/" ? out.slice(0, -1) : out;
}

/**
 * Every place in the fleet that names `name` or depends on it: fleet.yaml settings (mesh hubs,
 * the Prometheus and Grafana hosts, custom secrets' readers), other hosts' clients pointed at it
 * (executionHost, beaconNodes), services that join it (a k3s cluster's first server, the
 * Headscale server of a tailnet).
 */
export function hostReferences(v: Validated & { fleet: Fleet }, name: string): HostReference[] {
  const fleet = v.fleet;
  const refs: HostReference[] = [];
  const at = (file: string, path: YamlPath) => {
    const src = v.sources.get(file);
    const line = src ? issueAt(src, path, "error", "").line : undefined;
    return { file, path, ...(line !== undefined ? { line } : {}) };
  };
  const settings = parseDocument(v.files["fleet.yaml"] ?? "").toJS() as Record<string, unknown> | null;
  const mesh = isObj(settings?.mesh) ? settings.mesh : {};
  if (Array.isArray(mesh.hubs))
    mesh.hubs.forEach((h, i) => h === name && refs.push({ ...at("fleet.yaml", ["mesh", "hubs", i]), what: "it is a hub of the mesh (mesh.hubs)", rewrite: (to) => to }));
  const mon = isObj(settings?.monitoring) ? settings.monitoring : {};
  if (isObj(mon.prometheus) && mon.prometheus.host === name) refs.push({ ...at("fleet.yaml", ["monitoring", "prometheus", "host"]), what: "it runs Prometheus (monitoring.prometheus.host)", rewrite: (to) => to });
  if (isObj(mon.grafana) && mon.grafana.host === name) refs.push({ ...at("fleet.yaml", ["monitoring", "grafana", "host"]), what: "it runs Grafana (monitoring.grafana.host)", rewrite: (to) => to });
  const custom = isObj(settings?.secrets) && isObj(settings.secrets.custom) ? settings.secrets.custom : {};
  for (const [secret, c] of Object.entries(custom))
    if (isObj(c) && Array.isArray(c.hosts))
      c.hosts.forEach((h, i) => h === name && refs.push({ ...at("fleet.yaml", ["secrets", "custom", secret, "hosts", i]), what: `it reads the custom secret '${secret}' (secrets.custom.${secret}.hosts)`, rewrite: (to) => to }));

  const hs = fleet.mesh?.type === "headscale" ? headscaleServer(fleet)?.[0] : undefined;
  for (const [other, h] of fleet.hosts) {
    if (other === name) continue;
    const file = v.hostFiles.get(other)!;
    const raw = (parseDocument(v.files[file] ?? "").toJS() ?? {}) as Record<string, unknown>;
    const services = isObj(raw.services) ? raw.services : {};
    for (const role of ["consensus", "validator"] as const) {
      const cfg = services[role];
      if (!isObj(cfg)) continue;
      if (cfg.executionHost === name)
        refs.push({ ...at(file, ["services", role, "executionHost"]), host: other, what: `the ${role} client of ${other} uses its execution client (services.${role}.executionHost)`, rewrite: (to) => to });
      if (Array.isArray(cfg.beaconNodes))
        cfg.beaconNodes.forEach((u, i) => {
          const hn = typeof u === "string" ? urlHost(u) : undefined;
          if (hn === name || (fleet.domain && hn === `${name}.${fleet.domain}`))
            refs.push({ ...at(file, ["services", role, "beaconNodes", i]), host: other, what: `the ${role} client of ${other} uses its beacon node (services.${role}.beaconNodes)`, rewrite: (to) => renameInUrl(u as string, name, to) });
        });
    }
    // Joins that follow the service, not a name written down: a rename needs no edit there.
    const ctx = serviceContext(fleet, other, h);
    for (const role of ROLES) {
      const cfg = h.services[role as keyof Host["services"]] as Record<string, unknown> | undefined;
      if (!cfg) continue;
      if ((kindFor(role as Role, cfg).dependsOn?.(cfg, ctx) ?? []).includes(name))
        refs.push({ ...at(file, ["services", role]), host: other, what: role === "k3s" ? `${other} joins the k3s cluster it started (its k3s server with clusterInit)` : `${other}'s ${role} joins the Headscale server it runs` });
    }
    if (hs === name && h.mesh.enable) refs.push({ ...at(file, ["mesh"]), host: other, what: `${other} is in the tailnet of the Headscale server it runs` });
  }
  return refs;
}

const diffOf = (file: string, before: string, after: string) => createTwoFilesPatch(`a/${file}`, `b/${file}`, before, after);

function readManifest(dir: string): Manifest {
  const r = readFleetFile(dir, MANIFEST_FILE, 16 * 1024 * 1024);
  const { manifest, issues } = parseManifest(r.ok ? r.text : undefined);
  if (issues.length) throw new HostChangeRefused(`${MANIFEST_FILE} cannot be read: ${issues[0]!.message}; restore it from version control`, issues);
  return manifest;
}

/** The host's own secrets: manifest entries and files under secrets/hosts/<name>/. */
function ownSecrets(dir: string, name: string, manifest: Manifest): string[] {
  const keys = new Set(Object.keys(manifest.secrets).filter((k) => k.startsWith(`hosts/${name}/`)));
  const d = join(dir, "secrets", "hosts", name);
  if (existsSync(d)) for (const f of readdirSync(d)) if (f.endsWith(".age")) keys.add(`hosts/${name}/${f.slice(0, -4)}`);
  return [...keys].sort();
}

function current(dir: string): Validated & { fleet: Fleet } {
  const v = validateFleetDir(dir);
  if (!v.fleet) throw new HostChangeRefused("the fleet does not load; fix it first (the findings say where)", v.issues);
  return v as Validated & { fleet: Fleet };
}

function hostFileOf(v: Validated, name: string): string {
  if (!NAME.test(name)) throw new HostChangeRefused(`host '${name}' does not exist`, [], 404);
  const file = v.hostFiles.get(name) ?? Object.keys(v.files).find((f) => HOST_FILE.exec(f)?.[1] === name);
  if (!file) throw new HostChangeRefused(`host '${name}' does not exist`, [], 404);
  return file;
}

/** What renaming `from` to `to` writes, moves and rewrites; throws HostChangeRefused when it cannot. */
export function planRename(dir: string, from: string, to: string): HostChangePlan {
  const v = current(dir);
  const file = hostFileOf(v, from);
  if (!NAME.test(to)) throw new HostChangeRefused(`'${to}' is not a host name: a DNS label of lower-case letters, digits and '-' (at most 63)`);
  if (to === from) throw new HostChangeRefused(`the host is called ${from} already`);
  const ext = file.endsWith(".yml") ? "yml" : "yaml";
  const newFile = `hosts/${to}.${ext}`;
  if (existsSync(join(dir, `hosts/${to}.yaml`)) || existsSync(join(dir, `hosts/${to}.yml`))) throw new HostChangeRefused(`a host ${to} exists already (hosts/${to}.yaml)`, [], 409);
  if (v.fleet.mesh?.type === "wireguard" && to in v.fleet.mesh.external) throw new HostChangeRefused(`${to} is the name of an external mesh machine (mesh.external.${to} in fleet.yaml)`, [], 409);
  const manifest = readManifest(dir);
  if (existsSync(join(dir, "secrets", "hosts", to)) || Object.keys(manifest.secrets).some((k) => k.startsWith(`hosts/${to}/`)))
    throw new HostChangeRefused(`secrets/hosts/${to} exists already (secrets of an earlier host ${to}); remove them first (\`hearth secrets rekey --prune\`)`, [], 409);

  const text = v.files[file]!;
  const renamed = parseDocument(text).has("name") ? setInYaml(text, ["name"], to) : text;
  const writes: Record<string, string> = { [newFile]: renamed };
  const references = hostReferences(v, from);
  for (const r of references) {
    if (!r.rewrite) continue;
    const target = r.file === file ? newFile : r.file;
    writes[target] = setInYaml(writes[target] ?? v.files[target]!, r.path, r.rewrite(to));
  }
  const after = validateFleetChange(dir, writes, [file]);
  const diffs = [{ file: `${file} → ${newFile}`, diff: createTwoFilesPatch(`a/${file}`, `b/${newFile}`, text, renamed) }];
  for (const [f, t] of Object.entries(writes)) if (f !== newFile) diffs.push({ file: f, diff: diffOf(f, v.files[f]!, t) });
  const address = readMeshAddresses(dir)[from] ?? recordedAddress(dir, v, from);
  const notes = [
    `The machine keeps its SSH host key and mesh keys (they move with its secrets), so it needs no new keys; deploy it once so it runs under the new name.`,
    ...(v.fleet.mesh?.type === "headscale" ? [`In the tailnet it shows up under its new name after that deploy (Headscale may keep the old node until it expires).`] : []),
    `Builds, deploys and pull-node history recorded under ${from} stay under that name.`,
  ];
  return {
    action: "rename",
    host: from,
    to,
    writes,
    removes: [file],
    diffs,
    secrets: ownSecrets(dir, from, manifest).map((key) => ({ key, to: `hosts/${to}/${key.slice(`hosts/${from}/`.length)}` })),
    ...(address ? { meshAddress: address } : {}),
    references,
    issues: after.issues,
    notes,
  };
}

/** The mesh address the fleet hands `name` now (recorded or not yet). */
function recordedAddress(dir: string, v: Validated, name: string): string | undefined {
  try {
    return recordMeshAddresses(dir, v)?.plan.byName.get(name)?.ipv4;
  } catch {
    return undefined;
  }
}

/** What deleting `name` removes, and what depends on it (any dependent refuses the delete). */
export function planDelete(dir: string, name: string): HostChangePlan {
  const v = current(dir);
  const file = hostFileOf(v, name);
  const manifest = readManifest(dir);
  const references = v.fleet.hosts.has(name) ? hostReferences(v, name) : [];
  const after = validateFleetChange(dir, {}, [file]);
  const address = readMeshAddresses(dir)[name];
  const h = v.fleet.hosts.get(name);
  const keys = h?.services.validator?.keys ?? [];
  const notes = [
    ...(keys.length ? [`Its ${keys.length} validator key(s) stay in secrets/validators/ (hearth never deletes a validator key); move them with \`hearth validator move\` if they should keep validating.`] : []),
    `Secrets it shared with other hosts are re-encrypted without its key when the server has an admin identity (otherwise \`hearth secrets rekey\`).`,
    `The machine itself is not touched: it keeps running what it last got until you turn it off.`,
  ];
  return {
    action: "delete",
    host: name,
    writes: {},
    removes: [file],
    diffs: [{ file, diff: diffOf(file, v.files[file] ?? "", "") }],
    secrets: ownSecrets(dir, name, manifest).map((key) => ({ key })),
    ...(address ? { meshAddress: address } : {}),
    references,
    issues: after.issues,
    notes,
  };
}

/** Refuse a plan whose fleet would not validate, naming every finding. */
function requireValid(p: HostChangePlan): void {
  const errors = p.issues.filter((i) => i.severity === "error");
  if (errors.length) throw new HostChangeRefused(`the fleet would not be valid after ${p.action === "rename" ? `renaming ${p.host} to ${p.to}` : `deleting ${p.host}`}; nothing was changed`, errors);
}

/** A delete refused by what depends on the host, in one message that names them. */
export function dependentsMessage(name: string, refs: HostReference[]): string {
  const hosts = [...new Set(refs.map((r) => r.host).filter((h): h is string => !!h))].sort();
  const parts = refs.map((r) => `${r.file}${r.line ? `:${r.line}` : ""}: ${r.what}`);
  return `${name} cannot be deleted while ${hosts.length ? `${hosts.join(", ")} depend${hosts.length === 1 ? "s" : ""} on it` : "fleet.yaml names it"}: ${parts.join("; ")}. Change those first; nothing was changed`;
}

/**
 * Rename a host: its file (with `name:`), the references to it, its secrets (files and manifest
 * entries, same ciphertext: recipients are keys, not names) and its recorded mesh address.
 * Order: new secrets and address entries, the new host file and rewritten references, then the
 * old file, secrets and address entry go. A crash in between leaves both names (a superset),
 * never a host without its secrets.
 */
export async function applyRename(dir: string, from: string, to: string, identities?: LoadedIdentity[]): Promise<HostChangeResult> {
  const p = planRename(dir, from, to);
  requireValid(p);
  // Addresses are recorded before anything moves, so no host is renumbered by the rename.
  const before = current(dir);
  if (before.ok) recordMeshAddresses(dir, before);
  const addresses = readMeshAddresses(dir);
  if (addresses[from]) writeMeshAddresses(dir, { ...addresses, [to]: addresses[from]! });

  const manifest = readManifest(dir);
  for (const s of p.secrets) {
    const src = join(dir, fileOf(s.key));
    if (existsSync(src)) writeFileAtomic(join(dir, fileOf(s.to!)), readFileSync(src), 0o600);
    if (manifest.secrets[s.key]) manifest.secrets[s.to!] = { ...manifest.secrets[s.key]! };
  }
  writeFileAtomic(join(dir, MANIFEST_FILE), printManifest(manifest));

  const newFile = Object.keys(p.writes).find((f) => HOST_FILE.exec(f)?.[1] === to)!;
  writeFileAtomic(join(dir, newFile), p.writes[newFile]!);
  for (const [f, t] of Object.entries(p.writes)) if (f !== newFile) writeFileAtomic(join(dir, f), t);
  for (const f of p.removes) rmSync(join(dir, f), { force: true });

  for (const s of p.secrets) delete manifest.secrets[s.key];
  writeFileAtomic(join(dir, MANIFEST_FILE), printManifest(manifest));
  for (const s of p.secrets) rmSync(join(dir, fileOf(s.key)), { force: true });
  removeEmptyDir(join(dir, "secrets", "hosts", from));
  const now = readMeshAddresses(dir);
  if (from in now) {
    delete now[from];
    writeMeshAddresses(dir, now);
  }
  return { ...p, ...(await settleSecrets(dir, (r) => r.readers.includes(to) || r.key.startsWith(`hosts/${to}/`), identities)) };
}

/**
 * Delete a host: its file, its own secrets and its mesh address; secrets it shared with other
 * hosts are re-encrypted without it when an identity is at hand. `confirm` must be its name.
 */
export async function applyDelete(dir: string, name: string, confirm: string, identities?: LoadedIdentity[]): Promise<HostChangeResult> {
  const p = planDelete(dir, name);
  if (p.references.length) throw new HostChangeRefused(dependentsMessage(name, p.references), p.references.map((r) => ({ severity: "error" as const, file: r.file, path: r.path, ...(r.line ? { line: r.line } : {}), message: r.what })), 409);
  if (confirm !== name) throw new HostChangeRefused(`type the host's name (${name}) to confirm the delete; nothing was changed`);
  requireValid(p);
  // The secrets it shared with other hosts: re-encrypted without its key afterwards.
  const v = current(dir);
  const shared = new Set(status(openStore(dir, v.fleet)).filter((r) => r.readers.includes(name) && !r.key.startsWith(`hosts/${name}/`)).map((r) => r.key));
  for (const f of p.removes) rmSync(join(dir, f), { force: true });
  const addresses = readMeshAddresses(dir);
  if (name in addresses) {
    delete addresses[name];
    writeMeshAddresses(dir, addresses);
  }
  const manifest = readManifest(dir);
  for (const s of p.secrets) rmSync(join(dir, fileOf(s.key)), { force: true });
  for (const s of p.secrets) delete manifest.secrets[s.key];
  writeFileAtomic(join(dir, MANIFEST_FILE), printManifest(manifest));
  removeEmptyDir(join(dir, "secrets", "hosts", name));
  return { ...p, ...(await settleSecrets(dir, (r) => shared.has(r.key), identities)) };
}

function removeEmptyDir(d: string): void {
  try {
    if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
  } catch {
    // Something else was put there: it stays.
  }
}

/**
 * After a change: agenix's rules for the new plan, and the secrets whose recipients no longer
 * match it (shared ones a deleted host read; those a renamed host reads) re-encrypted when an
 * admin identity is at hand, else listed for `hearth secrets rekey`.
 */
export async function settleSecrets(dir: string, concerns: (r: StatusRow) => boolean, identities?: LoadedIdentity[]): Promise<{ reencrypted: string[]; stale: string[] }> {
  const v = validateFleetDir(dir);
  if (!v.fleet) return { reencrypted: [], stale: [] };
  const s = openStore(dir, v.fleet);
  writeRules(s);
  const stale = status(s)
    .filter((r) => r.state === "stale" && !r.detail?.startsWith("waits for"))
    .filter(concerns)
    .map((r) => r.key);
  if (!stale.length || !identities?.length) return { reencrypted: [], stale };
  return { reencrypted: await reencrypt(s, stale, identities), stale: [] };
}
