// Pull nodes from the admin's side: the signing key (`hearth signing`), signed releases
// (`hearth publish`) and identity drives (`hearth identity write`). Signing happens here, where
// the admin's identity is, never in `hearth serve`.
import { Command } from "commander";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve, join } from "node:path";
import { CliError, out, reportIssues, validated } from "./common.js";
import { validateFleetDir } from "../node/fleet-dir.js";
import { fleetOpt, identities, idOpt, wrap } from "./secrets.js";
import { openStore, show } from "../node/secrets/store.js";
import { adminRecipients } from "../core/secrets/plan.js";
import { planHost } from "../core/plan/host.js";
import { keyIdHex, parsePublicKey } from "../core/signing/minisign.js";
import { setInYaml } from "../core/fleet/edit.js";
import { writeFileAtomic } from "../node/fs-atomic.js";
import { addMachineAdoptOptions, adoptMachine, adoptMode, type MachineAdoptOptions } from "./adopt.js";

/**
 * The fleet as far as the signing commands need it: its schema must hold, but findings of the
 * rules may stand (a node class without signing keys is what `signing init` is there to fix).
 */
function parsedFleet(dir: string) {
  const v = validateFleetDir(dir);
  if (!v.fleet) {
    reportIssues(v.issues);
    throw new CliError("the fleet is not valid; nothing was written");
  }
  return v.fleet;
}

/** Adds a public key to fleet.yaml signing.publicKeys (keeping comments), once. */
function listPublicKey(fleetDir: string, line: string): void {
  const file = join(fleetDir, "fleet.yaml");
  const text = readFileSync(file, "utf8");
  const fleet = parsedFleet(fleetDir);
  const keys = ((fleet as unknown as { signing?: { publicKeys?: string[] } }).signing?.publicKeys ?? []).slice();
  if (keys.includes(line)) return;
  writeFileAtomic(file, setInYaml(text, ["signing", "publicKeys"], [...keys, line]));
}

const DURATION = /^(\d+)(m|h|d)$/;
const ms = (d: string) => {
  const m = DURATION.exec(d);
  if (!m) throw new CliError(`${d} is not a duration like 30d, 12h or 90m`, 2);
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
};

