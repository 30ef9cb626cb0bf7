// Plans synthetic fleets of 1,000 and 10,000 hosts and prints wall time and peak memory
// (targets on a 2-core machine: 1,000 under 2 s, 10,000 under 20 s, growing linearly).
import { stringify } from "yaml";
import { loadFleet } from "../src/core/fleet/load.js";
import { checkRules } from "../src/core/validate/rules.js";
import { plan } from "../src/core/plan/plan.js";
import { readStaticNix } from "../src/node/fleet-dir.js";
import { ADMIN, fleetFiles } from "./fleet.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { generate, openStore } from "../src/node/secrets/store.js";
import { generateKeyPairSync } from "node:crypto";
import { planMesh, peersOf } from "../src/core/mesh/plan.js";
import { meshState } from "../src/core/plan/plan.js";
import type { Manifest } from "../src/core/secrets/manifest.js";

const statics = readStaticNix();

let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
for (const n of [1000, 10000]) {
  const files = fleetFiles(n);
  global.gc?.();
  peak = process.memoryUsage().rss;
  const t0 = performance.now();
  const loaded = loadFleet(files);
  const issues = [...loaded.issues, ...checkRules({ fleet: loaded.fleet!, sources: loaded.sources, hostFiles: loaded.hostFiles, files })];
  const p = plan({ fleet: loaded.fleet!, staticFiles: statics, fleetFiles: files });
  const ms = performance.now() - t0;
  peak = Math.max(peak, process.memoryUsage().rss);
  if (issues.some((i) => i.severity === "error")) throw new Error(`bench fleet invalid: ${issues[0]!.message}`);
  console.log(`generate ${String(n).padStart(6)} hosts: ${(ms / 1000).toFixed(2)} s (validate + plan + print, ${p.files.size} files), peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
}
clearInterval(sample);

// A 1,000-host full WireGuard mesh: about a million peer entries.
{
  const n = 1000;
  const files = fleetFiles(n);
  files["fleet.yaml"] = stringify({ name: "bench", admins: { ops: { sshKeys: [ADMIN] } }, mesh: { type: "wireguard", ipv4: "10.100.0.0/16", topology: "full" } });
  const loaded = loadFleet(files);
  const secrets: Manifest["secrets"] = {};
  for (let i = 0; i < n; i++) {
    const x = (generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }) as { x: string }).x;
    secrets[`hosts/h${i}/wireguard-key`] = { kind: "wireguard-key", public: Buffer.from(x, "base64url").toString("base64"), recipients: [], sha256: "0".repeat(64), created: "", updated: "", formerRecipients: [] };
  }
  const manifest: Manifest = { version: 1, secrets };
  global.gc?.();
  peak = process.memoryUsage().rss;
  const sampleMesh = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  const mesh = planMesh(loaded.fleet!, meshState(manifest))!;
  let entries = 0;
  for (const m of mesh.members) entries += peersOf(mesh, m.name).length;
  const t1 = performance.now();
  const p = plan({ fleet: loaded.fleet!, staticFiles: statics, fleetFiles: files, secretsManifest: manifest });
  const t2 = performance.now();
  clearInterval(sampleMesh);
  const bytes = [...p.files.values()].reduce((a, f) => a + f.length, 0);
  console.log(`mesh plan  ${n} hosts full mesh: ${((t1 - t0) / 1000).toFixed(2)} s for ${entries.toLocaleString("en")} peer entries (target < 5 s)`);
  console.log(`mesh flake ${n} hosts full mesh: ${((t2 - t1) / 1000).toFixed(2)} s to plan and print every host (${(bytes / 2 ** 20).toFixed(0)} MiB of Nix), peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
}

// Secrets: make, encrypt (to the admin and the host) and record every secret of a fleet.
for (const n of [100, 500]) {
  const dir = mkdtempSync(join(tmpdir(), "hearth-bench-"));
  const files = fleetFiles(n);
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), t);
  }
  const loaded = loadFleet(files);
  const t0 = performance.now();
  const store = openStore(dir, loaded.fleet!);
  const r = await generate(store);
  const ms = performance.now() - t0;
  console.log(`secrets generate ${String(n).padStart(4)} hosts: ${(ms / 1000).toFixed(2)} s for ${r.created.length} secrets (${(ms / r.created.length).toFixed(1)} ms each: make, age-encrypt, atomic write, manifest)`);
  rmSync(dir, { recursive: true, force: true });
}
