// Simulated pull nodes for the tests: the real Agent (src/agent/agent.ts) talking HTTP to a real
// `hearth serve`, with a stand-in for the one part that needs NixOS (switching a system), named
// as such. Everything the agent decides (verification, refusals, reports) is the real code.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { addTestAdmin, ageDecrypt, FLEET_YAML, hearth, writeFleet } from "./fleet.js";
import { readEd25519Key, newEd25519Key } from "../../src/node/secrets/openssh.js";
import { Agent, type AgentState, type Http, type Identity, type ImagePort, type SystemPort } from "../../src/agent/agent.js";
import { decryptWithKey, FetchHttp, nodeSign } from "../../src/agent/ports.js";
import type { Bundle } from "../../src/core/pull/release.js";

/** Stand-in for NixOS's switch: records the system; systems listed in `bad` fail their health check and roll back. */
export class StandInSystem implements SystemPort {
  system: string | undefined;
  generation = 1;
  applied: string[] = [];
  constructor(readonly bad: Set<string> = new Set()) {}
  async current() {
    return { ...(this.system ? { system: this.system } : {}), generation: this.generation };
  }
  async apply(b: Bundle, log: (l: string) => void) {
    this.applied.push(b.system);
    if (this.bad.has(b.system)) {
      log(`stand-in: ${b.system} is not healthy; back to ${this.system ?? "the image"}`);
      return { ok: false as const, error: "stand-in: health check failed", rolledBack: true };
    }
    this.system = b.system;
    this.generation++;
    return { ok: true as const };
  }
  async inventory() {
    return { arch: "x86_64", memKiB: 4_000_000, product: "stand-in machine" };
  }
  async bootLog() {
    return ["boot: stand-in: kernel: booted"];
  }
}

export class MemoryState {
  s: AgentState | undefined;
  async load() {
    return this.s ? (JSON.parse(JSON.stringify(this.s)) as AgentState) : undefined;
  }
  async save(s: AgentState) {
    this.s = JSON.parse(JSON.stringify(s)) as AgentState;
  }
}

export interface SimNode {
  agent: Agent;
  system: StandInSystem;
  state: MemoryState;
}

/** A node whose identity is `identity` (undefined: no identity drive), trusting `imageKeys`. */
export function simNode(server: string, imageKeys: string[], identity: Identity | undefined | (() => Promise<Identity | undefined>), bad?: Set<string>, extra: { image?: ImagePort; http?: Http } = {}): SimNode {
  const system = new StandInSystem(bad);
  const state = new MemoryState();
  const agent = new Agent({
    imageKeys,
    identity: { read: typeof identity === "function" ? identity : async () => identity },
    http: extra.http ?? new FetchHttp(server),
    ...(extra.image ? { image: extra.image } : {}),
    system,
    state,
    newKey: () => {
      const k = newEd25519Key("pending");
      return { privateKey: k.privateFile.toString("utf8"), publicKey: k.publicLine };
    },
    seedOf: (t) => readEd25519Key(t).seed,
    sign: nodeSign,
    decryptWithKey,
  });
  return { agent, system, state };
}

/** A store path that looks like a NixOS system closure (Nix's base-32 alphabet), distinct per host and version. */
export const fakeSystem = (host: string, v: number) => {
  const h = createHash("sha256").update(`${host}/${v}`).digest();
  const hash = [...h.subarray(0, 32)].map((b) => "0123456789abcdfghijklmnpqrsvwxyz"[b % 32]).join("");
  return `/nix/store/${hash}-nixos-system-${host}-${v}`;
};

/**
 * Stand-in for systemd-boot choosing and counting one boot, for agent tests that cannot boot
 * firmware. Its rules are systemd v252's (src/boot/efi/boot.c config_entry_compare,
 * config_default_entry_select, config_entry_bump_counters), and test/ab-boot.test.ts shows the
 * real systemd-boot in QEMU doing the same on the same ESP layout. Returns the slot it boots.
 */
export function systemdBootStandIn(espDir: string): "a" | "b" {
  const dir = join(espDir, "loader/entries");
  const entries = readdirSync(dir)
    .filter((f) => f.endsWith(".conf") && !f.startsWith("."))
    .map((f) => ({ f, tries: /\+(\d+)(?:-(\d+))?\.conf$/.exec(f) }))
    .map((e) => ({ ...e, left: e.tries ? Number(e.tries[1]) : undefined, done: e.tries ? Number(e.tries[2] ?? 0) : undefined }));
  // Entries with no tries left sort last; the rest by id, descending.
  entries.sort((x, y) => Number(x.left === 0) - Number(y.left === 0) || (x.f < y.f ? 1 : x.f > y.f ? -1 : 0));
  const pattern = /^default\s+(\S+)/m.exec(readFileSync(join(espDir, "loader/loader.conf"), "utf8"))?.[1] ?? "";
  const glob = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, (c) => (c === "." || c === "+" ? `\\${c}` : c)).replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  const chosen = entries.find((e) => glob.test(e.f)) ?? entries[0]!;
  if (chosen.left !== undefined) {
    const next = chosen.f.replace(/\+\d+(?:-\d+)?\.conf$/, `+${Math.max(0, chosen.left - 1)}-${chosen.done! + 1}.conf`);
    renameSync(join(dir, chosen.f), join(dir, next));
  }
  return /^hearth-([ab])/.exec(chosen.f)![1] as "a" | "b";
}

export interface TestFleet {
  dir: string;
  /** The test admin's age identity file. */
  identity: string;
  hosts: string[];
}

/** A fleet of `n` ephemeral hosts (n01, n02, …) with generated SSH host keys and a test admin. */
export async function fleetOf(n: number, host = "ephemeral: true\n"): Promise<TestFleet> {
  const hosts = Array.from({ length: n }, (_, i) => `n${String(i + 1).padStart(2, "0")}`);
  const dir = writeFleet({ "fleet.yaml": FLEET_YAML, ...Object.fromEntries(hosts.map((h) => [`hosts/${h}.yaml`, host])) });
  const { identity } = await addTestAdmin(dir);
  const r = hearth(["secrets", "generate", "-f", dir]);
  assert.equal(r.code, 0, r.stderr);
  return { dir, identity, hosts };
}

/** What the host's identity drive would hold (the host key decrypted with the admin identity). */
export function identityOf(f: { dir: string; identity: string }, host: string): Identity {
  const d = ageDecrypt(f.identity, join(f.dir, `secrets/hosts/${host}/ssh-host-key.age`));
  assert.equal(d.status, 0, d.stderr);
  const manifest = JSON.parse(readFileSync(join(f.dir, "secrets/manifest.json"), "utf8"));
  return { host, sshPrivateKey: d.stdout, sshPublicKey: manifest.secrets[`hosts/${host}/ssh-host-key`].public };
}
