// The fleet as the server sees it: the files on disk stay the source of truth; every read
// validates them afresh and every edit goes through the same code as the CLI (syncYaml keeps
// comments, the validator decides, writes are atomic).
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createTwoFilesPatch } from "diff";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { fleetSchema, hostSchema } from "../core/schema/fleet.js";
import { instantiateTemplate, mergeYaml, syncYaml } from "../core/fleet/edit.js";
import { HOST_FILE } from "../core/fleet/load.js";
import { formatsOf, FORMATS } from "../core/features/formats.js";
import { headscaleServer, neighbours, type MeshPlan } from "../core/mesh/plan.js";
import type { Issue } from "../core/validate/issues.js";
import type { StatusRow } from "../core/secrets/plan.js";
import { REPO_ROOT, validateFleetDir, type Validated } from "../node/fleet-dir.js";
import { generate, invalidHostFiles, openStore, status as secretsStatus } from "../node/secrets/store.js";
import { planFleetDir, PlanRefused, recordMeshAddresses, writeFlake } from "../node/fleet-plan.js";
import { writeFileAtomic } from "../node/fs-atomic.js";
import { ApiFailure, invalid, notFound } from "./errors.js";
import { applyDelete, applyRename, HostChangeRefused, planDelete, planRename, type HostChangePlan, type HostChangeResult } from "../node/fleet-hosts.js";
import { generateForHost, rotatable, rotationNotes } from "../node/secrets/host-secrets.js";
import { loadIdentityFile, SecretError, type LoadedIdentity } from "../node/secrets/age.js";
import { clientSwitches } from "../node/client-switch.js";
import { fillTemplate, instructionsOf, placeholderIssues, templateFields } from "../node/new-host.js";
import type {
  FleetOverview,
  FleetSettingsDetail,
  HostChangeWire,
  HostConflict,
  HostDetail,
  HostEditResult,
  HostRow,
  HostSecretsResult,
  HostUpdateResult,
  MeshWire,
  NewHostRequest,
  NewHostResult,
  TemplateDetail,
  WireIssue,
} from "./wire.js";

const TEMPLATES = join(REPO_ROOT, "templates");
export type FleetBase = Omit<FleetOverview, "nix">;
const wire = (i: Issue): WireIssue => ({ ...i });

/**
 * The fleet's files turned into what the API answers. Synchronous and CPU-heavy (validating and
 * planning 1,000 hosts takes about a second): it runs in the fleet worker (fleet-worker.ts), never
 * on the server's event loop. Results are shared until a file changes: the server's file watcher
 * counts changes (`generation`), and the mtimes of the fleet's directories (which every atomic
 * write, a rename, changes) are compared on each read in case an event is missed.
 */
export class FleetModel {
  private memo?: { key: string; v: Validated; overview?: FleetBase };
  /** Changes seen by the server's watcher, sent with every call. */
  generation = 0;
  /** Set when a call wrote to the fleet: the server bumps its generation. */
  wrote = false;

  constructor(readonly dir: string) {}

  private fingerprint(): string {
    return fleetFingerprint(this.dir, this.generation);
  }

  /** The fleet as validated now (shared by requests until a file changes). */
  private validated(): Validated {
    const key = this.fingerprint();
    if (this.memo?.key !== key) this.memo = { key, v: validateFleetDir(this.dir) };
    return this.memo.v;
  }

  /** After a write through this model: the next read validates afresh. */
  private changed(): void {
    this.generation++;
    this.wrote = true;
  }

  /**
   * The overview as the files make it (builds and the Nix status are added by the server), and
   * the state of the files it describes.
   */
  overview(): { key: string; base: FleetBase } {
    const v = this.validated();
    const memo = this.memo!;
    if (!memo.overview) {
      memo.overview = this.computeOverview(v);
      // Recording new mesh addresses writes mesh/addresses.json: the state read above is still current.
      memo.key = this.fingerprint();
    }
    return { key: memo.key, base: memo.overview };
  }

