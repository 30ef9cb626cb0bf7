import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FleetModel } from "../src/server/fleet-model.js";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { fleetFiles } from "./fleet.js";
const dir = mkdtempSync(join(tmpdir(), "pf-"));
for (const [p, t] of Object.entries(fleetFiles(1000))) { mkdirSync(dirname(join(dir, p)), { recursive: true }); writeFileSync(join(dir, p), t); }
for (let i = 0; i < 3; i++) {
  let t = performance.now();
  validateFleetDir(dir);
  const v = performance.now() - t;
  const m = new FleetModel(dir); m.generation = i * 10;
  t = performance.now();
  m.overview();
  console.log(`validate ${v.toFixed(0)} ms; overview (incl validate) ${(performance.now() - t).toFixed(0)} ms`);
}
