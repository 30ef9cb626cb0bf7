// Ethereum clients as the pinned versions really are (issue 13): every flag hearth emits, for
// every combination of settings the schema allows, is one the client has (data/client-flags,
// each file naming the client's source and tag); every execution × consensus × validator
// combination validates and generates, on one host and across hosts; the defects found against
// the clients' source stay fixed.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadFleet } from "../src/core/fleet/load.js";
import { checkRules } from "../src/core/validate/rules.js";
import { plan } from "../src/core/plan/plan.js";
import { hostServices } from "../src/core/plan/host.js";
import { readStaticNix } from "../src/node/fleet-dir.js";
import { CLIENT_FLAGS, parseArgs } from "../src/core/services/ethereum/flags.js";
import { DEFAULT_CHECKPOINT, DEFAULT_RELAYS, SERVICE_UIDS } from "../src/core/services/ethereum/common.js";
import { KINDS_BY_ROLE } from "../src/core/services/registry.js";
import { coverageProblems, interchangeFor, SLASHING } from "../src/core/validators/slashing.js";
import type { Issue } from "../src/core/validate/issues.js";
import { ADMIN_KEY } from "./support/fleet.js";
import { UPSTREAM } from "./support/nixos-eval.js";

const FLEET = stringify({ name: "t", admins: { ops: { sshKeys: [ADMIN_KEY] } }, ethereum: { network: "mainnet" } });
const PK = (n: number) => `0x${n.toString(16).padStart(2, "0").repeat(48)}`;
const VOLUMES = { data: { type: "btrfs", format: false, devices: ["/dev/disk/by-id/nvme-x"], subvolumes: { d: { mountpoint: "/var/lib" }, secrets: { mountpoint: "/var/mnt/secrets" } } } };

type Host = Record<string, unknown>;
const host = (services: Record<string, unknown>, extra: Host = {}): Host => ({ ephemeral: true, storage: { volumes: VOLUMES }, network: { interface: "eth0", addresses: ["10.0.0.5/24"] }, services, ...extra });

/** Validate and plan an in-memory fleet as `hearth generate` does; an exception is an internal error. */
function run(hosts: Record<string, Host>, fleetYaml = FLEET) {
  const files: Record<string, string> = { "fleet.yaml": fleetYaml };
  for (const [n, h] of Object.entries(hosts)) files[`hosts/${n}.yaml`] = stringify(h);
  const loaded = loadFleet(files);
  const issues: Issue[] = [...loaded.issues];
  if (loaded.fleet && !issues.some((i) => i.severity === "error")) issues.push(...checkRules({ fleet: loaded.fleet, sources: loaded.sources, hostFiles: loaded.hostFiles, files }));
  const errors = issues.filter((i) => i.severity === "error");
  const planned = loaded.fleet && !errors.length ? plan({ fleet: loaded.fleet, staticFiles: STATIC, fleetFiles: files }) : undefined;
  return { loaded, issues, errors, planned };
}
const STATIC = readStaticNix();

const CLIENTS = (role: "execution" | "consensus" | "validator") => KINDS_BY_ROLE[role].map((k) => k.id);

