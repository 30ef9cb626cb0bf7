// The secrets planner: from the fleet and its host plans, every secret the fleet needs, who
// reads it, and who it must be encrypted to; compared with the manifest, what is missing or
// stale. Pure: values are made and encrypted by the executor (src/node/secrets).
import type { Fleet } from "../schema/fleet.js";
import type { SecretNeed } from "../services/types.js";
import type { Issue, YamlPath } from "../validate/issues.js";
import { nix, type NixValue } from "../nix/ast.js";
import { AGENIX_DIR, KINDS, SECRETS_DIR, type Delivery, type SecretKind } from "./kinds.js";
import type { Manifest } from "./manifest.js";
import { adminRecipientInputs, parseRecipient } from "./recipients.js";
import { SMTP_PASSWORD_SECRET } from "../schema/monitoring.js";

/** The reader of admin-delivered secrets that no host reads: hearth's own alert sender. */
export const ALERT_SENDER = "hearth";

export interface SecretUse {
  host: string;
  path: string;
  owner?: string;
  group?: string;
  mode?: string;
  delivery: Delivery;
}

export interface PlannedSecret {
  /** `hosts/<host>/<id>`, `fleet/<id>`, `custom/<name>` or `external/<peer>/<id>`. */
  key: string;
  /** Fleet-relative path of the encrypted file. */
  file: string;
  /** agenix attribute name (and file name under /run/agenix). */
  id: string;
  kind: SecretKind;
  description: string;
  uses: SecretUse[];
  /** Hosts that decrypt it themselves at activation, and so are recipients. */
  readers: string[];
  /** Set by the user with `hearth secrets set` rather than generated. */
  userProvided: boolean;
}

export const fileOf = (key: string) => `${SECRETS_DIR}/${key}.age`;
export const hostKeyKey = (host: string) => `hosts/${host}/ssh-host-key`;

