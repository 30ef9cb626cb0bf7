// Issue 13, shown on a real consensus client: Lodestar 1.5.1 (the kit in ../shared/kits) runs
// the command lines hearth generates for Lodestar, on a local dev chain. Adapted only where the
// dev chain needs it, each adaptation named in adaptBeacon/adaptValidator:
//   - `--network mainnet` becomes `--network dev --params.SECONDS_PER_SLOT 2`;
//   - the beacon node runs `lodestar dev` (genesis made here, validators 0..5 in process, p2p on
//     loopback) without an execution client or checkpoint sync, which a dev chain has not, and
//     without its metrics flags, which the in-process validators would take too (one port).
// Everything else is hearth's: the validator's data dir, key layout, beacon URL, fee recipient,
// doppelganger protection and metrics flags; `hearth validator import` encrypts the keystores
// (made by Lodestar's own libraries), and they reach the client the way agenix places them on a
// host (decrypted with that host's key, symlinked at the path hearth planned); `hearth validator
// move` carries the slashing protection to another client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, cpSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { planFleetDir } from "../src/node/fleet-plan.js";
import { moveValidators, type ValidatorHost } from "../src/node/validators/move.js";
import { loadIdentityFile } from "../src/node/secrets/age.js";
import { addTestAdmin, ageDecrypt, ADMIN_KEY, hearth, tempDir, writeFleet } from "./support/fleet.js";
import {
  attestedIn,
  doppelgangerDetected,
  ensureLodestarKit,
  headSlot,
  interopKeystores,
  KEYS_LOADED,
  LodestarKitUnavailable,
  startLodestar,
  stopAll,
  validatorIndices,
  waitForAttestation,
  chainSpec,
  type LodestarProcess,
} from "./support/lodestar-kit.js";

const REST = 19596;
const P2P = 19500;
const FEE = "0x00000000219ab540356cBB839Cbe05303d7705Fa";
const PASSWORD = "a staker's keystore password";

let kit: { bin: string; dir: string } | undefined;
let skip: string | false = false;
before(async () => {
  try {
    kit = await ensureLodestarKit();
  } catch (e) {
    if (e instanceof LodestarKitUnavailable) skip = e.message;
    else throw e;
  }
});
after(stopAll);

/** The dev chain's changes to hearth's `lodestar beacon …` (see the top of this file). */
function adaptBeacon(args: string[]): string[] {
  const out = ["dev", "--genesisValidators", "8", "--startValidators", "0..5", "--reset", "--params.SECONDS_PER_SLOT", "2", "--listenAddress", "127.0.0.1", "--beaconNodes", `http://127.0.0.1:${REST}`];
  const drop = new Set(["--execution.urls", "--jwt-secret", "--checkpointSyncUrl", "--network", "--metrics.address", "--metrics.port"]);
  for (let i = 1; i < args.length; i++) {
    if (drop.has(args[i]!)) {
      i++;
      continue;
    }
    // The in-process validators of `dev` would open the same metrics port (kit README).
    if (args[i] === "--metrics") continue;
    out.push(args[i]!);
  }
  return out;
}

/** The dev chain's changes to any other `lodestar …` command hearth runs: its network. */
function adaptValidator(args: string[]): string[] {
  const i = args.indexOf("--network");
  assert.ok(i >= 0 && args[i + 1] === "mainnet", `hearth's command line names its network: ${args.join(" ")}`);
  return [...args.slice(0, i), "--network", "dev", "--params.SECONDS_PER_SLOT", "2", ...args.slice(i + 2)];
}

const hostVolume = (root: string) => ({ data: { type: "btrfs", format: false, devices: ["/dev/disk/by-id/nvme-test"], subvolumes: { secrets: { mountpoint: `${root}/secrets` }, data: { mountpoint: `${root}/data` } } } });

