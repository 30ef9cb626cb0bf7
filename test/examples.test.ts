// Every bundled example validates and generates a flake whose .nix files parse with the real Nix
// (test/nixos-eval.test.ts evaluates them against the real upstream modules).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT, readStaticNix, validateFleetDir } from "../src/node/fleet-dir.js";
import { plan } from "../src/core/plan/plan.js";
import { EXAMPLES, hearth, read, readyExample } from "./support/fleet.js";
import { readdirSync, statSync } from "node:fs";

const planExample = (name: string) => {
  const v = validateFleetDir(join(REPO_ROOT, "examples", name));
  assert.deepEqual(v.issues.map((i) => `${i.file}: ${i.message}`), [], `example ${name} has findings`);
  return plan({ fleet: v.fleet!, staticFiles: readStaticNix(), fleetFiles: v.files });
};

function nixFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? nixFiles(p) : p.endsWith(".nix") ? [p] : [];
  });
}

for (const name of EXAMPLES) {
  test(`${name}: every generated .nix file parses with nix-instantiate --parse`, async () => {
    const { dir } = await readyExample(name);
    const r = hearth(["generate", dir, "--out", join(dir, "out")]);
    assert.equal(r.code, 0, r.stderr);
    const files = nixFiles(join(dir, "out"));
    assert.ok(files.some((f) => f.endsWith("flake.nix")));
    for (const f of files) execFileSync("nix-instantiate", ["--parse", f], { stdio: "pipe" });
  });

  test(`${name}: generation is deterministic (byte-identical twice)`, () => {
    const a = planExample(name).files;
    const b = planExample(name).files;
    assert.deepEqual([...a.entries()], [...b.entries()]);
  });
}

test("homestaking: hearth eval answers seed 001's lighthouse ExecStart question", () => {
  const r = hearth(["eval", "ponkila-ephemeral-beta", "services.lighthouse.execStart", "--fleet", join(REPO_ROOT, "examples/homestaking")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\$\{ethereum-nix#lighthouse\}\/bin\/lighthouse bn --datadir \/var\/mnt\/lighthouse --network mainnet /);
  for (const part of ["--http-address 192.168.100.10", "--http-port 5052", "--execution-endpoint http://192.168.100.10:8551", "--execution-jwt /run/agenix/ethereum-jwt", "--prune-payloads false", "--metrics"])
    assert.ok(r.stdout.includes(part), `missing ${part} in ${r.stdout}`);
  const j = hearth(["eval", "ponkila-ephemeral-beta", "services.lighthouse.args", "--json", "--fleet", join(REPO_ROOT, "examples/homestaking")]);
  assert.ok(Array.isArray(JSON.parse(j.stdout)));
});

test("the generated flake names every host and its boot formats as packages", () => {
  const p = planExample("homestaking");
  const flake = p.files.get("flake.nix")!;
  for (const h of p.hosts) assert.ok(flake.includes(`${h.name} = {`), h.name);
  assert.ok(read(join(REPO_ROOT, "nix/formats/kexec-tree.nix")).includes("netboot.ipxe"));
});