export function planSecrets(fleet: Fleet, hosts: { name: string; secrets: SecretNeed[] }[]): PlannedSecret[] {
  const byKey = new Map<string, PlannedSecret>();
  const add = (key: string, id: string, kind: SecretKind, use: SecretUse, userProvided = false, description?: string) => {
    let s = byKey.get(key);
    if (!s) {
      s = { key, file: fileOf(key), id, kind, description: description ?? KINDS[kind].description, uses: [], readers: [], userProvided };
      byKey.set(key, s);
    }
    s.uses.push(use);
    if (use.delivery === "activation" && !s.readers.includes(use.host)) s.readers.push(use.host);
  };
  for (const h of hosts) {
    for (const need of h.secrets) {
      const key = need.key ?? (need.shared ? `fleet/${need.id}` : `hosts/${need.fromHost ?? h.name}/${need.id}`);
      const delivery = need.delivery ?? KINDS[need.kind].delivery;
      add(key, need.id, need.kind, { host: h.name, path: need.path, owner: need.owner, group: need.group, mode: need.mode, delivery }, !KINDS[need.kind].generated);
    }
  }
  // Machines outside NixOS in the WireGuard mesh: their keys go into a wg-quick file on request.
  if (fleet.mesh?.type === "wireguard")
    for (const name of Object.keys(fleet.mesh.external))
      add(`external/${name}/wireguard-key`, "wireguard-key", "wireguard-key", { host: name, path: `/etc/wireguard/${name}.key`, delivery: "admin" });
  // The alert e-mails' SMTP password: entered by an admin, read only by hearth's alert sender,
  // which decrypts it with an admin identity (no host reads it).
  if (fleet.alerts?.email?.smtp.passwordSecret)
    add(`custom/${SMTP_PASSWORD_SECRET}`, SMTP_PASSWORD_SECRET, "user", { host: ALERT_SENDER, path: "alerts.email.smtp", delivery: "admin" }, true, "SMTP password for alert e-mails (fleet.yaml alerts.email.smtp)");
  for (const [name, c] of Object.entries(fleet.secrets.custom)) {
    for (const host of c.hosts)
      add(`custom/${name}`, name, "user", { host, path: c.path ?? `${AGENIX_DIR}/${name}`, owner: c.owner, group: c.group, mode: c.mode, delivery: "activation" }, true, c.description);
  }
  const out = [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
  for (const s of out) s.readers.sort();
  return out;
}

/** The public key a host decrypts with: the one the user gave, or the one hearth generated. */
export function hostRecipient(fleet: Fleet, manifest: Manifest, host: string): string | undefined {
  const given = fleet.hosts.get(host)?.sshHostKey;
  if (given) return normalise(given);
  return manifest.secrets[hostKeyKey(host)]?.public;
}

const normalise = (k: string) => {
  const r = parseRecipient(k);
  return r.ok ? r.recipient.text : k;
};

export function adminRecipients(fleet: Fleet): string[] {
  return [...new Set(adminRecipientInputs(fleet.admins).map((a) => normalise(a.text)))].sort();
}

/** Who a secret must be encrypted to now; hosts whose key does not exist yet are listed apart. */
export function desiredRecipients(s: PlannedSecret, fleet: Fleet, manifest: Manifest): { recipients: string[]; waitingFor: string[] } {
  const recipients = new Set(adminRecipients(fleet));
  const waitingFor: string[] = [];
  for (const h of s.readers) {
    const r = hostRecipient(fleet, manifest, h);
    if (r) recipients.add(r);
    else waitingFor.push(h);
  }
  return { recipients: [...recipients].sort(), waitingFor };
}

/** `unknown`: the secret may belong to a host whose file is invalid, so nobody can say whether it is needed. */
export type SecretState = "ok" | "missing" | "stale" | "modified" | "unreadable" | "orphaned" | "unknown";

export interface StatusRow {
  key: string;
  file: string;
  kind: string;
  state: SecretState;
  description: string;
  readers: string[];
  /** Recipients the file is encrypted to (per the manifest), named where hearth knows the key. */
  recipients: string[];
  /** Why the state is not ok, and the command that fixes it. */
  detail?: string;
  fix?: string;
  /** Recipients dropped since the value was made (they may still hold an old copy). */
  formerRecipients: string[];
}

export interface SecretsOnDisk {
  manifest: Manifest;
  /** sha256 of each existing .age file, by fleet-relative path. */
  files: Map<string, string>;
  /**
   * Hosts whose file exists but is invalid (so they are missing from `fleet`), with that file:
   * what they need is unknown, so their secrets must not look orphaned or stale.
   */
  invalidHosts?: Map<string, string>;
}

/** "hosts/a.yaml is invalid" / "hosts/a.yaml and hosts/b.yaml are invalid". */
export function invalidHostsText(invalid: Map<string, string>): string {
  const files = [...invalid.values()].sort();
  return files.length === 1 ? `${files[0]} is invalid` : `${files.slice(0, -1).join(", ")} and ${files[files.length - 1]} are invalid`;
}

/** Names for recipient keys: `admin juuso`, `host beta`. */
export function recipientNames(fleet: Fleet, manifest: Manifest, invalidHosts?: Map<string, string>): Map<string, string> {
  const names = new Map<string, string>();
  // Hosts removed from the fleet are still named by the key hearth once made for them.
  for (const [key, e] of Object.entries(manifest.secrets)) {
    const m = /^hosts\/([^/]+)\/ssh-host-key$/.exec(key);
    if (m && e.public) names.set(e.public, fleet.hosts.has(m[1]!) ? `host ${m[1]}` : invalidHosts?.has(m[1]!) ? `host ${m[1]} (file invalid)` : `removed host ${m[1]}`);
  }
  for (const a of adminRecipientInputs(fleet.admins)) names.set(normalise(a.text), `admin ${a.admin}`);
  for (const h of fleet.hosts.keys()) {
    const r = hostRecipient(fleet, manifest, h);
    if (r) names.set(r, `host ${h}`);
  }
  return names;
}

export function secretsStatus(planned: PlannedSecret[], fleet: Fleet, disk: SecretsOnDisk): StatusRow[] {
  const invalid = disk.invalidHosts ?? new Map<string, string>();
  const unknownWhy = invalid.size ? `unknown while ${invalidHostsText(invalid)}` : "";
  // The keys hearth made for the invalid hosts: a secret still encrypted to one is not "stale".
  const invalidKeys = new Set([...invalid.keys()].map((h) => disk.manifest.secrets[hostKeyKey(h)]?.public).filter((k): k is string => !!k));
  const names = recipientNames(fleet, disk.manifest, invalid);
  const name = (r: string) => names.get(r) ?? `unknown key ${r.slice(0, 24)}…`;
  const named = (rs: string[]) => [...new Set(rs.map(name))];
  const rows: StatusRow[] = [];
  for (const s of planned) {
    const entry = disk.manifest.secrets[s.key];
    const sha = disk.files.get(s.file);
    const base = { key: s.key, file: s.file, kind: s.kind, description: s.description, readers: s.readers, recipients: named(entry?.recipients ?? []), formerRecipients: named(entry?.formerRecipients ?? []) };
    if (sha === undefined || !entry) {
      rows.push({
        ...base,
        state: "missing",
        detail: sha === undefined ? "no encrypted file" : "file exists but the manifest has no record of it",
        fix: s.kind === "validator-keystore" || s.kind === "validator-password" ? `hearth validator import KEYSTORE --host ${s.readers[0] ?? "HOST"}` : s.userProvided ? `hearth secrets set ${s.key.slice("custom/".length)}` : sha === undefined ? "hearth secrets generate" : `hearth secrets generate --rotate ${s.key}`,
      });
      continue;
    }
    if (entry.sha256 !== sha) {
      rows.push({ ...base, state: "modified", detail: "the file changed outside hearth, so who can read it is unknown", fix: "hearth secrets rekey (re-encrypts it to the planned recipients)" });
      continue;
    }
    const want = desiredRecipients(s, fleet, disk.manifest);
    const have = new Set(entry.recipients);
    const lacking = want.recipients.filter((r) => !have.has(r));
    const extra = entry.recipients.filter((r) => !want.recipients.includes(r));
    if (invalid.size && extra.length && extra.every((r) => invalidKeys.has(r)) && !lacking.length && !want.waitingFor.length) {
      // Also readable by a host whose file is invalid: whether it still should be is unknown.
      rows.push({ ...base, state: "unknown", detail: `${unknownWhy}; also encrypted to ${named(extra).join(", ")}`, fix: `fix ${[...invalid.values()].sort().join(", ")} (\`hearth validate\`)` });
    } else if (want.waitingFor.length) {
      rows.push({ ...base, state: "stale", detail: `waits for the SSH host key of ${want.waitingFor.join(", ")}`, fix: "hearth secrets generate (creates the host keys, then re-encrypts)" });
    } else if (lacking.length || extra.length) {
      const parts = [
        ...(lacking.length ? [`not readable by ${named(lacking).join(", ")}`] : []),
        ...(extra.length ? [`still readable by ${named(extra).join(", ")}`] : []),
      ];
      rows.push({ ...base, state: "stale", detail: parts.join("; "), fix: "hearth secrets rekey" });
    } else rows.push({ ...base, state: "ok" });
  }
  const plannedKeys = new Set(planned.map((s) => s.key));
  for (const [key, e] of Object.entries(disk.manifest.secrets)) {
    if (plannedKeys.has(key)) continue;
    if (invalid.size) {
      // Any host file that does not load might need it: never call it orphaned (nor offer to prune it).
      const owner = /^hosts\/([^/]+)\//.exec(key)?.[1];
      const why = owner && invalid.has(owner) ? `unknown while ${invalid.get(owner)} is invalid` : unknownWhy;
      rows.push({
        key,
        file: fileOf(key),
        kind: e.kind,
        description: owner && invalid.has(owner) ? `a secret of ${owner}` : "not needed by any valid host",
        readers: owner && invalid.has(owner) ? [owner] : [],
        recipients: named(e.recipients),
        formerRecipients: [],
        state: "unknown",
        detail: why,
        fix: `fix ${owner && invalid.has(owner) ? invalid.get(owner) : [...invalid.values()].sort().join(", ")} (\`hearth validate\`)`,
      });
      continue;
    }
    rows.push({
      key,
      file: fileOf(key),
      kind: e.kind,
      description: "no longer needed by any host",
      readers: [],
      recipients: named(e.recipients),
      // Nothing uses it any more, so there is nothing to rotate: pruning is the fix.
      formerRecipients: [],
      state: "orphaned",
      detail: "kept encrypted to the admins only after a rekey",
      fix: "hearth secrets rekey --prune deletes it",
    });
  }
  return rows;
}

/** Findings for `hearth generate`: a flake whose hosts cannot decrypt what they need is refused. */
export function secretIssues(rows: StatusRow[], planned: PlannedSecret[]): Issue[] {
  const needed = new Set(planned.filter((s) => s.uses.some((u) => u.delivery === "activation")).map((s) => s.key));
  return rows
    .filter((r) => needed.has(r.key) && r.state !== "ok")
    .map((r) => ({
      severity: "error" as const,
      file: r.file,
      path: [] as YamlPath,
      message: `secret ${r.key} (${r.description}, read by ${r.readers.join(", ")}) is ${r.state}: ${r.detail}`,
      hint: `run \`${r.fix}\``,
    }));
}

/** Each host's activation-time secrets, indexed once (a fleet plan asks for every host). */
export function activationSecretsByHost(planned: PlannedSecret[]): Map<string, { secret: PlannedSecret; use: SecretUse }[]> {
  const by = new Map<string, { secret: PlannedSecret; use: SecretUse }[]>();
  for (const secret of planned)
    for (const use of secret.uses) {
      if (use.delivery !== "activation") continue;
      const list = by.get(use.host) ?? [];
      if (!list.some((x) => x.secret === secret)) list.push({ secret, use });
      by.set(use.host, list);
    }
  return by;
}

/** A host's agenix declarations: every secret it decrypts at activation. */
export function agenixConfig(
  host: string,
  planned: PlannedSecret[] | Map<string, { secret: PlannedSecret; use: SecretUse }[]>,
  fileRelToHostModule: (file: string) => string,
): NixValue | undefined {
  const mine = (planned instanceof Map ? planned : activationSecretsByHost(planned)).get(host) ?? [];
  const secrets: Record<string, NixValue> = {};
  for (const { secret: s, use } of mine) {
    secrets[s.id] = {
      file: nix.path(fileRelToHostModule(s.file)),
      ...(use.path !== `${AGENIX_DIR}/${s.id}` ? { path: use.path } : {}),
      ...(use.owner ? { owner: use.owner } : {}),
      ...(use.group ? { group: use.group } : {}),
      ...(use.mode ? { mode: use.mode } : {}),
    };
  }
  return Object.keys(secrets).length ? { age: { secrets } } : undefined;
}

/** agenix's secrets.nix, so the agenix CLI (`agenix -e`, `agenix -r`) agrees with hearth. */
export function agenixRules(planned: PlannedSecret[], fleet: Fleet, manifest: Manifest): NixValue {
  const out: Record<string, NixValue> = {};
  for (const s of planned) {
    const key = s.file.slice(SECRETS_DIR.length + 1);
    out[key] = { publicKeys: desiredRecipients(s, fleet, manifest).recipients };
  }
  return out;
}
