// CLI start-up: `hearth --help` and `hearth validate` of an example against `node -e ''` in the
// same run (target: within 3x). The three commands take turns, so a busy moment on this shared
// machine slows all of them alike; medians of 11 runs each.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../src/node/fleet-dir.js";

const RUNS = 11;
const bin = join(REPO_ROOT, "bin/hearth.js");
const commands = {
  node: ["-e", ""],
  help: [bin, "--help"],
  validate: [bin, "validate", join(REPO_ROOT, "examples/homestaking")],
};
const times: Record<string, number[]> = { node: [], help: [], validate: [] };
for (let i = 0; i < RUNS; i++)
  for (const [name, args] of Object.entries(commands)) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}`);
    times[name]!.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const node = median(times.node!);
const help = median(times.help!);
const validate = median(times.validate!);
console.log(`startup: node -e '' ${node.toFixed(0)} ms (reference)`);
console.log(`startup: hearth --help ${help.toFixed(0)} ms = ${(help / node).toFixed(1)}x (target <= 3x)`);
console.log(`startup: hearth validate examples/homestaking ${validate.toFixed(0)} ms = ${(validate / node).toFixed(1)}x (target <= 3x)`);