describe("flag data: the pinned clients' own flags", () => {
  test("one data file per client hearth offers, at exactly the version ethereum.nix pins, naming its source", () => {
    const offered = new Set([...CLIENTS("execution"), ...CLIENTS("consensus"), ...CLIENTS("validator"), "mev-boost"]);
    assert.deepEqual([...offered].sort(), Object.keys(CLIENT_FLAGS).sort());
    for (const [id, data] of Object.entries(CLIENT_FLAGS)) {
      // ethereum.nix 4e6ce0a packages/<name>/package.nix: `version = "…";`
      const pkg = readFileSync(join(UPSTREAM, "ethereum.nix/packages", id, "package.nix"), "utf8");
      assert.equal(data.version, /version = "([^"]+)";/.exec(pkg)?.[1], `${id}: the data file's version is not the pinned one`);
      assert.match(data.source.repo, /^[\w.-]+\/[\w.-]+\b/, `${id}: source.repo`);
      assert.ok(Object.keys(data.commands).length > 0 && Object.values(data.commands).every((c) => Object.keys(c.flags).length > 5), `${id}: commands`);
    }
  });

  test("the reader finds what the clients refuse: unknown, repeated, missing and detached values, wrong switches", () => {
    assert.deepEqual(parseArgs("lighthouse", "lighthouse", ["bn", "--datadir", "/d", "--http"]).problems, []);
    const typo = parseArgs("lighthouse", "lighthouse", ["bn", "--exection-endpoint", "http://x"]).problems;
    assert.equal(typo[0]?.kind, "unknown");
    assert.equal(typo[0]?.suggestion, "--execution-endpoint");
    assert.equal(parseArgs("lighthouse", "lighthouse", ["bn", "--port", "1", "--port", "2"]).problems[0]?.kind, "repeated");
    assert.equal(parseArgs("lighthouse", "lighthouse", ["bn", "--datadir"]).problems[0]?.kind, "missing-value");
    // confutils reads `--x v` as a flag and a stray word (nimbus.json notes).
    assert.equal(parseArgs("nimbus", "nimbus_beacon_node", ["--data-dir", "/d"]).problems[0]?.kind, "detached-value");
    // Go flags take `-x` for `--x`, and a bool no word value.
    assert.deepEqual(parseArgs("mev-boost", "mev-boost", ["--relay-check", "-addr", "127.0.0.1:18550"]).problems, []);
    assert.equal(parseArgs("geth", "geth", ["--http", "false"]).problems[0]?.kind, "bad-value");
    // A validator client is no beacon node: Teku's validator-client has no --p2p-port.
    assert.equal(parseArgs("teku", "teku", ["validator-client", "--p2p-port=9000"]).problems[0]?.kind, "unknown");
  });
});

// The settings each role's schema offers that change a command line, each with its values.
const DIMENSIONS = {
  execution: { network: ["mainnet", "hoodi", "sepolia"], address: [undefined, "mesh", "0.0.0.0", "10.0.0.5"], http: [true, false], metrics: [true, false] },
  consensus: { network: ["mainnet", "hoodi", "sepolia"], address: [undefined, "mesh"], metrics: [true, false], keepPayloads: [false, true], feeRecipient: [undefined, "0x" + "ab".repeat(20)], checkpointSyncUrl: [undefined, "https://beaconstate.example"], mev: [false, true] },
  validator: { network: ["mainnet", "hoodi"], address: [undefined, "mesh"], metrics: [true, false], doppelganger: [true, false], keys: [[], [PK(1), PK(2)]], graffiti: [undefined, "hearth"], beaconNodes: [undefined, ["http://10.0.0.9:5052", "http://10.0.0.10:5052"]], mev: [false, true] },
} as const;

function* product(dims: Record<string, readonly unknown[]>): Generator<Record<string, unknown>> {
  const keys = Object.keys(dims);
  const idx = keys.map(() => 0);
  while (true) {
    yield Object.fromEntries(keys.map((k, i) => [k, dims[k]![idx[i]!]]));
    let i = 0;
    while (i < keys.length && ++idx[i]! === dims[keys[i]!]!.length) idx[i++] = 0;
    if (i === keys.length) return;
  }
}

const MESH_FLEET = stringify({ name: "t", admins: { ops: { sshKeys: [ADMIN_KEY] } }, ethereum: { network: "mainnet" }, mesh: { type: "wireguard", ipv4: "10.77.0.0/24" } });

