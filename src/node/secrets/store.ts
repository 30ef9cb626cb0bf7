// The secrets executor: reads the encrypted files and manifest of a fleet, and carries out the
// lifecycle commands (generate, rotate, set, rekey, show, bootstrap files). Every write is atomic
// (temp file + rename) with mode 0600, the manifest after the file it describes; plaintext exists
// only in memory and is wiped after use.
import { readFleetFile } from "../fleet-dir.js";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import type { Fleet } from "../../core/schema/fleet.js";
import { HOST_FILE } from "../../core/fleet/load.js";
import { hostSecretNeeds } from "../../core/plan/host.js";
import { MANIFEST_FILE, AGENIX_RULES_FILE, SECRETS_DIR } from "../../core/secrets/kinds.js";
import { parseManifest, printManifest, type Manifest } from "../../core/secrets/manifest.js";
import {
  agenixRules,
  adminRecipients,
  desiredRecipients,
  fileOf,
  invalidHostsText,
  planSecrets,
  secretsStatus,
  type PlannedSecret,
  type StatusRow,
} from "../../core/secrets/plan.js";
import { printNix } from "../../core/nix/ast.js";
import { formatIssue, formatPath } from "../../core/validate/issues.js";
import { HEADER } from "../../core/plan/plan.js";
import { writeFileAtomic } from "../fs-atomic.js";
import { decrypt, encrypt, findOnPath, SecretError, type LoadedIdentity } from "./age.js";
import { adminRecipientInputs, parseRecipient, pluginBinary, pluginInstallHint } from "../../core/secrets/recipients.js";
import { makeSecret } from "./generate.js";

export interface SecretsStore {
  dir: string;
  fleet: Fleet;
  planned: PlannedSecret[];
  manifest: Manifest;
  /** sha256 of each existing .age file by fleet-relative path. */
  files: Map<string, string>;
  /** Hosts whose file exists but does not load (name → file): their needs are unknown. */
  invalidHosts: Map<string, string>;
}

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const now = () => new Date().toISOString();

/**
 * The fleet's secrets as on disk. `invalidHosts` names host files that exist but did not load
 * (see invalidHostFiles); while there are any, nothing is called orphaned and pruning is refused.
 */
export function openStore(dir: string, fleet: Fleet, invalidHosts: Map<string, string> = new Map()): SecretsStore {
  const m = readFleetFile(dir, MANIFEST_FILE, MAX_SECRET_FILE);
  if (!m.ok && !m.missing) throw new SecretError(`${MANIFEST_FILE} ${m.message}\n    hint: ${m.hint}`);
  const { manifest, issues } = parseManifest(m.ok ? m.text : undefined);
  if (issues.length) throw new SecretError(issues.map(formatIssue).join("\n"));
  const files = new Map<string, string>();
  const root = join(dir, SECRETS_DIR);
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".age")) {
        // Read without following links out of the fleet or blocking on a FIFO; a file refused
        // here counts as missing, and validation says why.
        const bytes = secretBytes(dir, relative(dir, p));
        if (bytes) files.set(relative(dir, p), sha256(bytes));
      }
    }
  };
  walk(root);
  const planned = planSecrets(fleet, [...fleet.hosts.keys()].sort().map((h) => hostSecretNeeds(fleet, h)));
  return { dir, fleet, planned, manifest, files, invalidHosts };
}

/** Host files that exist but did not load into `fleet` (name → file), from a validation result. */
export function invalidHostFiles(v: { fleet?: Fleet; files: Record<string, string> }): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of Object.keys(v.files).sort()) {
    const m = HOST_FILE.exec(file);
    if (m && !v.fleet?.hosts.has(m[1]!)) out.set(m[1]!, file);
  }
  return out;
}

export const status = (s: SecretsStore): StatusRow[] => secretsStatus(s.planned, s.fleet, { manifest: s.manifest, files: s.files, invalidHosts: s.invalidHosts });

