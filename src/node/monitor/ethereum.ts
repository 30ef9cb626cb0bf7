// Reads one host's Ethereum clients over HTTP (Beacon API, execution JSON-RPC, MEV-boost) into an
// EthHealth. Every request has a timeout; an endpoint that fails becomes a problem in words in
// the result, never a throw. The interpretation is core/monitor/ethereum.ts.
import {
  BEACON_PATHS,
  MEV_BOOST_STATUS_PATH,
  consensusHealth,
  ethHealthFrom,
  relayDisplay,
  secondRound,
  type Answer,
  type BeaconAnswers,
  type EthEndpoints,
  type EthHealth,
  type ExecutionAnswers,
  type MevBoostAnswers,
} from "../../core/monitor/ethereum.js";

export interface ReadEthOptions {
  /** Per request (default 5 s). */
  timeoutMs?: number;
  /** Clock in unix milliseconds (default Date.now). */
  now?: () => number;
}

/** `?id=1&id=2`: Lodestar 1.5.1 answers a comma list (`?id=1,2`) with `{"data":[]}`. */
const repeated = (key: string, values: (string | number)[]) => values.map((v) => `${key}=${encodeURIComponent(String(v))}`).join("&");

/** One request, its outcome as a value: status and JSON body, or what went wrong in words. */
export async function request(url: string, init: { method?: string; body?: unknown; timeoutMs: number }): Promise<Answer> {
  try {
    const res = await fetch(url, {
      method: init.method ?? "GET",
      headers: { accept: "application/json", ...(init.body !== undefined ? { "content-type": "application/json" } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      if (res.status === 200) return { error: `answered 200 with a body that is not JSON: ${JSON.stringify(text.slice(0, 80))}` };
    }
    return { status: res.status, body };
  } catch (e) {
    return { error: inWords(e, init.timeoutMs) };
  }
}

/** fetch's failures as a person would say them ("connection refused", "no answer within 5 s"). */
function inWords(e: unknown, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return `no answer within ${timeoutMs / 1000} s`;
  const code = err?.cause?.code;
  if (code === "ECONNREFUSED") return "connection refused (is it running, on this port?)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host name not found";
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return "connection reset";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "host unreachable";
  return err?.cause?.message ?? err?.message ?? String(e);
}

const base = (u: string) => u.replace(/\/+$/, "");

async function readBeacon(url: string, watched: (number | string)[], timeoutMs: number, at: number, clock: () => number): Promise<BeaconAnswers> {
  const get = (path: string) => request(base(url) + path, { timeoutMs });
  const [syncing, peerCount, head, genesis, spec, finality, validators] = await Promise.all([
    get(BEACON_PATHS.syncing),
    get(BEACON_PATHS.peerCount),
    get(BEACON_PATHS.head),
    get(BEACON_PATHS.genesis),
    get(BEACON_PATHS.spec),
    get(BEACON_PATHS.finality),
    watched.length ? get(`${BEACON_PATHS.validators}?${repeated("id", watched)}`) : Promise.resolve(undefined),
  ]);
  const b: BeaconAnswers = { url, syncing, peerCount, head, genesis, spec, finality, ...(validators ? { validators } : {}) };
  if (!validators) return b;

  const c = consensusHealth(b, at);
  const requestAt = clock();
  const plan = secondRound(c, validators, requestAt);
  if (plan.activeIndices.length === 0) return b;
  const [liveness, duties] = await Promise.all([
    plan.livenessEpoch !== null ? readLiveness(url, plan.activeIndices, plan.livenessEpoch, timeoutMs) : Promise.resolve(undefined),
    plan.dutyEpoch !== null ? get(BEACON_PATHS.proposerDuties(plan.dutyEpoch)) : Promise.resolve(undefined),
  ]);
  if (liveness && plan.livenessEpoch !== null) b.liveness = [{ epoch: plan.livenessEpoch, answer: liveness }];
  if (duties && plan.dutyEpoch !== null) {
    b.proposerDuties = { epoch: plan.dutyEpoch, answer: duties };
    const slots = secondRound(c, validators, requestAt, duties).headerSlots;
    b.blocks = await Promise.all(slots.map(async (slot) => ({ slot, answer: await get(BEACON_PATHS.header(slot)) })));
  }
  return b;
}

/** The standard POST /eth/v1/validator/liveness/{epoch}; Lodestar 1.5.1 has only its GET form (404 on the POST). */
async function readLiveness(url: string, indices: number[], epoch: number, timeoutMs: number): Promise<Answer> {
  const a = await request(base(url) + BEACON_PATHS.liveness(epoch), { method: "POST", body: indices.map(String), timeoutMs });
  if ("status" in a && (a.status === 404 || a.status === 405))
    return request(`${base(url)}${BEACON_PATHS.livenessLodestar151}?${repeated("indices", indices)}&epoch=${epoch}`, { timeoutMs });
  return a;
}

async function readExecution(url: string, timeoutMs: number): Promise<ExecutionAnswers> {
  const rpc = (method: string, id: number) => request(url, { method: "POST", body: { jsonrpc: "2.0", id, method, params: [] }, timeoutMs });
  const [syncing, peerCount, blockNumber] = await Promise.all([rpc("eth_syncing", 1), rpc("net_peerCount", 2), rpc("eth_blockNumber", 3)]);
  return { url, syncing, peerCount, blockNumber };
}

async function readMevBoost(url: string | undefined, relays: string[], timeoutMs: number): Promise<MevBoostAnswers> {
  const [status, ...relayAnswers] = await Promise.all([
    url ? request(base(url) + MEV_BOOST_STATUS_PATH, { timeoutMs }) : Promise.resolve(undefined),
    // The relay's 0xPUBKEY@ is an identity, not a credential; fetch refuses URLs that carry one.
    ...relays.map((r) => request(base(relayDisplay(r)) + MEV_BOOST_STATUS_PATH, { timeoutMs })),
  ]);
  return { ...(url ? { url } : {}), ...(status ? { status } : {}), relays: relays.map((r, i) => ({ url: r, answer: relayAnswers[i]! })) };
}

/**
 * Reads every endpoint given, in parallel, and interprets the answers.
 *
 * @example
 *   const h = await readEthHealth({ beacon: "http://127.0.0.1:5052", validators: [12, 13] });
 *   const alerts = alertsFromEthHealth("sigma", h);
 */
export async function readEthHealth(endpoints: EthEndpoints, opts: ReadEthOptions = {}): Promise<EthHealth> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const clock = () => (opts.now ?? Date.now)() / 1000;
  // One instant for the whole reading: the wall-clock slot is compared with answers read after it.
  const at = clock();
  const watched = endpoints.validators ?? [];
  const [beacon, execution, mevBoost] = await Promise.all([
    endpoints.beacon ? readBeacon(endpoints.beacon, watched, timeoutMs, at, clock) : undefined,
    endpoints.execution ? readExecution(endpoints.execution, timeoutMs) : undefined,
    endpoints.mevBoost || endpoints.relays?.length ? readMevBoost(endpoints.mevBoost, endpoints.relays ?? [], timeoutMs) : undefined,
  ]);
  return ethHealthFrom({ ...(beacon ? { beacon } : {}), ...(execution ? { execution } : {}), ...(mevBoost ? { mevBoost } : {}), watched }, at);
}