  private hostFile(name: string): string {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw notFound(`host '${name}'`);
    for (const ext of ["yaml", "yml"]) if (existsSync(join(this.dir, `hosts/${name}.${ext}`))) return `hosts/${name}.${ext}`;
    throw notFound(`host '${name}'`);
  }

  /** The overview as the files alone make it (builds and the Nix status are added per request). */
  private computeOverview(v: Validated): FleetBase {
    const fleetName = v.fleet?.name ?? "(invalid fleet)";
    const issuesByFile = new Map<string, Issue[]>();
    for (const i of v.issues) issuesByFile.set(i.file, [...(issuesByFile.get(i.file) ?? []), i]);
    const fileIssues = (file: string) => (issuesByFile.get(file) ?? []).map(wire);
    const hosts: HostRow[] = [];
    // A host whose file does not load stays in the list, with its errors, never silently dropped.
    const invalid = invalidHostFiles(v);
    const unknownSecrets = { ok: 0, missing: 0, stale: 0, unknown: 0 };
    for (const [name, file] of v.fleet ? invalid : hostFilesOf(v.files))
      hosts.push({ name, file, system: "?", hardware: "?", tags: [], ephemeral: false, services: {}, formats: [], status: "error", invalid: true, issues: fileIssues(file), secrets: { ...unknownSecrets } });
    if (!v.fleet) return { name: fleetName, dir: this.dir, valid: false, issues: v.issues.map(wire), hosts };
    const store = openStore(this.dir, v.fleet, invalid);
    const rows = secretsStatus(store);
    const secretsOf = secretsByHost(rows);
    for (const r of hosts) r.secrets.unknown = (secretsOf.get(r.name) ?? []).length;
    // New mesh addresses are recorded as they are shown, so a new host never renumbers the others.
    const mesh = recordMeshAddresses(this.dir, v, store);
    for (const [name, h] of v.fleet.hosts) {
      const file = v.hostFiles.get(name)!;
      const mine = secretsOf.get(name) ?? [];
      const count = (f: (r: StatusRow) => boolean) => mine.filter(f).length;
      const secrets = { ok: count((r) => r.state === "ok"), missing: count((r) => r.state === "missing"), stale: count((r) => !["ok", "missing", "unknown"].includes(r.state)), unknown: count((r) => r.state === "unknown") };
      const issues = fileIssues(file);
      const services: Record<string, string> = {};
      for (const [role, cfg] of Object.entries(h.services)) if (cfg) services[role] = String((cfg as { client?: string; kind?: string }).client ?? (cfg as { kind?: string }).kind ?? role);
      const member = mesh?.plan.byName.get(name);
      hosts.push({
        name,
        file,
        ...(h.description ? { description: h.description } : {}),
        system: h.system,
        hardware: h.hardware,
        tags: h.tags,
        ephemeral: h.ephemeral,
        services,
        formats: formatsOf(h),
        ...(member ? { meshAddress: member.ipv4, ...(mesh!.provisional.has(name) ? { meshProvisional: true } : {}) } : {}),
        status: issues.some((i) => i.severity === "error") ? "error" : issues.length || secrets.missing || secrets.stale ? "attention" : "ok",
        ...(issues.length ? { issues } : {}),
        secrets,
      });
    }
    hosts.sort((a, b) => a.name.localeCompare(b.name));
    return { name: fleetName, dir: this.dir, valid: v.ok, issues: v.issues.map(wire), hosts, ...(mesh ? { mesh: meshWire(mesh.plan, headscaleServer(v.fleet)?.[0], mesh.provisional) } : {}) };
  }

  /** Record the mesh addresses of the fleet as it is (before a host is added, say). */
  private persistMesh(): void {
    const v = this.validated();
    if (v.fleet && v.ok) recordMeshAddresses(this.dir, v);
  }