/** The encrypted files the flake needs, as text, for the planner to copy. */
export function secretFiles(s: SecretsStore): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of s.planned) {
    const bytes = s.files.has(p.file) ? secretBytes(s.dir, p.file) : undefined;
    if (bytes) out[p.file] = bytes.toString("utf8");
  }
  return out;
}

function writeManifest(s: SecretsStore): void {
  writeFileAtomic(join(s.dir, MANIFEST_FILE), printManifest(s.manifest));
}

/** agenix's rules file is derived from the plan and manifest: written once per command. */
function writeAgenixRules(s: SecretsStore): void {
  const rules = `${HEADER}# agenix rules for hearth's secrets: who each file is encrypted to.\n${printNix(agenixRules(s.planned, s.fleet, s.manifest))}\n`;
  writeFileAtomic(join(s.dir, AGENIX_RULES_FILE), rules);
}

/**
 * Every admin key on a hardware token (an age plugin recipient) needs its plugin binary to
 * encrypt to; checked before anything is decrypted or written, since every file goes to every
 * admin: without it, no file could be written.
 */
function requirePlugins(s: SecretsStore): void {
  for (const a of adminRecipientInputs(s.fleet.admins)) {
    const r = parseRecipient(a.text);
    if (!r.ok || r.recipient.type !== "plugin") continue;
    const bin = pluginBinary(r.recipient.plugin);
    if (!findOnPath(bin)) {
      const key = r.recipient.text.length > 40 ? `${r.recipient.text.slice(0, 30)}…` : r.recipient.text;
      throw new SecretError(
        `fleet.yaml: ${formatPath(a.path)}: admin ${a.admin}'s key ${key} is an age plugin recipient (a hardware token): encrypting to it runs ${bin}, ` +
          `which is not on PATH, so nothing was written; ${pluginInstallHint(r.recipient.plugin)}`,
      );
    }
  }
}

/** Encrypt `value` for `key`, then record it; wipes `value`. */
async function store(s: SecretsStore, key: string, kind: string, value: Buffer, recipients: string[], opts: { public?: string; keepHistory?: boolean }) {
  try {
    requirePlugins(s);
    const armored = await encrypt(value, recipients);
    const file = fileOf(key);
    writeFileAtomic(join(s.dir, file), armored, 0o600);
    const prev = s.manifest.secrets[key];
    const dropped = prev ? prev.recipients.filter((r) => !recipients.includes(r)) : [];
    s.manifest.secrets[key] = {
      kind,
      ...(opts.public ?? prev?.public ? { public: opts.public ?? prev?.public } : {}),
      recipients: [...recipients].sort(),
      sha256: sha256(armored),
      created: opts.keepHistory && prev ? prev.created : now(),
      updated: now(),
      // A new value ends the exposure of the old one; a re-encryption does not.
      formerRecipients: opts.keepHistory ? [...new Set([...(prev?.formerRecipients ?? []), ...dropped])] : [],
    };
    s.files.set(file, s.manifest.secrets[key]!.sha256);
    writeManifest(s);
  } finally {
    value.fill(0);
  }
}

function requireAdmins(s: SecretsStore): string[] {
  const admins = adminRecipients(s.fleet);
  if (admins.length === 0)
    throw new SecretError("fleet.yaml: admins: no admin has an age or ssh-ed25519 key, so nobody could decrypt or rekey secrets; add admins.<you>.ageKeys (`hearth secrets keygen` prints one)");
  return admins;
}

export interface GenerateReport {
  created: string[];
  rotated: string[];
  /** Present but needing `rekey` (e.g. a host key was rotated). */
  stale: string[];
  /** User-provided secrets still to be set. */
  unset: string[];
}

/**
 * Create every missing generated secret; never replace one unless it is named in `rotate`.
 * Host SSH keys come first: they are the recipients of everything their hosts read.
 */
