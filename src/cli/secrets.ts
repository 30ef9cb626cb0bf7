// `hearth secrets …`: the lifecycle of the fleet's secrets. Values never come from argv and are
// printed only by `show`; everything else reports names, states and recipients.
import { Command } from "commander";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { readSecret } from "./prompt.js";
import { CliError, err, out, openStoreCli, reportIssues, validated } from "./common.js";
import { validateFleetDir } from "../node/fleet-dir.js";
import { loadIdentityFile, newAgeIdentity, type LoadedIdentity } from "../node/secrets/age.js";
import { UserError } from "../node/errors.js";
import { generate, invalidHostFiles, openStore, rekey, setUserSecret, show, status } from "../node/secrets/store.js";
import { writeBootstrapDir } from "../node/secrets/bootstrap-dir.js";
import { writeFileAtomic } from "../node/fs-atomic.js";
import { invalidHostsText, type StatusRow } from "../core/secrets/plan.js";

export const fleetOpt = ["-f, --fleet <dir>", "fleet directory", "."] as const;
export const idOpt = ["-i, --identity <file...>", "age identity or OpenSSH ed25519 private key of an admin (default $HEARTH_IDENTITY, ~/.config/hearth/identity.txt)"] as const;

import { defaultIdentityFile, initFleet } from "../node/init.js";

/** --identity files, else $HEARTH_IDENTITY, else hearth's default file, else ~/.ssh/id_ed25519. */
export async function identities(given: string[] | undefined): Promise<LoadedIdentity[]> {
  const candidates = given?.length
    ? given
    : process.env.HEARTH_IDENTITY
      ? process.env.HEARTH_IDENTITY.split(":").filter(Boolean)
      : [defaultIdentityFile(), join(homedir(), ".ssh", "id_ed25519")].filter((p) => existsSync(p)).slice(0, 1);
  if (candidates.length === 0)
    throw new CliError(`no identity to decrypt with: pass --identity FILE, set HEARTH_IDENTITY, or create ${defaultIdentityFile()} with \`hearth secrets keygen\``);
  const out: LoadedIdentity[] = [];
  for (const c of candidates) out.push(...(await loadIdentityFile(resolve(c))));
  return out;
}

export const wrap =
  <A extends unknown[]>(fn: (...a: A) => Promise<void> | void) =>
  async (...a: A) => {
    try {
      await fn(...a);
    } catch (e) {
      if (e instanceof UserError) throw new CliError(e.message);
      throw e;
    }
  };

export function loadStore(dir: string) {
  const fleetDir = resolve(dir);
  return openStoreCli(fleetDir, validated(fleetDir).fleet);
}

/**
 * For `status`: the store even while host files are invalid (fleet.yaml must load), with those
 * hosts' secrets reported as unknown rather than orphaned.
 */
function loadStoreForStatus(dir: string) {
  const fleetDir = resolve(dir);
  if (!existsSync(fleetDir)) throw new CliError(`fleet directory ${fleetDir} does not exist`);
  const v = validateFleetDir(fleetDir);
  const invalid = invalidHostFiles(v);
  if (!v.fleet || (!v.ok && invalid.size === 0)) return loadStore(dir);
  reportIssues(v.issues);
  try {
    return openStore(fleetDir, v.fleet, invalid);
  } catch (e) {
    if (e instanceof UserError) throw new CliError(e.message);
    throw e;
  }
}

function printStatus(rows: StatusRow[], invalid: Map<string, string>): void {
  const width = Math.max(...rows.map((r) => r.key.length), 3);
  out(`${"STATE".padEnd(10)} ${"SECRET".padEnd(width)}  READERS / RECIPIENTS`);
  for (const r of rows) {
    out(`${r.state.padEnd(10)} ${r.key.padEnd(width)}  ${r.readers.length ? `read by ${r.readers.join(", ")}` : "admins only"}; encrypted to ${r.recipients.join(", ") || "nobody yet"}`);
    if (r.detail) out(`${"".padEnd(10)} ${"".padEnd(width)}  ${r.detail}${r.fix ? ` → ${r.fix}` : ""}`);
    // Rotating is a remedy for a settled fleet; while a host file is invalid nothing destructive is suggested.
    if (r.formerRecipients.length && invalid.size === 0)
      out(`${"".padEnd(10)} ${"".padEnd(width)}  was readable by ${r.formerRecipients.join(", ")}: rotate it (hearth secrets generate --rotate ${r.key})`);
  }
  const bad = rows.filter((r) => r.state !== "ok");
  out(`${rows.length} secret(s): ${rows.length - bad.length} ok${bad.length ? `, ${bad.length} need attention` : ""}`);
  if (invalid.size) out(`${invalidHostsText(invalid)}: secrets marked unknown may belong to it; fix it before rekeying or pruning`);
}


