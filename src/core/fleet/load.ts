// From the fleet directory's texts to a typed Fleet, collecting every schema finding with
// its position (the file reading itself happens outside the core).
import { z } from "zod";
import { fleetSchema, hostSchema, type Fleet, type Host } from "../schema/fleet.js";
import { isHostName } from "../schema/common.js";
import { SMTP_PASSWORD_SECRET } from "../schema/monitoring.js";
import { didYouMean, type Issue, type YamlPath } from "../validate/issues.js";
import { issueAt, parseSource, type SourceFile } from "./source.js";

export interface FleetFiles {
  /** Relative path → text, e.g. `fleet.yaml`, `hosts/alpha.yaml`, `extra/tweaks.nix`. */
  [file: string]: string;
}

export interface Loaded {
  fleet?: Fleet;
  sources: Map<string, SourceFile>;
  /** host name → its file */
  hostFiles: Map<string, string>;
  issues: Issue[];
  files: FleetFiles;
}

export const HOST_FILE = /^hosts\/([^/]+)\.ya?ml$/;

export function loadFleet(files: FleetFiles): Loaded {
  const issues: Issue[] = [];
  const sources = new Map<string, SourceFile>();
  const hostFiles = new Map<string, string>();
  const parse = (file: string) => {
    const r = parseSource(file, files[file]!);
    sources.set(file, r.source);
    issues.push(...r.issues);
    return r.issues.some((i) => i.severity === "error") ? undefined : r.source;
  };

  if (files["fleet.yaml"] === undefined) {
    issues.push({ severity: "error", file: "fleet.yaml", path: [], message: "fleet.yaml is missing", hint: "create fleet.yaml with at least `name: my-fleet`, or run `hearth init`" });
    return { sources, hostFiles, issues, files };
  }
  const fleetSrc = parse("fleet.yaml");
  const settings = fleetSrc ? check(fleetSchema, fleetSrc, issues) : undefined;

  const hosts = new Map<string, Host>();
  for (const file of Object.keys(files).sort()) {
    const m = HOST_FILE.exec(file);
    if (!m) continue;
    const name = m[1]!;
    const src = parse(file);
    if (!src) continue;
    if (!isHostName(name)) {
      issues.push({ severity: "error", file, path: [], line: 1, column: 1, message: `file name '${name}' is not a valid host name`, hint: "rename the file to a DNS label: lower-case letters, digits and '-'" });
      continue;
    }
    if (hostFiles.has(name)) {
      issues.push(issueAt(src, [], "error", `host '${name}' is defined twice: in ${hostFiles.get(name)} and ${file}`, "remove or rename one of the two files"));
      continue;
    }
    hostFiles.set(name, file);
    const host = check(hostSchema, src, issues) as Host | undefined;
    if (!host) continue;
    if (host.name !== undefined && host.name !== name)
      issues.push(issueAt(src, ["name"], "error", `name '${host.name}' differs from the file name '${name}'`, `rename the file to hosts/${host.name}.yaml or set name: ${name}`));
    hosts.set(name, host);
  }
  const fleet = settings ? ({ ...(settings as object), hosts } as Fleet) : undefined;
  return { fleet, sources, hostFiles, issues, files };
}

/** Parse one file's document with a schema; findings go to `issues`. */
function check(schema: z.ZodType, src: SourceFile, issues: Issue[]): unknown {
  const data = toData(src, issues);
  if (data === undefined) return undefined;
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  for (const zi of r.error.issues) issues.push(toIssue(schema, data, src, zi));
  return undefined;
}

/**
 * Aliases may expand to at most this many nodes in a file: a host file has a few hundred,
 * a "billion laughs" file billions (the yaml library refuses it; we make that a finding).
 */
export const MAX_ALIAS_COUNT = 1000;

/** The file's document as plain data, or undefined with a finding when it cannot be expanded safely. */
function toData(src: SourceFile, issues: Issue[]): unknown {
  try {
    return src.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    // The yaml library throws a ReferenceError for too many aliases and for an unknown anchor.
    const excessive = /alias count/i.test(e.message);
    issues.push(issueAt(src, [], "error",
      excessive ? `YAML: its aliases (*name) expand to too many nodes (more than ${MAX_ALIAS_COUNT} times the anchored value), as in a "billion laughs" attack` : `YAML: ${e.message.split("\n")[0]}`,
      excessive ? "write the values out, or use fewer aliases" : "fix the YAML aliases (*name) and anchors (&name)"));
    return undefined;
  }
}