export async function generate(s: SecretsStore, rotate: string[] = [], log: (m: string) => void = () => {}): Promise<GenerateReport> {
  requireAdmins(s);
  const byKey = new Map(s.planned.map((p) => [p.key, p]));
  for (const r of rotate) {
    const p = byKey.get(r);
    if (!p) throw new SecretError(`no secret '${r}' in this fleet's plan; \`hearth secrets status\` lists their names`);
    if (p.userProvided) throw new SecretError(`${r} is user-provided; set a new value with \`hearth secrets set ${p.id}\``);
  }
  const report: GenerateReport = { created: [], rotated: [], stale: [], unset: [] };
  const order = [...s.planned].sort((a, b) => Number(b.kind === "ssh-host-key") - Number(a.kind === "ssh-host-key"));
  for (const p of order) {
    const exists = s.files.has(p.file) && s.manifest.secrets[p.key] !== undefined;
    const rotating = rotate.includes(p.key);
    if (p.userProvided) {
      if (!exists) report.unset.push(p.key);
      continue;
    }
    if (exists && !rotating) continue;
    if (s.files.has(p.file) && !s.manifest.secrets[p.key] && !rotating)
      throw new SecretError(`${p.file} exists but secrets/manifest.json has no record of it; keep it with \`hearth secrets generate --rotate ${p.key}\` (replaces it) or remove the file`);
    const want = desiredRecipients(p, s.fleet, s.manifest);
    if (want.waitingFor.length) throw new SecretError(`${p.key}: the SSH host key of ${want.waitingFor.join(", ")} is missing`);
    const made = await makeSecret(p.kind, p.key.split("/")[1] ?? p.key);
    await store(s, p.key, p.kind, made.value, want.recipients, { public: made.public });
    (rotating ? report.rotated : report.created).push(p.key);
    log(`${rotating ? "rotated" : "created"} ${p.file} (${p.description})`);
  }
  if (report.created.length || report.rotated.length) writeAgenixRules(s);
  report.stale = status(s).filter((r) => r.state === "stale" || r.state === "modified").map((r) => r.key);
  return report;
}

/** Store a user-provided value (read by the caller from stdin or a prompt, never argv). */
export async function setUserSecret(s: SecretsStore, name: string, value: Buffer): Promise<PlannedSecret> {
  if (!s.planned.some((x) => x.key === `custom/${name}`)) {
    value.fill(0);
    const names = s.planned.filter((x) => x.userProvided).map((x) => x.id);
    throw new SecretError(
      `no custom secret '${name}' in fleet.yaml; declare it under secrets.custom.${name} (with the hosts that read it)${names.length ? `; declared: ${names.join(", ")}` : ""}`,
    );
  }
  const p = await storeProvided(s, `custom/${name}`, value);
  writeAgenixRules(s);
  return p;
}

/**
 * Store a value the user brings for a planned, not generated secret (a custom secret, a
 * validator's keystore and password from `hearth validator import`); wipes `value`. The agenix
 * rules are written by the caller once all are stored (writeRules).
 */
export async function storeProvided(s: SecretsStore, key: string, value: Buffer): Promise<PlannedSecret> {
  const p = s.planned.find((x) => x.key === key);
  if (!p || !p.userProvided) {
    value.fill(0);
    throw new SecretError(`no secret ${key} in this fleet's plan to store`);
  }
  requireAdmins(s);
  const want = desiredRecipients(p, s.fleet, s.manifest);
  if (want.waitingFor.length) {
    value.fill(0);
    throw new SecretError(`${p.key}: the SSH host key of ${want.waitingFor.join(", ")} is missing; run \`hearth secrets generate\` first`);
  }
  await store(s, p.key, p.kind, value, want.recipients, {});
  return p;
}

/** Rewrite agenix's rules file for the store's plan. */
export const writeRules = (s: SecretsStore) => writeAgenixRules(s);

async function readPlain(s: SecretsStore, key: string, identities: LoadedIdentity[]): Promise<Buffer> {
  const file = fileOf(key);
  if (!s.files.has(file)) throw new SecretError(`${file} does not exist; \`hearth secrets generate\` creates it`);
  const bytes = secretBytes(s.dir, file);
  if (!bytes) throw new SecretError(`${file} cannot be read safely (a link out of the fleet, a FIFO, or too large): \`hearth validate\` says which`);
  return Buffer.from(await decrypt(file, bytes, identities));
}