/**
 * `hearth init`: a new fleet from a bundled example, with the caller as an admin (their age
 * identity, created if they have none) and every secret generated, ready for `hearth generate`.
 */
export function registerInit(program: Command): void {
  program
    .command("init")
    .description("create a fleet directory from a bundled example, add you as an admin and generate its secrets")
    .argument("<dir>", "new fleet directory")
    .option("-e, --example <name>", "bundled example to start from", "homestaking")
    .option("--admin <name>", "your admin name in fleet.yaml", (process.env.USER ?? "me").toLowerCase().replace(/[^a-z0-9_-]/g, "") || "me")
    .option(...idOpt)
    .action(
      wrap(async (target: string, opts: { example: string; admin: string; identity?: string[] }) => {
        const dir = resolve(target);
        const r = await initFleet(dir, { example: opts.example, admin: opts.admin, ...(opts.identity?.[0] ? { identity: resolve(opts.identity[0]) } : {}) });
        out(r.identityCreated ? `created your admin identity ${r.identity} (keep it safe and backed up: it decrypts this fleet's secrets)` : `using your identity ${r.identity}`);
        out(`${r.secretsCreated} secret(s) generated and encrypted to you${r.admins > 1 ? " and the example's other admins" : ""}`);
        out(`created ${dir} from examples/${opts.example}`);
        out(`next: hearth generate ${target}    (writes the NixOS flake to ${join(target, "flake")})`);
      }),
    );
}