describe("every flag hearth emits, for every combination of settings, is one the pinned client has", () => {
  for (const role of ["execution", "consensus", "validator"] as const) {
    test(`${role}: ${CLIENTS(role).join(", ")}`, () => {
      let lines = 0;
      for (const client of CLIENTS(role))
        for (const combo of product(DIMENSIONS[role] as unknown as Record<string, readonly unknown[]>)) {
          const { mev, ...settings } = combo as Record<string, unknown> & { mev?: boolean };
          const cfg = Object.fromEntries(Object.entries({ client, ...settings }).filter(([, v]) => v !== undefined));
          if (role === "validator") cfg.feeRecipient = "0x" + "cd".repeat(20);
          const services: Record<string, unknown> = { [role]: cfg };
          if (role !== "execution") services.execution = { client: "geth" };
          if (role === "validator") services.consensus = { client: "lighthouse" };
          if (mev) services.mevBoost = {};
          const r = run({ n1: host(services) }, MESH_FLEET);
          const bad = r.errors.filter((e) => !/lodestar/i.test(e.message) || !settings.keepPayloads);
          assert.deepEqual(bad.map((e) => `${e.path.join(".")}: ${e.message}`), [], `${client} ${JSON.stringify(combo)}`);
          if (!r.loaded.fleet || r.errors.length) continue;
          for (const s of hostServices(r.loaded.fleet, "n1", r.loaded.fleet.hosts.get("n1")!, r.planned?.mesh)) {
            if (!CLIENT_FLAGS[s.kind.id]) continue;
            for (const p of s.processes) {
              const parsed = parseArgs(s.kind.id, p.binary, p.args);
              assert.deepEqual(parsed.problems.map((x) => x.message), [], `${s.kind.id} ${p.binary} ${p.args.join(" ")}`);
              for (const step of (p.preStart ?? []).filter((x) => !x.removeStale)) assert.deepEqual(parseArgs(s.kind.id, step.binary ?? p.binary, step.args).problems.map((x) => x.message), [], `${s.kind.id} pre-start ${step.args.join(" ")}`);
              lines++;
            }
          }
        }
      assert.ok(lines > 100, `only ${lines} command lines checked`);
    });
  }

  test("MEV-boost: default relays of each network and custom ones, with and without a minimum bid", () => {
    for (const network of ["mainnet", "hoodi", "sepolia"])
      for (const relays of [undefined, [DEFAULT_RELAYS.mainnet[0]]])
        for (const minBid of [undefined, 0.05]) {
          const r = run({ n1: host({ execution: { client: "geth" }, consensus: { client: "lighthouse" }, mevBoost: { network, ...(relays ? { relays } : {}), ...(minBid ? { minBid } : {}) } }) });
          assert.deepEqual(r.errors, []);
          const mb = hostServices(r.loaded.fleet!, "n1", r.loaded.fleet!.hosts.get("n1")!).find((s) => s.kind.id === "mev-boost")!;
          assert.deepEqual(parseArgs("mev-boost", "mev-boost", mb.processes[0]!.args).problems, []);
        }
  });
});

test("slashing-protection export and import command lines of every validator client are ones it has", () => {
  for (const client of CLIENTS("validator")) {
    const cmds = SLASHING[client]!;
    const o = { dataDir: "/var/lib/x", network: "mainnet", file: "/run/hearth-move/f.json", pubkeys: [PK(1), PK(2)], beaconNodes: ["http://127.0.0.1:5052"] };
    for (const c of [cmds.exportCmd(o), cmds.importCmd(o)]) {
      const r = parseArgs(client, c.binary, c.args);
      assert.deepEqual(r.problems.map((p) => p.message), [], `${client}: ${c.binary} ${c.args.join(" ")}`);
      assert.match(r.command, /slashing/, `${client}: ${r.command}`);
    }
  }
});