/** Largest secrets file hearth reads (an armored age file of a key is a few hundred bytes). */
const MAX_SECRET_FILE = 16 * 1024 * 1024;

/** A file under the fleet's secrets, read as fleet files are (no link out, no FIFO, bounded). */
function secretBytes(dir: string, rel: string): Buffer | undefined {
  const r = readFleetFile(dir, rel, MAX_SECRET_FILE);
  return r.ok ? r.bytes : undefined;
}

export interface RekeyReport {
  rekeyed: string[];
  pruned: string[];
  unchanged: number;
}

/**
 * Re-encrypt every secret whose recipients differ from the plan (or that changed outside hearth)
 * to exactly the planned recipients; orphans go to the admins only, or are deleted with `prune`.
 * Decrypts in memory only. Checks every file decrypts before rewriting any.
 */
export async function rekey(s: SecretsStore, identities: LoadedIdentity[], opts: { prune?: boolean; all?: boolean } = {}, log: (m: string) => void = () => {}): Promise<RekeyReport> {
  // A host file that does not load looks like a removed host: its keys would be "orphans".
  if (s.invalidHosts.size)
    throw new SecretError(`${invalidHostsText(s.invalidHosts)}: which secrets its host needs is unknown, so nothing is re-encrypted${opts.prune ? " or deleted" : ""}; fix it first (\`hearth validate\`)`);
  const admins = requireAdmins(s);
  const rows = status(s);
  const missingKeys = rows.filter((r) => r.state === "stale" && r.detail?.startsWith("waits for"));
  if (missingKeys.length) throw new SecretError(`${missingKeys[0]!.key} ${missingKeys[0]!.detail}; run \`hearth secrets generate\` first`);
  const byKey = new Map(s.planned.map((p) => [p.key, p]));
  const todo: { key: string; kind: string; recipients: string[] }[] = [];
  const pruned: string[] = [];
  for (const r of rows) {
    if (r.state === "missing") continue;
    if (r.state === "orphaned") {
      // A validator's keystore may be the only copy of a key that holds 32 ETH: no listing
      // mistake deletes it. It stays, encrypted to the admins only, until removed by hand.
      if (opts.prune && r.key.startsWith("validators/")) {
        log(`kept ${fileOf(r.key)}: validator keys are never pruned (no host lists it; delete the file by hand once it is backed up elsewhere)`);
        if (!sameSet(s.manifest.secrets[r.key]!.recipients, admins)) todo.push({ key: r.key, kind: s.manifest.secrets[r.key]!.kind, recipients: admins });
      } else if (opts.prune) pruned.push(r.key);
      else if (opts.all || !sameSet(s.manifest.secrets[r.key]!.recipients, admins))
        todo.push({ key: r.key, kind: s.manifest.secrets[r.key]!.kind, recipients: admins });
      continue;
    }
    if (r.state === "ok" && !opts.all) continue;
    todo.push({ key: r.key, kind: r.kind, recipients: desiredRecipients(byKey.get(r.key)!, s.fleet, s.manifest).recipients });
  }
  if (todo.length) requirePlugins(s);
  await reencryptAll(s, todo, identities, (t) => log(`re-encrypted ${fileOf(t.key)}`));
  for (const key of pruned) {
    rmSync(join(s.dir, fileOf(key)), { force: true });
    s.files.delete(fileOf(key));
    delete s.manifest.secrets[key];
    writeManifest(s);
    log(`deleted ${fileOf(key)}`);
  }
  writeAgenixRules(s);
  return { rekeyed: todo.map((t) => t.key), pruned, unchanged: rows.length - todo.length - pruned.length };
}

/**
 * Re-encrypt only the named secrets to their planned recipients (rekey for a few keys: after a
 * host is renamed or deleted, or its SSH host key rotated). Every file is decrypted once first,
 * so a wrong identity changes nothing. Returns the keys re-encrypted.
 */
