// The API under load: /api/fleet of a 1,000-host fleet at 100 concurrent connections, against a
// plain Node static server answering the same bytes in the same run (target: at least half its
// throughput, no timeouts). Bounded: a fixed number of requests, each with a timeout.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, Agent } from "node:http";
import { tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { startServe } from "../src/server/serve.js";
import { fleetFiles } from "./fleet.js";

const CONCURRENCY = 100;
const REQUESTS = Number(process.env["HEARTH_BENCH_REQUESTS"] ?? 2000);
const TIMEOUT_MS = 10_000;

interface Result { rps: number; p50: number; p99: number; timeouts: number; errors: number }

async function load(url: string): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const lat: number[] = [];
  let timeouts = 0;
  let errors = 0;
  let next = 0;
  const one = () =>
    new Promise<void>((done) => {
      const t = process.hrtime.bigint();
      const req = request(url, { agent, timeout: TIMEOUT_MS }, (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          if (res.statusCode !== 200) errors++;
          lat.push(Number(process.hrtime.bigint() - t) / 1e6);
          done();
        });
      });
      req.on("timeout", () => { timeouts++; req.destroy(); });
      req.on("error", () => { errors++; done(); });
      req.end();
    });
  const worker = async () => { while (next++ < REQUESTS) await one(); };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { rps: lat.length / secs, p50: lat[Math.floor(lat.length / 2)] ?? NaN, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, timeouts, errors };
}

const fmt = (r: Result) => `${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, ${r.timeouts} timeouts, ${r.errors} errors`;

const dir = mkdtempSync(join(tmpdir(), "hearth-apibench-"));
for (const [p, t] of Object.entries(fleetFiles(1000))) {
  mkdirSync(dirname(join(dir, p)), { recursive: true });
  writeFileSync(join(dir, p), t);
}
// The event loop's longest stall while the fleet is validated, read and saved: the server shares
// this process, so any synchronous validation on its loop shows here (target: a few ms).
const loop = monitorEventLoopDelay({ resolution: 1 });
// No machine-state polling (SSH to the example hosts) during the measured requests.
const server = await startServe({ fleetDir: dir, port: 0, bind: "127.0.0.1", stateDir: join(dir, ".state"), monitor: { manual: true } });
loop.enable();
try {
  const cold = Date.now();
  const first = await fetch(`${server.url}/api/fleet`);
  console.log(`api: first /api/fleet of 1,000 hosts right after start (validate, plan, secrets status in the fleet worker; then cached until a file changes): ${Date.now() - cold} ms`);
  const host = "h7";
  // A loopback server needs no login, but writes carry the session's CSRF token.
  const sess = await fetch(`${server.url}/api/session`);
  const cookie = (sess.headers.get("set-cookie") ?? "").split(";")[0]!;
  const csrf = ((await sess.json()) as { csrf: string }).csrf;
  const saves: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = Date.now();
    const detail = (await (await fetch(`${server.url}/api/hosts/${host}`, { headers: { cookie } })).json()) as { version: string; values: Record<string, unknown> };
    const res = await fetch(`${server.url}/api/hosts/${host}`, { method: "PUT", headers: { "content-type": "application/json", cookie, "x-csrf-token": csrf }, body: JSON.stringify({ values: { ...detail.values, description: `bench ${i}` }, version: detail.version }) });
    if (res.status !== 200) throw new Error(`save answered ${res.status}: ${await res.text()}`);
    await (await fetch(`${server.url}/api/fleet`)).arrayBuffer();
    saves.push(Date.now() - t);
  }
  loop.disable();
  console.log(`api: host save + fresh overview, 1,000 hosts: median ${saves.sort((a, b) => a - b)[2]} ms; event loop's longest stall over the cold overview and 5 saves: ${(loop.max / 1e6).toFixed(1)} ms (p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms) (target: a few ms)`);
  const body = Buffer.from(await first.arrayBuffer());
  const type = first.headers.get("content-type") ?? "application/json";
  const stat = createServer((_q, s) => s.writeHead(200, { "content-type": type, "content-length": body.length }).end(body));
  await new Promise<void>((ok) => stat.listen(0, "127.0.0.1", ok));
  const staticUrl = `http://127.0.0.1:${(stat.address() as { port: number }).port}/`;
  const ref = await load(staticUrl);
  const api = await load(`${server.url}/api/fleet`);
  stat.close();
  console.log(`api: static server, same ${(body.length / 1024).toFixed(0)} KB: ${fmt(ref)} (reference)`);
  console.log(`api: /api/fleet, 1,000 hosts, ${CONCURRENCY} connections: ${fmt(api)} = ${(api.rps / ref.rps).toFixed(2)}x the static server (target >= 0.5x, no timeouts)`);
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
