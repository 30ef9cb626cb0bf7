// The fleet as the server sees it: the files on disk stay the source of truth; every read
// validates them afresh and every edit goes through the same code as the CLI (syncYaml keeps
// comments, the validator decides, writes are atomic).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTwoFilesPatch } from "diff";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { hostSchema } from "../core/schema/fleet.js";
import { instantiateTemplate, syncYaml } from "../core/fleet/edit.js";
import { formatsOf, FORMATS } from "../core/features/formats.js";
import { headscaleServer, neighbours, planMesh, type MeshPlan } from "../core/mesh/plan.js";
import { meshState } from "../core/plan/plan.js";
import type { Issue } from "../core/validate/issues.js";
import type { StatusRow } from "../core/secrets/plan.js";
import { REPO_ROOT, validateFleetDir } from "../node/fleet-dir.js";
import { generate, openStore, status as secretsStatus } from "../node/secrets/store.js";
import { planFleetDir, PlanRefused, readMeshAddresses, writeFlake } from "../node/fleet-plan.js";
import { writeFileAtomic } from "../node/fs-atomic.js";
import { ApiFailure, invalid, notFound } from "./errors.js";
import type { FleetOverview, HostDetail, HostRow, HostUpdateResult, JobSummary, MeshWire, WireIssue } from "./wire.js";

const TEMPLATES = join(REPO_ROOT, "templates");
const wire = (i: Issue): WireIssue => ({ ...i });

export class FleetService {
  constructor(readonly dir: string) {}

  private hostFile(name: string): string {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw notFound(`host '${name}'`);
    for (const ext of ["yaml", "yml"]) if (existsSync(join(this.dir, `hosts/${name}.${ext}`))) return `hosts/${name}.${ext}`;
    throw notFound(`host '${name}'`);
  }

  overview(lastBuilds: Map<string, JobSummary>, nix: FleetOverview["nix"]): FleetOverview {
    const v = validateFleetDir(this.dir);
    const fleetName = v.fleet?.name ?? "(invalid fleet)";
    const issuesByFile = new Map<string, Issue[]>();
    for (const i of v.issues) issuesByFile.set(i.file, [...(issuesByFile.get(i.file) ?? []), i]);
    const hosts: HostRow[] = [];
    if (!v.fleet) {
      for (const f of Object.keys(v.files).filter((f) => f.startsWith("hosts/")))
        hosts.push({ name: f.replace(/^hosts\/|\.ya?ml$/g, ""), file: f, system: "?", hardware: "?", tags: [], ephemeral: false, services: {}, formats: [], status: "error", secrets: { ok: 0, missing: 0, stale: 0 } });
      return { name: fleetName, dir: this.dir, valid: false, issues: v.issues.map(wire), hosts, nix };
    }
    const store = openStore(this.dir, v.fleet);
    const secretsOf = secretsByHost(secretsStatus(store));
    const mesh = planMesh(v.fleet, meshState(store.manifest, readMeshAddresses(this.dir)));
    for (const [name, h] of v.fleet.hosts) {
      const file = v.hostFiles.get(name)!;
      const mine = secretsOf.get(name) ?? [];
      const secrets = { ok: mine.filter((r) => r.state === "ok").length, missing: mine.filter((r) => r.state === "missing").length, stale: mine.filter((r) => r.state !== "ok" && r.state !== "missing").length };
      const fileIssues = issuesByFile.get(file) ?? [];
      const services: Record<string, string> = {};
      for (const [role, cfg] of Object.entries(h.services)) if (cfg) services[role] = String((cfg as { client?: string; kind?: string }).client ?? (cfg as { kind?: string }).kind ?? role);
      const lastBuild = lastBuilds.get(name);
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
        ...(mesh?.byName.get(name) ? { meshAddress: mesh.byName.get(name)!.ipv4 } : {}),
        ...(lastBuild ? { lastBuild } : {}),
        status: fileIssues.some((i) => i.severity === "error") ? "error" : fileIssues.length || secrets.missing || secrets.stale ? "attention" : "ok",
        secrets,
      });
    }
    hosts.sort((a, b) => a.name.localeCompare(b.name));
    return { name: fleetName, dir: this.dir, valid: v.ok, issues: v.issues.map(wire), hosts, nix, ...(mesh ? { mesh: meshWire(mesh, headscaleServer(v.fleet)?.[0]) } : {}) };
  }

  host(name: string): HostDetail {
    const file = this.hostFile(name);
    const yaml = readFileSync(join(this.dir, file), "utf8");
    const v = validateFleetDir(this.dir);
    let secrets: HostDetail["secrets"] = [];
    if (v.fleet) {
      secrets = (secretsByHost(secretsStatus(openStore(this.dir, v.fleet))).get(name) ?? []).map((r) => ({ key: r.key, state: r.state === "unreadable" ? "modified" : r.state, description: r.description, readers: r.readers, ...(r.detail ? { detail: r.detail } : {}), ...(r.fix ? { fix: r.fix } : {}) }));
    }
    return { name, file, yaml, values: parseYaml(yaml) ?? {}, issues: v.issues.filter((i) => i.file === file).map(wire), secrets };
  }

  /** Apply form values to the host file; `dryRun` answers with the diff and findings only. */
  update(name: string, values: unknown, dryRun: boolean): HostUpdateResult {
    const file = this.hostFile(name);
    if (typeof values !== "object" || values === null || Array.isArray(values)) throw invalid("values must be an object of the host file's fields");
    const before = readFileSync(join(this.dir, file), "utf8");
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
    if (!dryRun && after !== before) writeFileAtomic(join(this.dir, file), after);
    return { diff, yaml: after, written: !dryRun && after !== before, issues };
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
    writeFileAtomic(join(this.dir, file), text);
    return this.host(name);
  }

  async generateSecrets(): Promise<{ created: string[] }> {
    const v = validateFleetDir(this.dir);
    if (!v.fleet || !v.ok) throw invalid("the fleet is not valid", v.issues.map(wire));
    const r = await generate(openStore(this.dir, v.fleet));
    return { created: [...r.created, ...r.rotated] };
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

export function meshWire(mesh: MeshPlan, server?: string): MeshWire {
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
    members: mesh.members.map((m) => ({ name: m.name, ipv4: m.ipv4, ...(m.endpoint ? { endpoint: m.endpoint } : {}), hub: m.hub, external: m.external, pinned: m.pinned })),
    links,
  };
}

/** The host file's JSON Schema, for the editor's form. */
export const hostJsonSchema = () => z.toJSONSchema(hostSchema, { io: "input", unrepresentable: "any" });
