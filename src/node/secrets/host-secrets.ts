// One host's secrets: generate what it is missing, or rotate one of them, without touching any
// other host's files. The fleet-wide `generate` does the work on a store narrowed to the host's
// own secrets (hosts/<name>/…); agenix's rules are then written for the whole fleet again.
import { KINDS } from "../../core/secrets/kinds.js";
import { hostKeyKey } from "../../core/secrets/plan.js";
import { generate, reencrypt, status, writeRules, type GenerateReport, type SecretsStore } from "./store.js";
import { SecretError, type LoadedIdentity } from "./age.js";

export interface HostSecretsReport extends GenerateReport {
  /** Secrets re-encrypted to the host's new SSH key after a rotation. */
  reencrypted: string[];
  /** What the rotation means for the machine (an SSH host key is pinned by deploy). */
  notes: string[];
}

const own = (host: string) => (key: string) => key.startsWith(`hosts/${host}/`);

/**
 * The host's own generated secrets that can be rotated here. Disk keys are not: the disk was
 * formatted with the old one, so a new value in the fleet would no longer open it.
 */
export function rotatable(s: SecretsStore, host: string): string[] {
  return s.planned.filter((p) => own(host)(p.key) && !p.userProvided && KINDS[p.kind].generated && KINDS[p.kind].delivery !== "disk").map((p) => p.key);
}

/** What a new value of `key` means for the running machines, in words for the UI. */
export function rotationNotes(s: SecretsStore, host: string, key: string): string[] {
  const p = s.planned.find((x) => x.key === key);
  if (!p) return [];
  if (key === hostKeyKey(host))
    return [
      `${host} has a new SSH host key in the fleet, but the machine keeps the old one until it gets the new key: an installed host with \`hearth deploy ${host} --install\`, a RAM-booted host with \`hearth prepare ${host}\` (the key lives on its secrets volume), then a deploy.`,
      `hearth pins the key recorded in secrets/manifest.json, which is the new key now: until the machine presents it, deploy, unlock and the monitor refuse to talk to ${host} (host key mismatch), and ${host} cannot decrypt the secrets re-encrypted to the new key.`,
    ];
  if (p.kind === "wireguard-key") return [`Every mesh peer of ${host} gets its new public key: deploy ${host} and its peers; until then the tunnels to ${host} stay down.`];
  const readers = p.readers.filter((r) => r !== host);
  return [`The new value takes effect when ${[host, ...readers].join(" and ")} ${readers.length ? "are" : "is"} next deployed (agenix decrypts it at activation); the old value stays in use until then.`];
}

/**
 * Create the host's missing secrets, or with `rotate` a new value for one of its own secrets.
 * A new SSH host key changes the recipient of everything the host reads: those are re-encrypted
 * to it when `identities` are given, else reported stale (`hearth secrets rekey`).
 */
export async function generateForHost(s: SecretsStore, host: string, rotate?: string, identities?: LoadedIdentity[]): Promise<HostSecretsReport> {
  if (!s.fleet.hosts.has(host)) throw new SecretError(`no host '${host}' in the fleet`);
  if (rotate !== undefined && !rotatable(s, host).includes(rotate))
    throw new SecretError(`${rotate} is not a generated secret of ${host}; its own secrets are ${rotatable(s, host).join(", ") || "none"}`);
  const narrowed: SecretsStore = { ...s, planned: s.planned.filter((p) => own(host)(p.key)) };
  const r = await generate(narrowed, rotate ? [rotate] : []);
  // generate wrote the rules of the narrowed plan (if anything changed): the fleet's again.
  writeRules(s);
  const notes = rotate ? rotationNotes(s, host, rotate) : [];
  let reencrypted: string[] = [];
  const readByHost = status(s)
    .filter((row) => row.state === "stale" && (row.readers.includes(host) || own(host)(row.key)) && !row.detail?.startsWith("waits for"))
    .map((row) => row.key);
  if (rotate === hostKeyKey(host) && readByHost.length && identities?.length) reencrypted = await reencrypt(s, readByHost, identities);
  const stale = status(s)
    .filter((row) => (row.state === "stale" || row.state === "modified") && (row.readers.includes(host) || own(host)(row.key)))
    .map((row) => row.key);
  return { ...r, stale, reencrypted, notes };
}