describe("every combination of clients validates and generates", () => {
  test("every execution × consensus × validator client on one host (125 hosts)", () => {
    const hosts: Record<string, Host> = {};
    let i = 0;
    for (const el of CLIENTS("execution"))
      for (const cl of CLIENTS("consensus"))
        for (const vc of CLIENTS("validator"))
          hosts[`h${i}`] = host({ execution: { client: el }, consensus: { client: cl }, validator: { client: vc, feeRecipient: "0x" + "cd".repeat(20), keys: [PK(i++)] }, mevBoost: {} }, { network: { interface: "eth0", addresses: [`10.0.${i >> 8}.${i & 255}/16`] } });
    const r = run(hosts);
    assert.deepEqual(r.errors.map((e) => `${e.file}: ${e.message}`), []);
    assert.ok(r.planned, "generated");
    for (const h of r.planned!.hosts) {
      const units = h.services.flatMap((s) => s.processes.map((p) => p.unit));
      assert.equal(new Set(units).size, units.length, `${h.name}: two services share a unit: ${units.join(", ")}`);
    }
  });

  test("across hosts: beacon on one host, validator on another, a remote execution client, an external endpoint", () => {
    for (const cl of CLIENTS("consensus"))
      for (const vc of CLIENTS("validator")) {
        const r = run({
          el: host({ execution: { client: "nethermind", address: "10.0.0.5" } }, { network: { interface: "eth0", addresses: ["10.0.0.5/24"] } }),
          bn: host({ consensus: { client: cl, executionHost: "el", address: "10.0.0.6" } }, { network: { interface: "eth0", addresses: ["10.0.0.6/24"] } }),
          vc: host({ validator: { client: vc, feeRecipient: "0x" + "cd".repeat(20), beaconNodes: ["http://10.0.0.6:5052"], keys: [PK(7)] } }, { network: { interface: "eth0", addresses: ["10.0.0.7/24"] } }),
          ext: host({ consensus: { client: cl, executionEndpoint: "http://192.0.2.1:8551", jwtSecretFile: "/etc/jwt.hex" } }, { network: { interface: "eth0", addresses: ["10.0.0.8/24"] } }),
        });
        assert.deepEqual(r.errors.map((e) => `${e.file}: ${e.message}`), [], `${cl} + ${vc}`);
        assert.ok(r.planned);
        // The remote beacon node shares the execution host's JWT, encrypted to both.
        const jwt = r.planned!.secrets.find((s) => s.key === "hosts/el/ethereum-jwt")!;
        assert.deepEqual(jwt.readers, ["bn", "el"]);
      }
  });

  test("what the schema allows but the clients do not is a finding with file and line, never an internal error", () => {
    // Seed 001's layout: beta's Besu drives beta's own Lighthouse and sigma's.
    const r = run({
      beta: host({ execution: { client: "besu" }, consensus: { client: "lighthouse" } }),
      sigma: host({ consensus: { client: "lighthouse", executionHost: "beta" } }),
      gamma: host({ consensus: { client: "teku", executionHost: "beta" } }),
    });
    const shared = r.errors.filter((e) => /supports one consensus client/.test(e.message));
    assert.deepEqual(shared.map((e) => e.file).sort(), ["hosts/gamma.yaml", "hosts/sigma.yaml"]);
    assert.ok(shared.every((e) => e.line! > 1 && e.path.join(".") === "services.consensus.executionHost"));
    // One key in two validators.
    const twice = run({ a: host({ validator: { client: "lodestar", feeRecipient: "0x" + "cd".repeat(20), beaconNodes: ["http://x:1"], keys: [PK(3)] } }), b: host({ validator: { client: "teku", feeRecipient: "0x" + "cd".repeat(20), beaconNodes: ["http://x:1"], keys: [PK(3)] } }) });
    assert.equal(twice.errors.filter((e) => /slashed/.test(e.message)).length, 2);
    // A validator needs its fee recipient.
    const noFee = run({ a: host({ validator: { client: "lodestar", beaconNodes: ["http://x:1"] } }) });
    assert.ok(noFee.errors.some((e) => e.path.join(".") === "services.validator.feeRecipient"), JSON.stringify(noFee.errors));
    // holesky is gone, with a hint.
    const holesky = run({ a: host({ execution: { client: "geth", network: "holesky" } }) });
    assert.match(holesky.errors[0]?.message ?? "", /holesky was shut down.*hoodi/);
  });
});

