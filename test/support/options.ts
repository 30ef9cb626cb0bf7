// Checks that every option path a generated configuration sets exists: NixOS options from
// ../shared/data/nixos-options.json, flake inputs' documented options, and the options of
// hearth's own static modules (read with real Nix and a fake lib).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Expr, type NixValue } from "../../src/core/nix/ast.js";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";

interface TrieNode {
  type?: string;
  children: Map<string, TrieNode>;
}
const node = (): TrieNode => ({ children: new Map() });

function insert(root: TrieNode, path: string, type: string) {
  let cur = root;
  for (const seg of splitOptionPath(path)) {
    if (!cur.children.has(seg)) cur.children.set(seg, node());
    cur = cur.children.get(seg)!;
  }
  cur.type ??= type;
}

/** `hardware.raspberry-pi."4".fkms-3d.enable` → segments, honouring quotes. */
function splitOptionPath(p: string): string[] {
  return [...p.matchAll(/"([^"]*)"|([^.]+)/g)].map((m) => m[1] ?? m[2]!);
}

// CI clones the repo with shared/ beside it; HEARTH_SHARED_DIR points elsewhere when needed.
export const NIXOS_OPTIONS =
  [process.env["HEARTH_SHARED_DIR"], join(REPO_ROOT, "..", "shared"), "/work/shared"]
    .filter((d): d is string => !!d)
    .map((d) => join(d, "data", "nixos-options.json"))
    .find((p) => existsSync(p)) ?? join(REPO_ROOT, "..", "shared", "data", "nixos-options.json");

function staticModuleOptions(): [string, string][] {
  const out: [string, string][] = [];
  const fakeLib = join(REPO_ROOT, "test/support/fake-lib.nix");
  for (const m of readdirSync(join(REPO_ROOT, "nix/modules")).filter((f) => f.endsWith(".nix"))) {
    const expr = `(import ${join(REPO_ROOT, "nix/modules", m)} { config = {}; pkgs = {}; lib = import ${fakeLib}; }).options`;
    const json = JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], { encoding: "utf8" }));
    const walk = (o: any, prefix: string) => {
      if (o && o._option) {
        out.push([prefix, o.type]);
        const d = o._decl;
        if (d?._attrs?._options) walk(d._attrs._options, `${prefix}.<name>`);
        if (d?._options) walk(d._options, prefix);
        return;
      }
      for (const [k, v] of Object.entries(o ?? {})) walk(v, prefix ? `${prefix}.${k}` : k);
    };
    walk(json, "");
  }
  return out;
}

let cached: TrieNode | undefined;
export function optionTrie(): TrieNode {
  if (cached) return cached;
  const root = node();
  const nixos = JSON.parse(readFileSync(NIXOS_OPTIONS, "utf8")) as Record<string, { type: string }>;
  for (const [p, o] of Object.entries(nixos)) insert(root, p, o.type);
  const inputs = JSON.parse(readFileSync(join(REPO_ROOT, "src/core/nix/input-options.json"), "utf8")).inputs as Record<string, { options: Record<string, string> }>;
  for (const name of ["lanzaboote", "agenix", "nixos-hardware"])
    for (const [p, t] of Object.entries(inputs[name]!.options)) if (!p.startsWith("nixosModules.") && !p.includes("{")) insert(root, p, t);
  // disko.devices is checked separately against disko's device types (checkDisko).
  insert(root, "disko.devices", "disko devices");
  for (const [p, t] of staticModuleOptions()) insert(root, p, t);
  cached = root;
  return root;
}

const FREEFORM = /YAML value|TOML value|JSON value|attribute set of|systemd option|Nix config atom|disko devices/;
const isObj = (v: unknown): v is Record<string, NixValue> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Expr);

/** Every option path under `value` that NixOS (or the input modules) does not declare, plus type mismatches. */
export function unknownOptions(value: NixValue, root = optionTrie()): string[] {
  const problems: string[] = [];
  let freeformAbove = false;
  const walk = (v: NixValue, n: TrieNode, path: string[]) => {
    if (n.type !== undefined) {
      if (v instanceof Expr) return;
      const bad = typeMismatch(n.type, v);
      if (bad) problems.push(`${path.join(".")}: ${bad} (option type: ${n.type})`);
      if (Array.isArray(v) && n.children.has("*")) v.forEach((e) => walk(e, n.children.get("*")!, [...path, "*"]));
      else if (isObj(v) && n.children.size > 0) walkChildren(v, n, path, FREEFORM.test(n.type) && !/submodule/.test(n.type));
      return;
    }
    if (freeformAbove && !isObj(v)) return;
    if (!isObj(v)) {
      problems.push(`${path.join(".")}: is not an option (a value was set on an option group)`);
      return;
    }
    walkChildren(v, n, path, false);
  };
  const walkChildren = (v: Record<string, NixValue>, n: TrieNode, path: string[], freeform: boolean) => {
    for (const [k, child] of Object.entries(v)) {
      if (child === undefined) continue;
      const next = n.children.get(k) ?? n.children.get("<name>");
      const saved = freeformAbove;
      freeformAbove = saved || freeform;
      if (next) walk(child, next, [...path, k]);
      freeformAbove = saved;
      if (!next && !(freeform || saved)) problems.push(`${[...path, k].join(".")}: no such option`);
    }
  };
  walk(value, root, []);
  return problems;
}