  host(name: string): HostDetail {
    const file = this.hostFile(name);
    const bytes = readFileSync(join(this.dir, file));
    const yaml = bytes.toString("utf8");
    const v = this.validated();
    let secrets: HostDetail["secrets"] = [];
    if (v.fleet) {
      const rows = secretsStatus(openStore(this.dir, v.fleet, invalidHostFiles(v)));
      secrets = (secretsByHost(rows).get(name) ?? []).map((r) => ({ key: r.key, state: r.state === "unreadable" ? "modified" : r.state, description: r.description, readers: r.readers, ...(r.detail ? { detail: r.detail } : {}), ...(r.fix ? { fix: r.fix } : {}) }));
    }
    let values: unknown = {};
    try {
      values = parseYaml(yaml) ?? {};
    } catch {
      // Not YAML at all: the issues say where; the form starts empty.
    }
    return { name, file, yaml, values, version: versionOf(bytes), issues: v.issues.filter((i) => i.file === file).map(wire), secrets };
  }

  /**
   * Apply form values to the host file; `dryRun` answers with the diff and findings only. A write
   * needs `version` (HostDetail.version; 428 without it): a file that changed since answers 409
   * (HostConflict) and nothing is written, so a save never undoes a change made on disk. A client
   * switch (consensus lighthouse → teku) is answered with what happens to the old client's data.
   */
  update(name: string, values: unknown, dryRun: boolean, base: { version?: string; yaml?: string } = {}): HostEditResult {
    const file = this.hostFile(name);
    const { result, after } = this.editFile(file, values, dryRun, base, `GET /api/hosts/${name}`);
    const switches = clientSwitches(name, this.validated(), values, after);
    return switches.length ? { ...result, clientSwitches: switches } : result;
  }

  /** fleet.yaml for the settings form. */
  fleetSettings(): FleetSettingsDetail {
    const file = "fleet.yaml";
    if (!existsSync(join(this.dir, file))) throw notFound("fleet.yaml");
    const bytes = readFileSync(join(this.dir, file));
    const yaml = bytes.toString("utf8");
    const v = this.validated();
    return { file, yaml, values: safeParse(yaml), version: versionOf(bytes), issues: v.issues.filter((i) => i.file === file).map(wire) };
  }

  /** Apply the settings form's values to fleet.yaml: as `update` does for a host file. */
  updateFleet(values: unknown, dryRun: boolean, base: { version?: string; yaml?: string } = {}): HostUpdateResult {
    if (!existsSync(join(this.dir, "fleet.yaml"))) throw notFound("fleet.yaml");
    return this.editFile("fleet.yaml", values, dryRun, base, "GET /api/fleet/settings").result;
  }

  /** One fleet file from form values: comments kept, validated, version-checked, written atomically. */
  private editFile(file: string, values: unknown, dryRun: boolean, base: { version?: string; yaml?: string }, getter: string): { result: HostUpdateResult; after: Validated } {
    if (typeof values !== "object" || values === null || Array.isArray(values)) throw invalid(`values must be an object of ${file}'s fields`);
    // A host file has hundreds of values; the YAML library's maps grow in quadratic time, so a
    // hostile 40,000-key save would hold the server for a minute. Refused before any work.
    const n = countValues(values, MAX_HOST_VALUES);
    if (n > MAX_HOST_VALUES) throw invalid(`the values hold more than ${MAX_HOST_VALUES} entries; ${file} is far smaller: nothing was written`);
    // A write must say what it started from: without it, a save could undo a change made on disk.
    if (!dryRun && base.version === undefined)
      throw new ApiFailure(428, "precondition_required", `send the version the edit started from (${getter} answers it as \`version\` and as the ETag) in \`version\` or If-Match; nothing was written`);
    const bytes = readFileSync(join(this.dir, file));
    const before = bytes.toString("utf8");
    if (base.version !== undefined && base.version !== versionOf(bytes)) throw this.conflict(file, values as Record<string, unknown>, before, versionOf(bytes), base);
    let after: string;
    try {
      after = syncYaml(before, values as Record<string, unknown>);
    } catch (e) {
      throw invalid(`${file}: ${(e as Error).message}`);
    }
    const v = validateFleetDir(this.dir, { [file]: after });
    const issues = v.issues.map(wire);
    const diff = createTwoFilesPatch(`a/${file}`, `b/${file}`, before, after);
    const errors = v.issues.some((i) => i.severity === "error");
    if (!dryRun && errors) throw invalid(`${file} would not be valid; nothing was written`, issues);
    if (!dryRun && after !== before) {
      writeFileAtomic(join(this.dir, file), after);
      this.changed();
    }
    return { result: { diff, yaml: after, written: !dryRun && after !== before, version: versionOf(Buffer.from(after, "utf8")), issues }, after: v };
  }