test("Lodestar runs hearth's command lines: imported keys attest, a move keeps slashing protection, doppelganger protection stops a second client", { timeout: 600_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const root = tempDir("hearth-lodestar-");
  const hostRoot = (h: string) => join(root, "hosts", h);

  // A fleet: one beacon node, two hosts with a Lodestar validator client each.
  const validator = (h: string, metrics: number) => ({ client: "lodestar", dataDir: `${hostRoot(h)}/data/lodestar-validator`, beaconNodes: [`http://127.0.0.1:${REST}`], feeRecipient: FEE, ports: { metrics } });
  const dir = writeFleet({
    "fleet.yaml": stringify({ name: "lodestar-demo", admins: { ops: { sshKeys: [ADMIN_KEY] } } }),
    "hosts/bn.yaml": stringify({ ephemeral: true, storage: { volumes: hostVolume(hostRoot("bn")) }, network: { addresses: ["127.0.1.1/8"] }, services: { consensus: { client: "lodestar", dataDir: `${hostRoot("bn")}/data/lodestar`, address: "127.0.0.1", executionEndpoint: "http://127.0.0.1:8551", jwtSecretFile: "/etc/hearth-test/jwt.hex", ports: { p2p: P2P, http: REST, metrics: 19508 } } } }),
    "hosts/sigma.yaml": `# sigma: the validators' first home\n${stringify({ ephemeral: true, storage: { volumes: hostVolume(hostRoot("sigma")) }, network: { addresses: ["127.0.1.2/8"] }, services: { validator: validator("sigma", 19565) } })}`,
    "hosts/beta.yaml": stringify({ ephemeral: true, storage: { volumes: hostVolume(hostRoot("beta")) }, network: { addresses: ["127.0.1.3/8"] }, services: { validator: validator("beta", 19566) } }),
  });
  const admin = await addTestAdmin(dir);
  const gen = hearth(["secrets", "generate", "-f", dir]);
  assert.equal(gen.code, 0, gen.stderr);

  // Keystores of genesis validators 6 and 7, made by Lodestar's own libraries, imported by hearth.
  const keystores = await interopKeystores({ indices: [6, 7], dir: join(root, "keystores"), password: PASSWORD });
  const imp = hearth(["validator", "import", ...keystores.map((k) => k.file), "--host", "sigma", "-f", dir], { input: PASSWORD + "\n" });
  assert.equal(imp.code, 0, imp.stderr);
  const pubkeys = keystores.map((k) => k.pubkey);

  /** What agenix does on the host at activation (agenix 0.15.0 modules/age.nix:78-90), with the host's own key. */
  function activate(host: string) {
    const planned = planFleetDir(dir, { requireSecrets: true });
    const hostKey = join(root, `${host}-ssh-host-key`);
    writeFileSync(hostKey, ageDecrypt(admin.identity, join(dir, `secrets/hosts/${host}/ssh-host-key.age`)).stdout, { mode: 0o600 });
    const agenixDir = join(hostRoot(host), "run-agenix");
    rmSync(agenixDir, { recursive: true, force: true });
    mkdirSync(agenixDir, { recursive: true, mode: 0o751 });
    for (const s of planned.plan.secrets) {
      const use = s.uses.find((u) => u.host === host && u.delivery === "activation");
      if (!use || !s.kind.startsWith("validator-")) continue;
      const plain = spawnSync("age", ["-d", "-i", hostKey, join(dir, s.file)]);
      assert.equal(plain.status, 0, `${host} cannot decrypt ${s.file}: ${plain.stderr}`);
      const file = join(agenixDir, s.id);
      writeFileSync(file, plain.stdout, { mode: 0o400 });
      mkdirSync(dirname(use.path), { recursive: true });
      rmSync(use.path, { force: true });
      symlinkSync(file, use.path);
    }
    return planned.plan.hosts.find((h) => h.name === host)!;
  }
  const processOf = (host: string, unit: string) => {
    const h = planFleetDir(dir, { requireSecrets: true }).plan.hosts.find((x) => x.name === host)!;
    return h.services.flatMap((s) => s.processes).find((p) => p.unit === unit)!;
  };

  // The beacon node, from hearth's command line for host bn.
  const bnArgs = processOf("bn", "lodestar").args;
  assert.deepEqual(bnArgs.slice(0, 3), ["beacon", "--network", "mainnet"]);
  mkdirSync(join(root, "chain"), { recursive: true });
  const beacon = startLodestar(adaptBeacon(bnArgs), { cwd: join(root, "chain"), name: "beacon" });
  const url = `http://127.0.0.1:${REST}`;
  await beacon.waitFor(/Started REST API server/, 60_000).catch(() => {});
  for (let i = 0; i < 240 && (await fetch(`${url}/eth/v1/node/health`).then((r) => r.status).catch(() => 0)) !== 200; i++) await new Promise((r) => setTimeout(r, 250));
  assert.equal((await fetch(`${url}/eth/v1/node/health`)).status, 200, beacon.tail(30));
  const { slotsPerEpoch } = await chainSpec(url);
  const epochNow = async () => Math.floor((await headSlot(url)) / slotsPerEpoch);
  const indices = await validatorIndices(url, pubkeys);
  assert.deepEqual([...indices.values()].sort(), [6, 7]);

  // sigma's validator client, exactly hearth's command line but for the network; keys where agenix puts them.
  activate("sigma");
  const sigmaArgs = processOf("sigma", "lodestar-validator").args;
  assert.ok(sigmaArgs.includes("--doppelgangerProtectionEnabled"), "doppelganger protection is on by default");
  const clients: Record<string, LodestarProcess> = {};
  const startClient = (host: string) => {
    const p = processOf(host, "lodestar-validator");
    mkdirSync(p.dataDirs[0]!, { recursive: true });
    clients[host] = startLodestar(adaptValidator(p.args), { cwd: p.dataDirs[0]!, name: `${host}-validator` });
    return clients[host]!;
  };
  const sigma = startClient("sigma");
  assert.match(await sigma.waitFor(KEYS_LOADED, 60_000), /2 local keystores/);
  const attested = await waitForAttestation(url, [6, 7], { timeoutMs: 180_000 });
  t.diagnostic(`sigma: validators 6 and 7 attested, included from epoch ${[...attested.values()].join(", ")}`);

  // The move: through hearth's own sequence, with these processes as the hosts' units.
  const host = (name: string): ValidatorHost => ({
    name,
    stop: async () => void (await clients[name]?.stop()),
    start: async () => void startClient(name),
    isActive: async () => !!clients[name] && !clients[name]!.exit(),
    run: async (cmd) => {
      assert.equal(cmd.binary, "lodestar");
      const r = spawnSync(kit!.bin, adaptValidator(cmd.args), { encoding: "utf8", timeout: 120_000 });
      if (r.status !== 0) throw new Error(`${name}: lodestar ${cmd.args.slice(0, 3).join(" ")} failed: ${r.stderr || r.stdout}`);
      return r.stdout;
    },
    readFile: async (p) => readFileSync(p, "utf8"),
    writeFile: async (p, text) => writeFileSync(p, text, { mode: 0o400 }),
    remove: async (p) => rmSync(p, { force: true }),
    scratch: () => {
      const s = join(hostRoot(name), "run-hearth-move");
      mkdirSync(s, { recursive: true });
      return s;
    },
  });
  const movedAt = await epochNow();
  const log: string[] = [];
  const moved = await moveValidators({ dir, pubkeys, to: "beta", confirm: "beta", identities: await loadIdentityFile(admin.identity), connect: host, log: (l) => log.push(l) });
  t.diagnostic(log.join("\n"));
  assert.deepEqual(moved.moved, pubkeys);
  assert.ok(sigma.exit(), "the old client was stopped");
  assert.ok(!existsSync(join(hostRoot("sigma"), `data/lodestar-validator/keystores/${pubkeys[0]}/voting-keystore.json`)), "the old client's keys are gone");
  // The fleet moved too: beta lists the keys, sigma none, and only beta's key opens them now.
  assert.ok(readFileSync(join(dir, "hosts/beta.yaml"), "utf8").includes(pubkeys[0]!));
  assert.ok(!readFileSync(join(dir, "hosts/sigma.yaml"), "utf8").includes(pubkeys[0]!));
  assert.match(readFileSync(join(dir, "hosts/sigma.yaml"), "utf8"), /^# sigma: the validators' first home/);
  assert.equal(hearth(["generate", dir]).code, 0);
  activate("beta");
  const sigmaKey = join(root, "sigma-ssh-host-key");
  assert.notEqual(spawnSync("age", ["-d", "-i", sigmaKey, join(dir, `secrets/validators/${pubkeys[0]}/keystore.age`)]).status, 0, "sigma can no longer decrypt the moved keystore");

  // beta's client (doppelganger protection on: it watches an epoch, then signs) keeps attesting.
  const beta = startClient("beta");
  assert.match(await beta.waitFor(KEYS_LOADED, 60_000), /2 local keystores/);
  const again = await waitForAttestation(url, [6, 7], { afterEpoch: movedAt + 1, timeoutMs: 240_000 });
  t.diagnostic(`beta: validators 6 and 7 attest again, from epoch ${[...again.values()].join(", ")}`);
  for (const [i, e] of again) assert.ok(await attestedIn(url, i, e));

  // Nothing slashable: no slashing in the pool, both validators active and not slashed.
  const slashings = (await (await fetch(`${url}/eth/v1/beacon/pool/attester_slashings`)).json()) as { data: unknown[] };
  assert.deepEqual(slashings.data, []);
  for (const i of [6, 7]) {
    const v = (await (await fetch(`${url}/eth/v1/beacon/states/head/validators/${i}`)).json()) as { data: { status: string; validator: { slashed: boolean } } };
    assert.equal(v.data.validator.slashed, false);
    assert.match(v.data.status, /^active_ongoing$/);
  }

  // Doppelganger: a second client with the same keys (copied elsewhere, as a mistaken second
  // machine would have them), hearth's command line: it detects the live keys and stops unsigned.
  const second = join(root, "second");
  // (Not the running client's lock files: Lodestar would refuse on those before doppelganger protection.)
  cpSync(join(hostRoot("beta"), "data/lodestar-validator/keystores"), join(second, "keystores"), { recursive: true, dereference: true, filter: (f) => !f.endsWith(".lock") });
  cpSync(join(hostRoot("beta"), "data/lodestar-validator/secrets"), join(second, "secrets"), { recursive: true, dereference: true });
  const betaArgs = processOf("beta", "lodestar-validator").args.map((a) => (a === `${hostRoot("beta")}/data/lodestar-validator` ? second : a === "19566" ? "19567" : a));
  const dup = startLodestar(adaptValidator(betaArgs), { cwd: second, name: "second-validator" });
  const d = await doppelgangerDetected(dup, 120_000);
  assert.deepEqual(d.indices.sort(), [6, 7]);
  assert.equal(d.publishedAttestations, false, "the second client signed nothing");
  assert.ok(!beta.exit(), "the real client keeps running");
});