describe("extraArgs are read as the client reads them", () => {
  const with_ = (consensus: Record<string, unknown>) => run({ n: host({ execution: { client: "geth" }, consensus: { client: "lighthouse", ...consensus } }) });
  test("an unknown flag is a finding at its entry, with the nearest real flag", () => {
    const r = with_({ extraArgs: ["--target-peers", "80", "--subscribe-all-subnet"] });
    const e = r.errors.find((x) => x.path.join(".") === "services.consensus.extraArgs.2")!;
    assert.match(e.message, /lighthouse 8\.2\.2 has no flag --subscribe-all-subnet/);
    assert.equal(e.hint, "did you mean --subscribe-all-subnets?");
    assert.equal(e.file, "hosts/n.yaml");
    assert.equal(r.errors.length, 1);
  });
  test("repeating a flag hearth sets is refused with where it comes from; keeping payloads is a setting", () => {
    const r = with_({ keepPayloads: true, extraArgs: ["--prune-payloads", "true"] });
    const e = r.errors.find((x) => x.path.join(".") === "services.consensus.extraArgs.0")!;
    assert.match(e.message, /--prune-payloads is given twice.*hearth sets --prune-payloads itself/);
    const ok = with_({ extraArgs: ["--prune-payloads", "false"] });
    assert.deepEqual(ok.errors, [], "without keepPayloads hearth sets no --prune-payloads, so the user may");
  });
});