export function registerSecrets(program: Command): void {
  const cmd = program.command("secrets").description("generate, encrypt, rekey and inspect the fleet's secrets (age, agenix layout)");

  cmd
    .command("status")
    .description("which secrets exist, who can decrypt each, and which are missing, stale or orphaned")
    .option(...fleetOpt)
    .option("--json", "machine-readable output")
    .option("--check", "exit with status 1 unless every secret is ok")
    .action(
      wrap((opts: { fleet: string; json?: boolean; check?: boolean }) => {
        const store = loadStoreForStatus(opts.fleet);
        const rows = status(store);
        if (opts.json) out(JSON.stringify(rows, null, 2));
        else printStatus(rows, store.invalidHosts);
        if (opts.check && rows.some((r) => r.state !== "ok")) throw new CliError("", 1);
      }),
    );

  cmd
    .command("generate")
    .description("create every missing secret (idempotent); never replaces one unless named with --rotate")
    .option(...fleetOpt)
    .option("--rotate <secret...>", "make a new value for these secrets (see `hearth secrets status` for names)")
    .action(
      wrap(async (opts: { fleet: string; rotate?: string[] }) => {
        const store = loadStore(opts.fleet);
        const r = await generate(store, opts.rotate ?? [], out);
        out(`${r.created.length} created, ${r.rotated.length} rotated, ${store.planned.length - r.created.length - r.rotated.length} unchanged`);
        for (const k of r.unset)
          err(k.startsWith("validators/") ? `${k} is not imported yet: hearth validator import KEYSTORE --host HOST` : `${k} is user-provided and not set: hearth secrets set ${k.slice("custom/".length)}`);
        if (r.stale.length) err(`${r.stale.length} secret(s) must be re-encrypted (${r.stale.join(", ")}): hearth secrets rekey`);
      }),
    );

  cmd
    .command("rekey")
    .description("re-encrypt secrets to the current hosts and admins (after a host key, host or admin changed); decrypts in memory only")
    .option(...fleetOpt)
    .option(...idOpt)
    .option("--prune", "delete secrets no host needs any more")
    .option("--all", "re-encrypt every secret, not only stale ones")
    .action(
      wrap(async (opts: { fleet: string; identity?: string[]; prune?: boolean; all?: boolean }) => {
        if (opts.prune) {
          // An invalid host file makes its host's secrets look orphaned: never prune then.
          const fleetDir = resolve(opts.fleet);
          const invalid = existsSync(fleetDir) ? invalidHostFiles(validateFleetDir(fleetDir)) : new Map<string, string>();
          if (invalid.size) throw new CliError(`${invalidHostsText(invalid)}; --prune would delete the secrets of its host. Fix it first (hearth validate ${opts.fleet}); nothing was changed`);
        }
        const store = loadStore(opts.fleet);
        const r = await rekey(store, await identities(opts.identity), { prune: opts.prune, all: opts.all }, out);
        out(`${r.rekeyed.length} re-encrypted, ${r.pruned.length} deleted, ${r.unchanged} unchanged`);
      }),
    );

  cmd
    .command("show")
    .description("decrypt one secret to stdout with an admin identity")
    .argument("<secret>", "secret name, e.g. k3s-token or beta/ethereum-jwt")
    .option(...fleetOpt)
    .option(...idOpt)
    .action(
      wrap(async (name: string, opts: { fleet: string; identity?: string[] }) => {
        const value = await show(loadStore(opts.fleet), name, await identities(opts.identity));
        process.stdout.write(value);
        value.fill(0);
      }),
    );

  cmd
    .command("set")
    .description("store a user-provided secret declared under secrets.custom in fleet.yaml; the value is read from stdin or a prompt, never from the command line")
    .argument("<name>", "name under secrets.custom")
    .option(...fleetOpt)
    .action(
      wrap(async (name: string, opts: { fleet: string }) => {
        const store = loadStore(opts.fleet);
        const value = await readSecret(`value for ${name}: `, { confirm: true });
        if (value.length === 0) throw new CliError("empty value; nothing was stored");
        const p = await setUserSecret(store, name, value);
        out(`stored ${p.file}, readable by ${p.readers.length ? `${p.readers.join(", ")} and the admins` : "the admins only"}`);
      }),
    );

  cmd
    .command("keygen")
    .description("create an admin age identity and print its recipient for fleet.yaml admins.<you>.ageKeys")
    .option("-o, --out <file>", "identity file", defaultIdentityFile())
    .action(
      wrap(async (opts: { out: string }) => {
        const path = resolve(opts.out);
        if (existsSync(path)) throw new CliError(`${path} exists; hearth never overwrites an identity (choose another --out)`);
        const id = await newAgeIdentity();
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        writeFileAtomic(path, id.text, 0o600);
        out(`wrote ${path} (keep it safe: it decrypts every secret of fleets that list it)`);
        out(`recipient: ${id.recipient}`);
        out(`add it to fleet.yaml:  admins.<you>.ageKeys: [ "${id.recipient}" ]`);
      }),
    );

  cmd
    .command("extra-files")
    .description("decrypt what a host needs before first boot (SSH host keys, disk keys) into a tmpfs directory for nixos-anywhere")
    .argument("<host>", "host name")
    .option(...fleetOpt)
    .option(...idOpt)
    .option("-o, --out <dir>", "new directory on a tmpfs (default: a fresh one under $XDG_RUNTIME_DIR or /dev/shm)")
    .option("--allow-disk", "allow an --out directory that is not on a tmpfs")
    .action(
      wrap(async (host: string, opts: { fleet: string; identity?: string[]; out?: string; allowDisk?: boolean }) => {
        const store = loadStore(opts.fleet);
        const b = await writeBootstrapDir(store, host, await identities(opts.identity), { ...(opts.out ? { out: opts.out } : {}), allowDisk: !!opts.allowDisk });
        out(`wrote ${b.count} file(s) for ${host} to ${b.dir} (plaintext on tmpfs: delete it after the install)`);
        out(`nixos-anywhere --flake .#${host} --extra-files ${b.extraFiles} ${b.diskKeys.map((k) => `--disk-encryption-keys ${k.remote} ${k.local}`).join(" ")} root@HOST`);
      }),
    );
}
