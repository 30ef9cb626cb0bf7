// CLI start-up: `hearth --help` and `hearth validate` of an example against `node -e ''` in the
// same run (target: within 3x). Median of several runs each; the machine is shared and noisy.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../src/node/fleet-dir.js";

const RUNS = 7;
function median(cmd: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${cmd.join(" ")} exited ${r.status}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

const bin = join(REPO_ROOT, "bin/hearth.js");
const node = median([process.execPath, "-e", ""]);
const help = median([process.execPath, bin, "--help"]);
const validate = median([process.execPath, bin, "validate", join(REPO_ROOT, "examples/homestaking")]);
console.log(`startup: node -e '' ${node.toFixed(0)} ms (reference)`);
console.log(`startup: hearth --help ${help.toFixed(0)} ms = ${(help / node).toFixed(1)}x (target <= 3x)`);
console.log(`startup: hearth validate examples/homestaking ${validate.toFixed(0)} ms = ${(validate / node).toFixed(1)}x (target <= 3x)`);
