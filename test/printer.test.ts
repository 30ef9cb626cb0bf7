// The Nix printer: every string survives a round trip through the real Nix evaluator,
// whatever it contains, and structure cannot be injected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { printNix, nix, nixAttrName } from "../src/core/nix/ast.js";
import { plan } from "../src/core/plan/plan.js";
import { loadFleet } from "../src/core/fleet/load.js";
import { readStaticNix } from "../src/node/fleet-dir.js";
import { FLEET_YAML, tempDir } from "./support/fleet.js";
import { stringify } from "yaml";

// Deterministic PRNG so a failure can be replayed.
function rng(seed: number) {
  return () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}
const NASTY = ["${", "''", "'''", "\\", '"', "\n", "\r", "\t", "$", "$${", "\\${", "''${", "}", "{", "#", "/*", "*/", ";", "é", "☃", "𝄞", "\u200b", "\u0301", "a", " ", "${x}", "''\\n", "\u007f", "\u0001"];

function randomString(r: () => number): string {
  const n = Math.floor(r() * 12);
  let s = "";
  for (let i = 0; i < n; i++) {
    const pick = r();
    if (pick < 0.6) s += NASTY[Math.floor(r() * NASTY.length)];
    else s += String.fromCodePoint(1 + Math.floor(r() * (r() < 0.8 ? 0x7f : 0x2ffff)) % 0xd7ff || 1);
  }
  return s;
}

const evalJson = (file: string) => JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", file], { encoding: "utf8", maxBuffer: 1 << 26 }));

test("3000 random strings come back byte for byte from nix-instantiate --eval --strict", () => {
  const r = rng(1234);
  const strings = Array.from({ length: 3000 }, () => randomString(r));
  const file = join(tempDir(), "strings.nix");
  writeFileSync(file, printNix({ list: strings, attrs: Object.fromEntries(strings.slice(0, 500).map((s, i) => [`k${i}${s}`, s])) }));
  const back = evalJson(file);
  assert.deepEqual(back.list, strings);
  for (const [i, s] of strings.slice(0, 500).entries()) assert.equal(back.attrs[`k${i}${s}`], s);
});

test("strings placed in a host through the generator come back unchanged", () => {
  const r = rng(99);
  const strings = Array.from({ length: 400 }, () => randomString(r));
  const host = stringify({
    ephemeral: true,
    storage: { volumes: { data: { type: "btrfs", format: false, devices: ["/dev/disk/by-id/x"], subvolumes: { geth: { mountpoint: "/var/mnt/geth" } } } } },
    services: { execution: { client: "geth", dataDir: "/var/mnt/geth", extraArgs: strings } },
  });
  const loaded = loadFleet({ "fleet.yaml": FLEET_YAML, "hosts/h.yaml": host });
  assert.deepEqual(loaded.issues, []);
  const p = plan({ fleet: loaded.fleet!, staticFiles: readStaticNix(), fleetFiles: {} });
  const dir = tempDir();
  writeFileSync(join(dir, "host.nix"), p.files.get("hosts/h/default.nix")!);
  // Call the host module with placeholder arguments; only the argument list is forced.
  writeFileSync(join(dir, "probe.nix"), `(import ./host.nix { config = {}; lib = {}; pkgs = { stdenv.hostPlatform.system = "x"; }; inputs = {}; modulesPath = "/m"; }).hearth.services.geth.args`);
  const args: string[] = evalJson(join(dir, "probe.nix"));
  assert.deepEqual(args.slice(-strings.length), strings);
});

test("attribute names are bare only when they are plain identifiers", () => {
  assert.equal(nixAttrName("enable"), "enable");
  assert.equal(nixAttrName("with"), '"with"');
  assert.equal(nixAttrName("a.b"), '"a.b"');
  assert.equal(nixAttrName("${x}"), '"\\${x}"');
});

test("NUL cannot be printed and path literals refuse traversal tricks", () => {
  assert.throws(() => printNix("a\0b"), /NUL/);
  assert.throws(() => nix.path("./a/../../etc"), /unsafe/);
  assert.throws(() => nix.path("/etc/passwd"), /unsafe/);
  assert.equal(printNix(nix.path("../../extra/x.nix")), "../../extra/x.nix");
});