  private conflict(file: string, values: Record<string, unknown>, current: string, version: string, base: { version?: string; yaml?: string }): HostConflictFailure {
    const body: HostConflict = {
      error: "conflict",
      message: `${file} changed on disk since it was loaded (another editor, a git pull); nothing was written`,
      current: { yaml: current, version, values: safeParse(current) },
    };
    // The base text is trusted only when it is the version the client says it started from.
    if (base.yaml !== undefined && versionOf(Buffer.from(base.yaml, "utf8")) === base.version) {
      try {
        const mine = syncYaml(base.yaml, values);
        body.mine = createTwoFilesPatch(`a/${file}`, `b/${file}`, base.yaml, mine, "as loaded", "your edit");
        body.theirs = createTwoFilesPatch(`a/${file}`, `b/${file}`, base.yaml, current, "as loaded", "on disk now");
        const merged = mergeYaml(base.yaml, values, current);
        body.merged = { yaml: merged.yaml, values: safeParse(merged.yaml), diff: createTwoFilesPatch(`a/${file}`, `b/${file}`, current, merged.yaml, "on disk now", "with your edit") };
        body.overlaps = merged.overlaps;
      } catch {
        // A file that no longer parses: the current text alone has to do.
      }
    }
    return new HostConflictFailure(body);
  }

  templates(): string[] {
    return existsSync(TEMPLATES) ? readdirSync(TEMPLATES).filter((f) => f.endsWith(".yaml")).map((f) => f.slice(0, -5)).sort() : [];
  }

  create(name: string, template: string): HostDetail {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw invalid("host names are DNS labels: lower-case letters, digits and '-'");
    if (!this.templates().includes(template)) throw invalid(`no template '${template}'; available: ${this.templates().join(", ")}`);
    const file = `hosts/${name}.yaml`;
    if (existsSync(join(this.dir, file)) || existsSync(join(this.dir, `hosts/${name}.yml`))) throw new ApiFailure(409, "exists", `${file} exists already`);
    const text = instantiateTemplate(readFileSync(join(TEMPLATES, `${template}.yaml`), "utf8"), name);
    const v = validateFleetDir(this.dir, { [file]: text });
    if (!v.ok) throw invalid(`a host from template '${template}' would not be valid here`, v.issues.map(wire));
    // The others' mesh addresses are recorded first, so the new host takes a free one instead of renumbering them.
    this.persistMesh();
    writeFileAtomic(join(this.dir, file), text);
    this.changed();
    this.persistMesh();
    return this.host(name);
  }

  async generateSecrets(): Promise<{ created: string[] }> {
    const v = this.validated();
    if (!v.fleet || !v.ok) throw invalid("the fleet is not valid", v.issues.map(wire));
    const r = await generate(openStore(this.dir, v.fleet));
    this.changed();
    return { created: [...r.created, ...r.rotated] };
  }