export async function reencrypt(s: SecretsStore, keys: string[], identities: LoadedIdentity[]): Promise<string[]> {
  requireAdmins(s);
  const byKey = new Map(s.planned.map((p) => [p.key, p]));
  const todo: { key: string; kind: string; recipients: string[] }[] = [];
  for (const key of keys) {
    const p = byKey.get(key);
    const entry = s.manifest.secrets[key];
    if (!p || !entry) continue;
    const want = desiredRecipients(p, s.fleet, s.manifest);
    if (want.waitingFor.length) throw new SecretError(`${key}: the SSH host key of ${want.waitingFor.join(", ")} is missing; run \`hearth secrets generate\` first`);
    todo.push({ key, kind: entry.kind, recipients: want.recipients });
  }
  if (todo.length) requirePlugins(s);
  await reencryptAll(s, todo, identities);
  if (todo.length) writeAgenixRules(s);
  return todo.map((t) => t.key);
}

/**
 * Decrypt every file first, so a wrong identity changes nothing, then re-encrypt each. Each file
 * is decrypted once: with an identity on a hardware token every decryption may cost a touch.
 * The values stay in memory only, and are wiped however this ends.
 */
async function reencryptAll(s: SecretsStore, todo: { key: string; kind: string; recipients: string[] }[], identities: LoadedIdentity[], done: (t: { key: string }) => void = () => {}) {
  const plains: Buffer[] = [];
  try {
    for (const t of todo) plains.push(await readPlain(s, t.key, identities));
    for (const [i, t] of todo.entries()) {
      await store(s, t.key, t.kind, plains[i]!, t.recipients, { keepHistory: true });
      done(t);
    }
  } finally {
    for (const p of plains) p.fill(0);
  }
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** Resolve a name as the user types it: a full key, or a unique id (`k3s-token`, `beta/ethereum-jwt`). */
export function resolveKey(s: SecretsStore, name: string): string {
  const keys = [...new Set([...s.planned.map((p) => p.key), ...Object.keys(s.manifest.secrets)])];
  if (keys.includes(name)) return name;
  const matches = keys.filter((k) => k.endsWith(`/${name}`));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new SecretError(`'${name}' is ambiguous: ${matches.join(", ")}`);
  throw new SecretError(`no secret '${name}'; \`hearth secrets status\` lists them`);
}

export async function show(s: SecretsStore, name: string, identities: LoadedIdentity[]): Promise<Buffer> {
  return readPlain(s, resolveKey(s, name), identities);
}

export interface BootstrapFile {
  /** Where the file goes: under the target's root (`extra-files`), or a disk key on the installer. */
  target: "root" | "disk-key";
  path: string;
  mode: number;
  content: Buffer;
}

/**
 * What the install step hands to a host before its first boot (nixos-anywhere's --extra-files and
 * --disk-encryption-keys): its SSH host key (the key secrets are encrypted to), the initrd key,
 * and the keys disko needs to format encrypted disks. The caller wipes the buffers.
 */
export async function bootstrapFiles(s: SecretsStore, host: string, identities: LoadedIdentity[]): Promise<BootstrapFile[]> {
  if (!s.fleet.hosts.has(host)) throw new SecretError(`no host '${host}' in the fleet`);
  const out: BootstrapFile[] = [];
  for (const p of s.planned) {
    for (const u of p.uses) {
      if (u.host !== host || (u.delivery !== "install" && u.delivery !== "disk")) continue;
      const content = await readPlain(s, p.key, identities);
      out.push({ target: u.delivery === "install" ? "root" : "disk-key", path: u.path, mode: 0o600, content });
      const pub = s.manifest.secrets[p.key]?.public;
      if (u.delivery === "install" && pub) out.push({ target: "root", path: `${u.path}.pub`, mode: 0o644, content: Buffer.from(`${pub} ${host}\n`) });
    }
  }
  return out;
}