describe("the defects found against the clients' source stay fixed", () => {
  const args = (hosts: Record<string, Host>, name: string, unit: string) => {
    const r = run(hosts);
    assert.deepEqual(r.errors.map((e) => e.message), []);
    const p = r.planned!.hosts.find((h) => h.name === name)!.services.flatMap((s) => s.processes).find((x) => x.unit === unit);
    assert.ok(p, `no unit ${unit}`);
    return p!;
  };
  const fee = "0x" + "cd".repeat(20);

  test("a beacon node and a validator of one client are two units with two users (lighthouse, teku, lodestar)", () => {
    for (const c of ["lighthouse", "teku", "lodestar"]) {
      const r = run({ n: host({ execution: { client: "geth" }, consensus: { client: c }, validator: { client: c, feeRecipient: fee } }) });
      assert.deepEqual(r.errors, []);
      const procs = r.planned!.hosts[0]!.services.flatMap((s) => s.processes);
      assert.deepEqual(procs.filter((p) => p.unit.startsWith(c)).map((p) => [p.unit, p.user]), [[c, c], [`${c}-validator`, `${c}-validator`]]);
      assert.match(r.planned!.files.get("hosts/n/default.nix")!, new RegExp(`"?${c}-validator"? = \\{`));
    }
  });

  test("Teku gets the checkpoint base URL: it appends the state path itself (Eth2NetworkConfiguration.java @26.8.0)", () => {
    const p = args({ n: host({ execution: { client: "geth" }, consensus: { client: "teku" } }) }, "n", "teku");
    assert.ok(p.args.includes(`--checkpoint-sync-url=${DEFAULT_CHECKPOINT.mainnet}`), p.args.join(" "));
    assert.ok(!p.args.some((a) => a.includes("/eth/v2/debug")));
  });

  test("Besu answers requests to the address it binds: Host allowlist, and the Engine API on that address with HTTP off", () => {
    const on = args({ n: host({ execution: { client: "besu" }, consensus: { client: "lighthouse" } }) }, "n", "besu");
    assert.ok(on.args.includes("--host-allowlist=*") && on.args.includes("--rpc-http-host=10.0.0.5"));
    const r = run({ n: host({ execution: { client: "besu", http: false }, consensus: { client: "lighthouse" } }) });
    const procs = r.planned!.hosts[0]!.services.flatMap((s) => s.processes);
    const besu = procs.find((p) => p.unit === "besu")!;
    assert.ok(besu.args.includes("--rpc-http-host=10.0.0.5") && !besu.args.includes("--rpc-http-enabled"), besu.args.join(" "));
    const lh = procs.find((p) => p.unit === "lighthouse")!;
    assert.equal(lh.args[lh.args.indexOf("--execution-endpoint") + 1], "http://10.0.0.5:8551", "the beacon node looks where the Engine API listens");
  });

  test("Prysm's validator uses every beacon node and starts unattended: a wallet in its data dir, made once, keys imported", () => {
    const p = args({ n: host({ validator: { client: "prysm", feeRecipient: fee, beaconNodes: ["http://a:3500", "http://b:3500"], keys: [PK(5)] } }) }, "n", "prysm-validator");
    assert.equal(p.args[p.args.indexOf("--beacon-rest-api-provider") + 1], "http://a:3500,http://b:3500");
    assert.equal(p.args[p.args.indexOf("--wallet-dir") + 1], "/var/lib/prysm-validator/wallet");
    assert.ok(p.args.includes("--wallet-password-file"));
    assert.deepEqual(p.preStart!.map((s) => s.args.slice(0, 2)), [["wallet", "create"], ["accounts", "import"]]);
    assert.equal(p.preStart![0]!.unless, "/var/lib/prysm-validator/wallet/direct");
  });

  test("pruning is on by default; keepPayloads keeps history on every client that can", () => {
    const flags: Record<string, string> = { lighthouse: "--prune-payloads", nimbus: "--history=archive", teku: "--data-storage-mode=archive", prysm: "--save-full-execution-payloads" };
    for (const [c, flag] of Object.entries(flags)) {
      const unit = c;
      const off = args({ n: host({ execution: { client: "geth" }, consensus: { client: c } }) }, "n", unit);
      assert.ok(!off.args.some((a) => a.startsWith(flag)), `${c} keeps payloads by default`);
      const on = args({ n: host({ execution: { client: "geth" }, consensus: { client: c, keepPayloads: true } }) }, "n", unit);
      assert.ok(on.args.some((a) => a.startsWith(flag)), `${c}: ${on.args.join(" ")}`);
    }
  });

  test("MEV-boost's default is every relay of the network's maintained list, not one", () => {
    const relays = JSON.parse(readFileSync(join(import.meta.dirname, "../data/mev-relays.json"), "utf8")) as { networks: Record<string, { url: string }[]> };
    const p = args({ n: host({ execution: { client: "geth" }, consensus: { client: "lighthouse" }, mevBoost: {} }) }, "n", "mev-boost");
    const list = p.args[p.args.indexOf("-relays") + 1]!.split(",");
    assert.deepEqual(list, relays.networks.mainnet!.map((r) => r.url));
    assert.ok(list.length > 5);
  });

  test("metrics listen on loopback, or on the mesh address with address: mesh; never on the host's LAN address", () => {
    const lan = args({ n: host({ execution: { client: "geth" }, consensus: { client: "lighthouse" } }) }, "n", "lighthouse");
    assert.equal(lan.args[lan.args.indexOf("--metrics-address") + 1], "127.0.0.1");
    assert.equal(lan.args[lan.args.indexOf("--http-address") + 1], "10.0.0.5", "the API itself stays where it was");
    const r = run({ n: host({ execution: { client: "nethermind" }, consensus: { client: "lighthouse", address: "mesh" } }) }, MESH_FLEET);
    const lh = r.planned!.hosts[0]!.services.flatMap((s) => s.processes).find((p) => p.unit === "lighthouse")!;
    assert.match(lh.args[lh.args.indexOf("--metrics-address") + 1]!, /^10\.77\.0\.\d+$/);
    const nm = r.planned!.hosts[0]!.services.flatMap((s) => s.processes).find((p) => p.unit === "nethermind")!;
    assert.equal(nm.args[nm.args.indexOf("--Metrics.ExposeHost") + 1], "127.0.0.1");
  });

  test("service users have fixed uids, so chain data on a persistent volume keeps its owner", () => {
    const r = run({ n: host({ execution: { client: "reth" }, consensus: { client: "nimbus" }, validator: { client: "nimbus", feeRecipient: fee }, mevBoost: {} }) });
    const nixText = r.planned!.files.get("hosts/n/default.nix")!;
    for (const u of ["reth", "nimbus", "nimbus-validator", "mev-boost"]) assert.match(nixText, new RegExp(`user = "${u}";(?:(?!user = )[^])*?uid = ${SERVICE_UIDS[u]};`), u);
    assert.equal(new Set(Object.values(SERVICE_UIDS)).size, Object.keys(SERVICE_UIDS).length, "uids are unique");
  });

  test("k3s opens its ports on the interface its peers use only (mesh, else the host's own), never on all", () => {
    const k = (fleet: string) => {
      const r = run({ a: host({ k3s: { role: "server", clusterInit: true } }), b: host({ k3s: { role: "agent" } }, { network: { interface: "enp3s0", addresses: ["10.0.0.6/24"] } }) }, fleet);
      assert.deepEqual(r.errors, []);
      return r.planned!;
    };
    const lan = k(FLEET);
    for (const h of lan.hosts) {
      assert.ok(!h.firewall.tcp.includes(10250) && !h.firewall.udp.includes(8472), `${h.name} opens k3s ports everywhere`);
      const nixText = lan.files.get(`hosts/${h.name}/default.nix`)!;
      assert.match(nixText, new RegExp(`"?${h.host.network.interface}"? = \\{[^}]*8472`, "s"));
    }
    const mesh = k(MESH_FLEET);
    for (const h of mesh.hosts) {
      assert.ok(h.meshFirewall.udp.includes(8472) && h.meshFirewall.tcp.includes(10250), h.name);
      assert.ok(!h.firewall.udp.includes(8472));
    }
  });
});