  /** Rename a host (dry run: what would change); its secrets and mesh address move with it. */
  async renameHost(name: string, to: string, dryRun: boolean, identityFiles?: string[]): Promise<HostChangeWire> {
    return this.hostChange(async () => {
      if (dryRun) return changeWire(planRename(this.dir, name, to));
      const r = await applyRename(this.dir, name, to, await loadIdentities(identityFiles));
      this.changed();
      return changeWire(r);
    });
  }

  /** Delete a host after its name was typed; refused while other hosts depend on it. */
  async deleteHost(name: string, confirm: string | undefined, dryRun: boolean, identityFiles?: string[]): Promise<HostChangeWire> {
    return this.hostChange(async () => {
      if (dryRun) return changeWire(planDelete(this.dir, name));
      const r = await applyDelete(this.dir, name, confirm ?? "", await loadIdentities(identityFiles));
      this.changed();
      return changeWire(r);
    });
  }

  private async hostChange(run: () => Promise<HostChangeWire>): Promise<HostChangeWire> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof HostChangeRefused) {
        // A write may have happened before a later step failed: the next read validates afresh.
        this.changed();
        if (e.status === 404) throw notFound(e.message.replace(/ does not exist$/, ""));
        throw new ApiFailure(e.status, e.status === 409 ? "conflict" : "invalid", e.message, e.issues.map(wire));
      }
      if (e instanceof SecretError) {
        this.changed();
        throw invalid(e.message);
      }
      throw e;
    }
  }

  /** One host's secrets: generate what it lacks, or rotate one of its own (`rotate`: a key). */
  async hostSecrets(name: string, rotate: string | undefined, identityFiles?: string[]): Promise<HostSecretsResult> {
    this.hostFile(name);
    const v = this.validated();
    if (!v.fleet || !v.ok) throw invalid("the fleet is not valid; fix the findings first", v.issues.map(wire));
    if (!v.fleet.hosts.has(name)) throw invalid(`${this.hostFile(name)} does not load`, v.issues.map(wire));
    try {
      const s = openStore(this.dir, v.fleet);
      const r = await generateForHost(s, name, rotate, rotate ? await loadIdentities(identityFiles) : undefined);
      this.changed();
      return { created: r.created, rotated: r.rotated, stale: r.stale, unset: r.unset, reencrypted: r.reencrypted, notes: r.notes, rotatable: rotatable(s, name) };
    } catch (e) {
      this.changed();
      if (e instanceof SecretError) throw invalid(e.message);
      throw e;
    }
  }

  /** The secrets of a host that can be rotated from the UI, with what a rotation means. */
  hostRotatable(name: string): { key: string; notes: string[] }[] {
    this.hostFile(name);
    const v = this.validated();
    if (!v.fleet?.hosts.has(name)) return [];
    const s = openStore(this.dir, v.fleet, invalidHostFiles(v));
    return rotatable(s, name).map((key) => ({ key, notes: rotationNotes(s, name, key) }));
  }

  /** A template: its instructions (leading comments), text, and the fields the new-node form asks for. */
  template(name: string): TemplateDetail {
    if (!this.templates().includes(name)) throw notFound(`template '${name}'`);
    const yaml = readFileSync(join(TEMPLATES, `${name}.yaml`), "utf8");
    return { name, instructions: instructionsOf(yaml), yaml, values: safeParse(yaml), fields: templateFields(yaml) };
  }

  /**
   * The guided new node: the template with the essentials filled in, validated with the fleet and
   * checked for placeholders left (CHANGE_ME); created only when neither finds an error.
   */
  newHost(req: NewHostRequest): NewHostResult {
    const name = String(req.name ?? "");
    const template = String(req.template ?? "");
    if (!this.templates().includes(template)) throw invalid(`no template '${template}'; available: ${this.templates().join(", ")}`);
    const file = `hosts/${name || "NAME"}.yaml`;
    const issues: WireIssue[] = [];
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name))
      issues.push({ severity: "error", file, path: ["name"], message: name ? `'${name}' is not a host name` : "the host needs a name", hint: "a DNS label: lower-case letters, digits and '-', at most 63" });
    else if (existsSync(join(this.dir, `hosts/${name}.yaml`)) || existsSync(join(this.dir, `hosts/${name}.yml`)))
      issues.push({ severity: "error", file, path: ["name"], message: `a host ${name} exists already`, hint: "choose another name" });
    const set = Array.isArray(req.set) ? req.set.filter((s) => s && Array.isArray(s.path) && s.path.length > 0 && s.path.every((p) => typeof p === "string" || typeof p === "number")) : [];
    if (set.length > 200) throw invalid("too many values for a new host");
    let text: string;
    try {
      text = fillTemplate(readFileSync(join(TEMPLATES, `${template}.yaml`), "utf8"), name || "new-host", set.filter((s) => !(s.path.length === 1 && s.path[0] === "name")));
    } catch (e) {
      throw invalid(`${file}: ${(e as Error).message}`);
    }
    issues.push(...placeholderIssues(file, text).map(wire));
    const v = validateFleetDir(this.dir, { [file]: text });
    issues.push(...v.issues.filter((i) => !issues.some((j) => j.file === i.file && JSON.stringify(j.path) === JSON.stringify(i.path) && j.message === i.message)).map(wire));
    const errors = issues.some((i) => i.severity === "error");
    if (req.dryRun || errors) {
      if (!req.dryRun) throw invalid(`${file} is not ready: ${issues.filter((i) => i.severity === "error").length} finding(s) to fix; nothing was written`, issues);
      return { name, file, yaml: text, issues, created: false };
    }
    this.persistMesh();
    writeFileAtomic(join(this.dir, file), text);
    this.changed();
    this.persistMesh();
    return { name, file, yaml: text, issues, created: true };
  }

  /** Regenerate the flake and name the attribute that builds `host` in `format`. */
  prepareBuild(host: string, format?: string): { flakeDir: string; attr: string; format: string } {
    let planned;
    try {
      planned = planFleetDir(this.dir, { requireSecrets: true });
    } catch (e) {
      if (e instanceof PlanRefused) throw invalid(e.message, e.issues.map(wire));
      throw e;
    }
    const h = planned.validated.fleet.hosts.get(host);
    if (!h) throw notFound(`host '${host}'`);
    const formats = formatsOf(h);
    const f = format ?? formats[0]!;
    if (!formats.includes(f as never)) throw invalid(`host '${host}' builds ${formats.join(", ")}, not ${f}; add it under boot.formats`);
    const flakeDir = join(this.dir, "flake");
    writeFlake(this.dir, flakeDir, planned.plan);
    return { flakeDir, attr: `${host}-${FORMATS[f as keyof typeof FORMATS].suffix}`, format: f };
  }
}

