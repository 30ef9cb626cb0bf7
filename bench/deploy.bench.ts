// Parallel deploy: wall time of updating 10 test hosts at once against updating one (target:
// at most 1.3x): build skipped (--system), facts, nix copy, activation, health check over a new
// connection, confirmation. Each host is a network namespace running sshd with its hearth host
// key and a stand-in system generation (test/fixtures/generations), as in test/deploy.test.ts.
// It also prints the machine's busy CPU and hearth's own share: the ten hosts' side (sshd, nix
// on the target, the switch) runs on the same cores here, unlike on a real fleet.
// BENCH_PHASES=build (connect and facts only) or copy narrows the run. Needs root.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { TestNet, haveSshd, startSshd } from "../test/support/netns.js";
import { addTestAdmin } from "../test/support/fleet.js";

if (!haveSshd()) {
  console.log("deploy bench: skipped (needs root, ip netns and openssh-server)");
  process.exit(0);
}
process.env.NIX_CONFIG = [process.env.NIX_CONFIG, "substituters =", "sandbox = false"].filter(Boolean).join("\n");
const N = 10;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const dir = mkdtempSync(join(tmpdir(), "hearth-deploybench-"));
const keyDir = mkdtempSync(join(tmpdir(), "hearth-key-"));
sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keyDir, "id")]);
const pub = readFileSync(join(keyDir, "id.pub"), "utf8").trim();
mkdirSync(join(dir, "hosts"));
writeFileSync(join(dir, "fleet.yaml"), stringify({ name: "bench", admins: { ops: { sshKeys: [pub] } } }));
const names = Array.from({ length: N }, (_, i) => `d${i}`);
for (const [i, n] of names.entries())
  writeFileSync(join(dir, `hosts/${n}.yaml`), stringify({ storage: { bootDisk: `/dev/disk/by-id/nvme-${i}`, volumes: { root: { type: "ext4", devices: [`/dev/disk/by-id/nvme-${i}`], mountpoint: "/" } } }, network: { dhcp: false, addresses: [`192.168.80.${10 + i}/24`] } }));
const { identity } = await addTestAdmin(dir);
const hearth = (args: string[], ns: string) => spawnSync("ip", ["netns", "exec", ns, process.execPath, join(REPO_ROOT, "bin/hearth.js"), ...args], { encoding: "utf8", env: { ...process.env, HEARTH_IDENTITY: identity } });
const net = new TestNet("192.168.80.0/24");
try {
  const admin = net.host("admin", "192.168.80.2");
  if (hearth(["secrets", "generate", "-f", dir], admin).status !== 0) throw new Error("secrets generate failed");
  // One stand-in system for every host: its state and profile live in each host's private tmpfs.
  const PRIVATE = "/var/lib/hearth-bench";
  const work = mkdtempSync(join(tmpdir(), "hearth-gen-"));
  mkdirSync(join(work, "bin"));
  writeFileSync(join(work, "bin/systemctl"), `#!/bin/sh\n# stand-in for systemctl on a test host\ncase "$1" in is-system-running) echo running;; esac\n`, { mode: 0o755 });
  mkdirSync(join(work, "flake"));
  for (const f of ["flake.nix", "standin-api.py"]) writeFileSync(join(work, "flake", f), readFileSync(join(REPO_ROOT, "test/fixtures/generations", f)));
  writeFileSync(join(work, "flake/params.nix"), `{ nonce = "${Date.now()}"; stateDir = "${PRIVATE}"; }\n`);
  const build = (a: string) => JSON.parse(sh("nix", ["build", `path:${join(work, "flake")}#${a}`, "--no-link", "--json", "--extra-experimental-features", "nix-command flakes"]))[0].outputs.out as string;
  const good = build("good");
  const good2 = build("good2");
  for (const [i, n] of names.entries()) {
    const ns = net.host(n, `192.168.80.${10 + i}`);
    const hostKey = execFileSync("age", ["-d", "-i", identity, join(dir, `secrets/hosts/${n}/ssh-host-key.age`)]);
    await startSshd(net, ns, { address: `192.168.80.${10 + i}`, port: 22, hostKey, authorizedKey: pub, path: `${join(work, "bin")}:/usr/bin:/bin:/usr/sbin:/sbin`, privateDir: PRIVATE });
    // The first generation, placed through the host's own sshd (inside its private tmpfs).
    const r = spawnSync("ip", ["netns", "exec", admin, "ssh", "-i", join(keyDir, "id"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `root@192.168.80.${10 + i}`, `nix-env -p ${PRIVATE}/system --set ${good} >/dev/null`]);
    if (r.status !== 0) throw new Error(`first generation on ${n}: ${r.stderr}`);
  }
  // Machine-wide busy CPU seconds (all processes: hearth, ssh, nix, and the test hosts' sshd and
  // shells, which on a real fleet run on the hosts themselves).
  const busy = () => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) / 100;
  };
  const deploy = (hosts: string[]) => {
    const c0 = busy();
    const t0 = performance.now();
    const argv = [process.execPath, join(REPO_ROOT, "bin/hearth.js"), "deploy", ...hosts, "-f", dir, "--ssh-key", join(keyDir, "id"), "--system", good2, "--profile", `${PRIVATE}/system`, "--jobs", String(hosts.length), "--json", ...(process.env.BENCH_PHASES ? ["--phases", process.env.BENCH_PHASES] : [])];
    // bash's `times` after the command: CPU of hearth and everything it ran (ssh, nix), not the hosts' side.
    const r = spawnSync("ip", ["netns", "exec", admin, "bash", "-c", `"$@"; times >&2`, "bash", ...argv], { encoding: "utf8" });
    const t = r.stderr.trim().split("\n").slice(-1)[0]!.split(/\s+/).map((x) => { const m = /(\d+)m([\d.]+)s/.exec(x)!; return Number(m[1]) * 60 + Number(m[2]); });
    const local = t[0]! + t[1]!;
    const lines = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const results = lines.filter((l) => l.result).map((l) => l.result as { outcome: string });
    // Where the time goes: per phase, from its start event to the next event of the same host.
    const events = lines.filter((l) => l.event).map((l) => l.event as { host: string; phase: string; status: string; at: string });
    const phase = new Map<string, number[]>();
    events.forEach((e, i) => {
      if (e.status !== "start") return;
      const end = events.slice(i + 1).find((x) => x.host === e.host);
      if (end) phase.set(e.phase, [...(phase.get(e.phase) ?? []), Date.parse(end.at) - Date.parse(e.at)]);
    });
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const breakdown = [...phase].map(([p, xs]) => `${p} ${median(xs)} ms`).join(", ");
    return { local, cpu: busy() - c0, seconds: (performance.now() - t0) / 1000, failed: hosts.length - results.filter((x) => x.outcome === "deployed").length, breakdown };
  };
  const one = deploy([names[0]!]);
  const all = deploy(names);
  console.log(`  busy CPU (whole machine, ${cpus().length} cores): 1 host ${one.cpu.toFixed(2)} s, ${N} hosts ${all.cpu.toFixed(2)} s; of it hearth with its ssh and nix: ${one.local.toFixed(2)} s and ${all.local.toFixed(2)} s`);
  console.log(`  phases, 1 host: ${one.breakdown}; median of ${N} hosts: ${all.breakdown}`);
  console.log(`deploy update 1 host: ${one.seconds.toFixed(2)} s; ${N} hosts (one hearth deploy, --jobs ${N}): ${all.seconds.toFixed(2)} s (${(all.seconds / one.seconds).toFixed(2)}x, target ≤ 1.3x; ${all.failed + one.failed} failed)`);
} finally {
  net.destroy();
}