describe("slashing-protection interchange (EIP-3076) as hearth moves it", () => {
  const root = "0x" + "11".repeat(32);
  const entry = (pk: string, targets: number[], slots: number[] = []) => ({ pubkey: pk, signed_blocks: slots.map((s) => ({ slot: String(s) })), signed_attestations: targets.map((t) => ({ source_epoch: String(t - 1), target_epoch: String(t) })) });
  const file = (data: unknown[]) => JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: root }, data });

  test("keeps the moved keys' entries only, drops Lodestar's extra entries, refuses what is not version 5 or lacks a moved key", () => {
    const text = file([entry(PK(1), [3, 4]), entry(PK(2), [5]), { pubkey: "GENESIS_TIME", signed_blocks: [], signed_attestations: [] }]);
    const i = interchangeFor(text, [PK(1)]);
    assert.deepEqual(i.data.map((d) => d.pubkey), [PK(1)]);
    assert.throws(() => interchangeFor(text, [PK(3)]), /no history for 0x03/);
    assert.throws(() => interchangeFor(text.replace('"5"', '"3"'), [PK(1)]), /is not "5"/);
    // Lodestar 1.5.1's export: the draft's version 4 "complete" format, same data.
    const v4 = JSON.parse(text);
    v4.metadata = { interchange_format: "complete", interchange_format_version: "4", genesis_validators_root: root };
    assert.equal(interchangeFor(JSON.stringify(v4), [PK(1)]).metadata.interchange_format_version, "5");
    assert.throws(() => interchangeFor(JSON.stringify({ ...v4, metadata: { ...v4.metadata, interchange_format: "minimal" } }), [PK(1)]), /is not "5"/);
    assert.throws(() => interchangeFor(file([{ ...entry(PK(1), [3]), signed_attestations: [{ source_epoch: "9", target_epoch: "3" }] }]), [PK(1)]), /source is after its target/);
  });

  test("the new client must protect at least up to what the old one signed, on the same chain", () => {
    const before = interchangeFor(file([entry(PK(1), [3, 7], [40])]), [PK(1)]);
    assert.deepEqual(coverageProblems(before, interchangeFor(file([entry(PK(1), [7], [40])]), [PK(1)])), []);
    assert.match(coverageProblems(before, interchangeFor(file([entry(PK(1), [6], [40])]), [PK(1)]))[0]!, /protects up to epoch 6.*signed up to epoch 7/);
    assert.match(coverageProblems(before, interchangeFor(file([entry(PK(1), [7], [39])]), [PK(1)]))[0]!, /slot 39.*slot 40/);
    const other = interchangeFor(file([entry(PK(1), [7], [40])]).replace(root, "0x" + "22".repeat(32)), [PK(1)]);
    assert.match(coverageProblems(before, other)[0]!, /another chain/);
  });
});