/** A host's secrets: its own (`hosts/<name>/…`) and the ones it reads; indexed once per request. */
function secretsByHost(rows: StatusRow[]): Map<string, StatusRow[]> {
  const by = new Map<string, StatusRow[]>();
  const add = (host: string, r: StatusRow) => {
    const list = by.get(host) ?? [];
    if (list[list.length - 1] !== r) list.push(r);
    by.set(host, list);
  };
  for (const r of rows) {
    const owner = /^hosts\/([^/]+)\//.exec(r.key)?.[1];
    if (owner) add(owner, r);
    for (const h of r.readers) add(h, r);
  }
  return by;
}

export function meshWire(mesh: MeshPlan, server?: string, provisional: Set<string> = new Set()): MeshWire {
  const links: [string, string][] = [];
  if (mesh.type === "wireguard") {
    for (const m of mesh.members) for (const n of neighbours(mesh.settings, mesh.byName, m)) if (m.name < n.name) links.push([m.name, n.name]);
  } else {
    for (const m of mesh.members) if (server && m.name !== server) links.push([server, m.name]);
  }
  return {
    type: mesh.type,
    interface: mesh.interface,
    ipv4: mesh.ipv4,
    topology: mesh.settings.topology,
    members: mesh.members.map((m) => ({ name: m.name, ipv4: m.ipv4, ...(m.endpoint ? { endpoint: m.endpoint } : {}), hub: m.hub, external: m.external, pinned: m.pinned, ...(provisional.has(m.name) ? { provisional: true } : {}) })),
    links,
  };
}