export function registerPull(program: Command): void {
  const signing = program.command("signing").description("the fleet's release signing key (minisign format, age-encrypted to the admins)");
  signing
    .command("init")
    .description("make the signing key: signing/key.age (admins only) and its public key in fleet.yaml signing.publicKeys")
    .option(...fleetOpt)
    .action(
      wrap(async (opts: { fleet: string }) => {
        const dir = resolve(opts.fleet);
        const { initSigningKey } = await import("../node/pull/signing.js");
        const k = await initSigningKey(dir, adminRecipients(parsedFleet(dir)));
        listPublicKey(dir, k.publicKey);
        out(`signing key ${k.keyId} made; signing/key.age is encrypted to the admins only`);
        out(`public key (in fleet.yaml signing.publicKeys, built into every node image): ${k.publicKey}`);
      }),
    );
  signing
    .command("rotate")
    .description("make a new signing key; a keyring signed by the current key tells the nodes to trust it")
    .option(...fleetOpt)
    .option(...idOpt)
    .option("--revoke <keyid...>", "key ids (minisign hex) the nodes must never trust again")
    .action(
      wrap(async (opts: { fleet: string; identity?: string[]; revoke?: string[] }) => {
        const dir = resolve(opts.fleet);
        const v = validated(dir);
        const { loadSigningKey, rotateSigningKey } = await import("../node/pull/signing.js");
        const current = await loadSigningKey(dir, await identities(opts.identity));
        const imageKeys = (v.fleet as unknown as { signing?: { publicKeys?: string[] } }).signing?.publicKeys ?? [];
        const r = await rotateSigningKey(dir, current, imageKeys, adminRecipients(v.fleet), opts.revoke);
        listPublicKey(dir, r.publicKey);
        out(`new signing key ${r.keyId}; keyring version ${r.keyringVersion} (signed by ${keyIdHex(current.keyId)}) is in releases/keyring.json`);
        if (opts.revoke?.length) out(`revoked: ${opts.revoke.join(", ")} (remove them from fleet.yaml signing.publicKeys before the next image)`);
      }),
    );

  program
    .command("publish")
    .description("sign each host's next configuration release into releases/<host>/ for `hearth serve` to roll out")
    .argument("[hosts...]", "hosts (default: every host of --image)")
    .option(...fleetOpt)
    .option(...idOpt)
    .option("--image <class>", "every host that boots this node class image")
    .option("--system <host=path...>", "the built system closure per host (default: nix build of nixosConfigurations.<host>)")
    .option("--substituter <url...>", "binary caches the nodes fetch closures from")
    .option("--cache-key <key...>", "the binary caches' signing keys (name:base64)")
    .option("--expires <duration>", "how long a node may apply the release", "30d")
    .option("--dry-run", "print what would be signed, sign nothing")
    .action(
      wrap(async (hosts: string[], opts: { fleet: string; identity?: string[]; image?: string; system?: string[]; substituter?: string[]; cacheKey?: string[]; expires: string; dryRun?: boolean }) => {
        const dir = resolve(opts.fleet);
        const v = validated(dir);
        const fleet = v.fleet;
        const chosen = hosts.length
          ? hosts
          : opts.image
            ? [...fleet.hosts.entries()].filter(([, h]) => (h as unknown as { image?: string }).image === opts.image).map(([n]) => n)
            : [];
        if (!chosen.length) throw new CliError(opts.image ? `no host boots image '${opts.image}'` : "name the hosts to publish, or --image CLASS", 2);
        for (const h of chosen) if (!fleet.hosts.has(h)) throw new CliError(`no host '${h}' in the fleet`, 2);
        const systems = new Map<string, string>();
        for (const s of opts.system ?? []) {
          const i = s.indexOf("=");
          if (i < 1) throw new CliError(`--system ${s}: expected HOST=/nix/store/…`, 2);
          systems.set(s.slice(0, i), s.slice(i + 1));
        }
        const missing = chosen.filter((h) => !systems.has(h));
        if (missing.length) {
          const cmds = missing.map((h) => `nix build path:${join(dir, "flake")}#nixosConfigurations.${h}.config.system.build.toplevel --no-link --print-out-paths`);
          if (opts.dryRun) for (const c of cmds) out(`would run: ${c}`);
          else {
            for (const h of missing) {
              try {
                const path = execFileSync("nix", ["build", `path:${join(dir, "flake")}#nixosConfigurations.${h}.config.system.build.toplevel`, "--no-link", "--print-out-paths", "--extra-experimental-features", "nix-command flakes"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
                systems.set(h, path);
              } catch {
                throw new CliError(`building ${h}'s system failed (see above); run \`hearth generate\` first, or pass --system ${h}=/nix/store/…`);
              }
            }
          }
        }
        const expires = new Date(Date.now() + ms(opts.expires)).toISOString();
        if (opts.dryRun) {
          for (const h of chosen) out(`would sign a release for ${h}: ${systems.get(h) ?? "(the built system)"}, expires ${expires}`);
          return;
        }
        const { loadSigningKey, writeRelease } = await import("../node/pull/signing.js");
        const key = await loadSigningKey(dir, await identities(opts.identity));
        const listed = (fleet as unknown as { signing?: { publicKeys?: string[] } }).signing?.publicKeys ?? [];
        if (listed.length && !listed.some((l) => keyIdHex(parsePublicKey(l).keyId) === keyIdHex(key.keyId)))
          out(`warning: signing key ${keyIdHex(key.keyId)} is not in fleet.yaml signing.publicKeys; nodes trust it only through a keyring`);
        for (const h of chosen) {
          const hp = planHost(fleet, h);
          const image = (fleet.hosts.get(h) as unknown as { image?: string }).image;
          const r = writeRelease(dir, key, { host: h, issued: new Date().toISOString(), expires, system: systems.get(h)!, substituters: opts.substituter ?? [], trustedPublicKeys: opts.cacheKey ?? [], files: {}, checks: hp.health, ...(image ? { image } : {}) });
          out(`signed ${r.file} (version ${r.version}, ${systems.get(h)})`);
        }
      }),
    );

  program
    .command("publish-image")
    .description("sign a node class's next image (kernel, initrd, OS image for the A/B sides) for `hearth serve` to roll out to its hosts")
    .argument("<class>", "the node class (fleet.yaml images:)")
    .requiredOption("--kernel <file>", "the kernel (bzImage)")
    .requiredOption("--initrd <file>", "the initrd")
    .requiredOption("--os <file>", "the OS image written to the side not booted")
    .option("--cmdline <params>", "kernel parameters of the new side", "")
    .option("--tries <n>", "boots systemd-boot tries before it falls back to the old side", "3")
    .option("--healthy-within <seconds>", "the new side must reach the server within this long after it boots", "600")
    .option("--expires <duration>", "how long nodes may apply it", "30d")
    .option(...fleetOpt)
    .option(...idOpt)
    .action(
      wrap(async (image: string, opts: { kernel: string; initrd: string; os: string; cmdline: string; tries: string; healthyWithin: string; expires: string; fleet: string; identity?: string[] }) => {
        const dir = resolve(opts.fleet);
        const v = validated(dir);
        const hosts = [...v.fleet.hosts.entries()].filter(([, h]) => (h as unknown as { image?: string }).image === image).map(([n]) => n);
        if (!hosts.length) throw new CliError(`no host boots image '${image}' (hosts/*.yaml image: ${image})`, 2);
        const tries = Number(opts.tries);
        const within = Number(opts.healthyWithin);
        if (!Number.isInteger(tries) || tries < 1 || tries > 20) throw new CliError(`--tries ${opts.tries}: a whole number from 1 to 20`, 2);
        if (!Number.isInteger(within) || within < 30) throw new CliError(`--healthy-within ${opts.healthyWithin}: at least 30 seconds`, 2);
        const { loadSigningKey, writeImageRelease } = await import("../node/pull/signing.js");
        const key = await loadSigningKey(dir, await identities(opts.identity));
        const r = writeImageRelease(dir, key, { image, issued: new Date().toISOString(), expires: new Date(Date.now() + ms(opts.expires)).toISOString(), cmdline: opts.cmdline, tries, healthyWithinSeconds: within, hosts }, { kernel: resolve(opts.kernel), initrd: resolve(opts.initrd), os: resolve(opts.os) });
        out(`signed ${r.file} (image ${image} version ${r.version}) for ${hosts.length} host(s): ${hosts.join(", ")}`);
      }),
    );

  const adopt = program
    .command("adopt")
    .description("make a pending node (booted with no identity drive) this host (--key: its identity goes to the node encrypted to the node's own key, signed), or describe a running machine as hosts/HOST.yaml (--address, --facter-report)")
    .argument("<host>", "host name")
    .option("--key <ssh-ed25519>", "the pending node's key, as `hearth serve` lists it")
    .option(...fleetOpt)
    .option(...idOpt)
    .option("--expires <duration>", "how long the node may take the adoption", "7d");
  addMachineAdoptOptions(adopt).action(
      wrap(async (host: string, opts: MachineAdoptOptions & { key: string; fleet: string; identity?: string[]; expires: string }) => {
        if (adoptMode(opts) === "machine") return adoptMachine(host, opts);
        const dir = resolve(opts.fleet);
        const v = validated(dir);
        const h = v.fleet.hosts.get(host);
        if (!h) throw new CliError(`no host '${host}' in the fleet`, 2);
        const store = openStore(dir, v.fleet);
        const pub = store.manifest.secrets[`hosts/${host}/ssh-host-key`]?.public;
        if (!pub) throw new CliError(`${host} has no SSH host key yet; run \`hearth secrets generate -f ${opts.fleet}\``);
        const ids = await identities(opts.identity);
        const priv = await show(store, `hosts/${host}/ssh-host-key`, ids);
        const { loadSigningKey, writeAdoption } = await import("../node/pull/signing.js");
        try {
          const key = await loadSigningKey(dir, ids);
          const rel = await writeAdoption(dir, key, { host, pendingKey: opts.key, identity: { host, sshPrivateKey: priv.toString("utf8"), sshPublicKey: pub }, expires: new Date(Date.now() + ms(opts.expires)).toISOString() });
          out(`wrote ${rel}: the pending node becomes ${host} at its next check-in (its identity is encrypted to the node's own key; the server cannot read it)`);
        } finally {
          priv.fill(0);
        }
      }),
    );

  const identity = program.command("identity").description("identity drives: a host's name, SSH host key and network identity for identical RAM-booted nodes");
  identity
    .command("write")
    .description("write a host's identity drive: --image FILE, or --device /dev/disk/by-id/… with --confirm HOST")
    .argument("<host>", "host name")
    .option(...fleetOpt)
    .option(...idOpt)
    .option("--image <file>", "write an image file (dd it to a drive later)")
    .option("--device <dev>", "write straight to this drive (everything on it is lost)")
    .option("--confirm <host>", "the host name typed again, required with --device")
    .action(
      wrap(async (host: string, opts: { fleet: string; identity?: string[]; image?: string; device?: string; confirm?: string }) => {
        const dir = resolve(opts.fleet);
        if (!!opts.image === !!opts.device) throw new CliError("give exactly one of --image FILE or --device /dev/disk/by-id/…", 2);
        if (opts.device && opts.confirm !== host) throw new CliError(`writing ${opts.device} erases it; type the host name again with --confirm ${host}`, 2);
        const v = validated(dir);
        const h = v.fleet.hosts.get(host);
        if (!h) throw new CliError(`no host '${host}' in the fleet`, 2);
        if (opts.image && existsSync(resolve(opts.image))) throw new CliError(`${opts.image} exists; hearth does not overwrite an identity image (it holds a host key)`, 2);
        const store = openStore(dir, v.fleet);
        const key = `hosts/${host}/ssh-host-key`;
        const pub = store.manifest.secrets[key]?.public;
        if (!pub) throw new CliError(`${host} has no SSH host key yet; run \`hearth secrets generate -f ${opts.fleet}\``);
        const priv = await show(store, key, await identities(opts.identity));
        const n = h.network as unknown as { interface?: string; mac?: string; addresses?: string[]; gateway?: string; dns?: string[] };
        const network = n?.interface ? { interfaces: [{ name: n.interface, mac: n.mac ?? "", ...(n.addresses ? { addresses: n.addresses } : {}) }], ...(n.gateway ? { gateway: n.gateway } : {}), ...(n.dns ? { dns: n.dns } : {}) } : undefined;
        const { writeIdentityImage, writeIdentityDevice } = await import("../node/identity/drive.js");
        const content = { host, fleet: v.fleet.name, sshPrivateKey: priv, sshPublicKey: pub, ...(network ? { network } : {}) };
        try {
          if (opts.image) {
            const size = writeIdentityImage(resolve(opts.image), content);
            out(`wrote ${opts.image} (${size} bytes, label HEARTH-ID, mode 0600): ${host}'s name, SSH host key and network identity`);
            out(`it holds ${host}'s private host key: write it to the drive (dd if=${opts.image} of=/dev/disk/by-id/… bs=1M) and delete the file`);
          } else {
            const tmp = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "hearth-idimg-"));
            try {
              writeIdentityImage(join(tmp, "id.img"), content);
              writeIdentityDevice(join(tmp, "id.img"), opts.device!);
            } finally {
              rmSync(tmp, { recursive: true, force: true });
            }
            out(`wrote ${host}'s identity to ${opts.device} (label HEARTH-ID); plug it into the machine and boot the ${(h as unknown as { image?: string }).image ?? "class"} image`);
          }
        } finally {
          priv.fill(0);
        }
      }),
    );
}