function toIssue(schema: z.ZodType, data: unknown, src: SourceFile, zi: z.core.$ZodIssue): Issue {
  const path = zi.path as YamlPath;
  switch (zi.code) {
    case "unrecognized_keys": {
      const known = keysAt(schema, data, path);
      const key = zi.keys[0]!;
      // `password:` beside `passwordSecret`: the value belongs in hearth's secrets, never in the file.
      const hint = known.includes(`${key}Secret`)
        ? `a secret never goes into the fleet files: set ${key}Secret: true and store the value with \`hearth secrets set ${key === "password" ? SMTP_PASSWORD_SECRET : "NAME"}\``
        : (didYouMean(key, known) ?? (known.length ? `known keys here: ${known.join(", ")}` : "remove it"));
      return issueAt(src, [...path, key], "error", `unknown key '${zi.keys.join("', '")}'`, hint, true);
    }
    case "invalid_union": {
      const u = zi as z.core.$ZodIssueInvalidUnion & { options?: string[]; discriminator?: string };
      const value = getAt(data, path);
      if (u.options && u.discriminator) {
        const given = typeof value === "string" ? value : undefined;
        return issueAt(src, path, "error",
          given === undefined ? `'${u.discriminator}' is required` : `unknown ${u.discriminator} '${given}'`,
          (given && didYouMean(given, u.options)) ?? `one of: ${u.options.join(", ")}`);
      }
      // A plain union (e.g. 'dhcp' or a mapping): when the value has the shape of exactly one
      // option, that option's finding is the useful one, at its own path.
      const fitting = (u.errors ?? []).filter((branch) => branch.length > 0 && !branch.some((b) => b.path.length === 0 && (b.code === "invalid_type" || b.code === "invalid_value")));
      if (fitting.length === 1) {
        const first = fitting[0]![0]!;
        return toIssue(schema, data, src, { ...first, path: [...path, ...first.path] } as z.core.$ZodIssue);
      }
      return issueAt(src, path, "error", zi.message);
    }
    case "invalid_value": {
      const value = getAt(data, path);
      const options = zi.values.map(String);
      // A schema's own message (a value that was once allowed, say) says more than the list.
      if (zi.message && !zi.message.startsWith("Invalid option")) return issueAt(src, path, "error", zi.message, `one of: ${options.join(", ")}`);
      return issueAt(src, path, "error", `'${String(value)}' is not allowed`,
        (typeof value === "string" && didYouMean(value, options)) || `one of: ${options.join(", ")}`);
    }
    case "invalid_type": {
      const value = getAt(data, path);
      return value === undefined
        ? issueAt(src, path, "error", `'${path[path.length - 1]}' is required`, `add it (${zi.expected})`)
        : issueAt(src, path, "error", `expected ${zi.expected}, got ${describe(value)}`);
    }
    default: {
      // A refinement may say what to do (`ctx.addIssue({ …, params: { hint } })`).
      const hint = zi.code === "custom" && typeof zi.params?.hint === "string" ? zi.params.hint : undefined;
      return issueAt(src, path, "error", zi.message, hint);
    }
  }
}

const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `${typeof v} ${JSON.stringify(v)}`);

function getAt(data: unknown, path: YamlPath): unknown {
  let cur = data as any;
  for (const seg of path) cur = cur == null ? undefined : cur[seg];
  return cur;
}

/** The keys the schema accepts at `path`, following the data through unions. */
export function keysAt(schema: z.ZodType, data: unknown, path: YamlPath): string[] {
  let s: any = schema;
  let d: any = data;
  const unwrap = () => {
    for (;;) {
      const def = s?._zod?.def;
      if (!def) return;
      if (["optional", "default", "prefault", "nullable", "readonly", "catch", "pipe"].includes(def.type)) s = def.innerType ?? def.in;
      else if (def.type === "union" && def.discriminator && d && typeof d === "object") {
        const opt = def.options.find((o: any) => o._zod.def.shape?.[def.discriminator]?._zod.def.values?.includes(d[def.discriminator]));
        if (!opt) return;
        s = opt;
      } else return;
    }
  };
  for (const seg of path) {
    unwrap();
    const def = s?._zod?.def;
    if (def?.type === "object") s = def.shape[seg];
    else if (def?.type === "record") s = def.valueType;
    else if (def?.type === "array") s = def.element;
    else return [];
    d = d?.[seg];
  }
  unwrap();
  const def = s?._zod?.def;
  return def?.type === "object" ? Object.keys(def.shape) : [];
}