/** The state of a fleet's files as far as the cache can tell without reading them. */
export function fleetFingerprint(dir: string, generation: number): string {
  const parts = [String(generation)];
  for (const d of [".", "hosts", "secrets", "secrets/hosts", "secrets/fleet", "secrets/custom", "mesh"]) {
    try {
      parts.push(String(statSync(join(dir, d)).mtimeMs));
    } catch {
      parts.push("-");
    }
  }
  return parts.join(":");
}

/** Most entries (keys and list items, nested) a host save may hold. */
export const MAX_HOST_VALUES = 5000;

/** Entries in a JSON value, counting stops past `limit`. */
function countValues(v: unknown, limit: number): number {
  let n = 0;
  const stack: unknown[] = [v];
  while (stack.length && n <= limit) {
    const x = stack.pop();
    if (x === null || typeof x !== "object") continue;
    const items = Array.isArray(x) ? x : Object.values(x);
    n += items.length;
    stack.push(...items.slice(0, limit + 1));
  }
  return n;
}

/** A file's version: the sha256 of its bytes (the ETag of GET /api/hosts/:name). */
export const versionOf = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const safeParse = (text: string): unknown => {
  try {
    return parseYaml(text) ?? {};
  } catch {
    return {};
  }
};

/** hosts/<name>.yaml files of a fleet directory's texts, by host name. */
function hostFilesOf(files: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of Object.keys(files).sort()) {
    const m = HOST_FILE.exec(f);
    if (m && !out.has(m[1]!)) out.set(m[1]!, f);
  }
  return out;
}

/** A save refused because the file changed on disk; the route answers 409 with the body. */
export class HostConflictFailure extends ApiFailure {
  constructor(readonly body: HostConflict) {
    super(409, "conflict", body.message);
  }
}

/** The host file's JSON Schema, for the editor's form. */
let schemaMemo: unknown;
/** The host file's JSON Schema (built once: it depends on hearth's code only). */
export const hostJsonSchema = () => (schemaMemo ??= z.toJSONSchema(hostSchema, { io: "input", unrepresentable: "any" }));

/** The identities the server decrypts with, loaded in this thread from their files. */
async function loadIdentities(files?: string[]): Promise<LoadedIdentity[] | undefined> {
  if (!files?.length) return undefined;
  const out: LoadedIdentity[] = [];
  for (const f of files) out.push(...(await loadIdentityFile(f)));
  return out;
}

/** A rename or delete plan (or its result) as the API answers it. */
function changeWire(p: HostChangePlan | HostChangeResult): HostChangeWire {
  return {
    action: p.action,
    host: p.host,
    ...(p.to ? { to: p.to } : {}),
    writes: Object.keys(p.writes),
    removes: p.removes,
    diffs: p.diffs,
    secrets: p.secrets,
    ...(p.meshAddress ? { meshAddress: p.meshAddress } : {}),
    references: p.references.map((r) => ({ file: r.file, path: r.path, ...(r.line !== undefined ? { line: r.line } : {}), what: r.what, ...(r.host ? { host: r.host } : {}), rewritten: !!r.rewrite })),
    issues: p.issues.map(wire),
    notes: p.notes,
    ...("reencrypted" in p ? { done: true, reencrypted: p.reencrypted, stale: p.stale } : { done: false }),
  };
}

let fleetSchemaMemo: unknown;
/** fleet.yaml's JSON Schema, for the fleet settings form (built once, like the host's). */
export const fleetJsonSchema = () => (fleetSchemaMemo ??= z.toJSONSchema(fleetSchema, { io: "input", unrepresentable: "any" }));