function typeMismatch(type: string, v: NixValue): string | undefined {
  const nullable = type.startsWith("null or ");
  if (v === null) return nullable ? undefined : "null given";
  const t = nullable ? type.slice(8) : type;
  if (/ or /.test(t)) return undefined; // unions: any member may match; not checked here
  if (t === "boolean" && typeof v !== "boolean") return `expected boolean, got ${JSON.stringify(v)}`;
  if (/^(signed integer|16 bit unsigned integer|unsigned integer)/.test(t) && typeof v !== "number") return `expected integer, got ${JSON.stringify(v)}`;
  if (/^(string|strings concatenated)/.test(t) && typeof v !== "string") return `expected string, got ${JSON.stringify(v)}`;
  if (/^(list of|non-empty \(list of)/.test(t) && !Array.isArray(v)) return `expected list, got ${JSON.stringify(v)}`;
  const enumMatch = /^one of (.*)$/.exec(t);
  if (enumMatch && typeof v === "string" && !enumMatch[1]!.includes(`“${v}”`)) return `'${v}' is not one of ${enumMatch[1]}`;
  return undefined;
}

// disko device types and the keys each accepts (disko lib/types/*.nix, see input-options.json).
const HOOKS = ["preCreateHook", "postCreateHook", "preMountHook", "postMountHook"];
const DISKO_KEYS: Record<string, string[]> = {
  disk: ["type", "device", "name", "imageSize", "content"],
  gpt: ["type", "partitions", "efiGptPartitionFirst"],
  filesystem: ["type", "format", "mountpoint", "mountOptions", "extraArgs"],
  btrfs: ["type", "extraArgs", "mountpoint", "mountOptions", "swap", "subvolumes"],
  luks: ["type", "name", "settings", "passwordFile", "askPassword", "additionalKeyFiles", "initrdUnlock", "extraFormatArgs", "extraOpenArgs", "keyFile", "content"],
  zfs: ["type", "pool"],
  swap: ["type", "randomEncryption", "resumeDevice", "extraArgs", "priority"],
  zpool: ["type", "name", "mode", "options", "rootFsOptions", "mountpoint", "mountOptions", "datasets"],
  zfs_fs: ["type", "name", "options", "mountpoint", "mountOptions"],
  zfs_volume: ["type", "name", "size", "options", "extraArgs", "content"],
};
const PARTITION_KEYS = ["size", "type", "name", "label", "priority", "start", "end", "device", "content", "alignment", ...HOOKS];
const SUBVOLUME_KEYS = ["name", "mountpoint", "mountOptions", "extraArgs", "swap"];

/** Problems in a `disko.devices` tree. */
export function diskoProblems(devices: Record<string, any>): string[] {
  const problems: string[] = [];
  const dev = (d: any, path: string, expect?: string) => {
    const type = d?.type as string;
    const keys = DISKO_KEYS[type];
    if (!keys) return void problems.push(`${path}.type: unknown disko type '${type}'`);
    if (expect && type !== expect) problems.push(`${path}: expected ${expect}, got ${type}`);
    for (const k of Object.keys(d)) if (!keys.includes(k) && !HOOKS.includes(k)) problems.push(`${path}.${k}: not an option of disko type ${type}`);
    if (d.content) dev(d.content, `${path}.content`);
    for (const [n, p] of Object.entries<any>(d.partitions ?? {})) {
      for (const k of Object.keys(p)) if (!PARTITION_KEYS.includes(k)) problems.push(`${path}.partitions.${n}.${k}: not a gpt partition option`);
      if (p.content) dev(p.content, `${path}.partitions.${n}.content`);
    }
    for (const [n, s] of Object.entries<any>(d.subvolumes ?? {}))
      for (const k of Object.keys(s)) if (!SUBVOLUME_KEYS.includes(k)) problems.push(`${path}.subvolumes.${n}.${k}: not a btrfs subvolume option`);
    for (const [n, ds] of Object.entries<any>(d.datasets ?? {})) dev(ds, `${path}.datasets.${n}`);
  };
  for (const [n, d] of Object.entries<any>(devices.disk ?? {})) dev(d, `disko.devices.disk.${n}`, "disk");
  for (const [n, d] of Object.entries<any>(devices.zpool ?? {})) dev(d, `disko.devices.zpool.${n}`, "zpool");
  for (const k of Object.keys(devices)) if (!["disk", "zpool", "mdadm", "lvm_vg", "nodev"].includes(k)) problems.push(`disko.devices.${k}: unknown device class`);
  return problems;
}
