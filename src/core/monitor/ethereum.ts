// Ethereum health of one host, read from its clients' standard APIs: the answers (JSON, or a
// failure in words) go in, one EthHealth comes out, and alertsFromEthHealth() turns it into the
// conditions the alert engine tracks. Pure: src/node/monitor/ethereum.ts does the HTTP.
import type { AlertInput } from "./types.js";
import type { AlertRule } from "./alerts.js";

/** Where one host's Ethereum clients answer. Every field is optional: a host runs what it runs. */
export interface EthEndpoints {
  /** Beacon API base URL, e.g. `http://127.0.0.1:5052`. */
  beacon?: string;
  /** Execution client's JSON-RPC URL (the public one, not the engine port), e.g. `http://127.0.0.1:8545`. */
  execution?: string;
  /** MEV-boost base URL, e.g. `http://127.0.0.1:18550`. */
  mevBoost?: string;
  /** Relay URLs as MEV-boost takes them (`https://0xPUBKEY@host`), each checked directly. */
  relays?: string[];
  /** Validators to watch on the beacon node: indices or 0x-prefixed pubkeys. */
  validators?: (number | string)[];
}

/** One HTTP answer as the reader got it: status and parsed JSON body, or why there is none. */
export type Answer = { status: number; body: unknown } | { error: string };

/** Everything the reader fetched from a beacon node (src/node/monitor/ethereum.ts names each path). */
export interface BeaconAnswers {
  url: string;
  syncing?: Answer;
  peerCount?: Answer;
  head?: Answer;
  genesis?: Answer;
  spec?: Answer;
  finality?: Answer;
  validators?: Answer;
  /** Liveness per judged epoch (an epoch that has ended). */
  liveness?: { epoch: number; answer: Answer }[];
  /** Proposer duties of the current epoch. */
  proposerDuties?: { epoch: number; answer: Answer };
  /** Block headers of the watched validators' past duty slots (404 = empty slot). */
  blocks?: { slot: number; answer: Answer }[];
}

export interface ExecutionAnswers {
  url: string;
  syncing?: Answer;
  peerCount?: Answer;
  blockNumber?: Answer;
}

export interface MevBoostAnswers {
  url?: string;
  status?: Answer;
  relays?: { url: string; answer: Answer }[];
}

export interface EthAnswers {
  beacon?: BeaconAnswers;
  execution?: ExecutionAnswers;
  mevBoost?: MevBoostAnswers;
  /** The validators asked for (EthEndpoints.validators). */
  watched?: (number | string)[];
}

export interface ConsensusHealth {
  url: string;
  /** Whether the node answered at all. */
  reachable: boolean;
  isSyncing: boolean | null;
  isOptimistic: boolean | null;
  /** As the node reports it (Lodestar 1.5.1 says 0 whenever it thinks itself synced). */
  syncDistance: number | null;
  peers: number | null;
  headSlot: number | null;
  /** The slot the wall clock is in: (now - genesis_time) / SECONDS_PER_SLOT. */
  wallSlot: number | null;
  /** wallSlot - headSlot: what the node's own sync_distance may not show (a stalled chain). */
  slotsBehind: number | null;
  genesisTime: number | null;
  secondsPerSlot: number | null;
  slotsPerEpoch: number | null;
  /** Epoch of wallSlot. */
  currentEpoch: number | null;
  justifiedEpoch: number | null;
  finalizedEpoch: number | null;
  /** currentEpoch - finalizedEpoch: 2 on a healthy chain. */
  finalityDistance: number | null;
}

export interface ValidatorHealth {
  /** As asked: an index or a pubkey. */
  id: string;
  index: number | null;
  pubkey: string | null;
  /** Beacon API status (`active_ongoing`, `pending_queued`, `exited_slashed` …), `unknown` when the node does not know it. */
  status: string;
  balanceGwei: number | null;
  /** Ended epochs judged by liveness (seen attesting on gossip or in a block), and the ones it was not seen in. */
  attestationEpochs: number[];
  missedAttestationEpochs: number[];
  /** Past duty slots of the current epoch, and the ones without its block. */
  proposalSlots: number[];
  missedProposalSlots: number[];
}

export interface ExecutionHealth {
  url: string;
  reachable: boolean;
  syncing: boolean | null;
  /** From eth_syncing while syncing. */
  currentBlock: number | null;
  highestBlock: number | null;
  headBlock: number | null;
  peers: number | null;
}

export interface MevBoostHealth {
  url: string | null;
  /** Whether MEV-boost itself answered (any status). */
  reachable: boolean;
  /** Its /eth/v1/builder/status: 200 when at least one relay answers (with -relay-check), 503 when none does. */
  status: number | null;
  relays: { url: string; reachable: boolean; status: number | null }[];
}

/** One reading of a host's Ethereum clients. JSON-serialisable. */
export interface EthHealth {
  /** Unix seconds of the reading. */
  at: number;
  consensus?: ConsensusHealth;
  execution?: ExecutionHealth;
  mevBoost?: MevBoostHealth;
  validators: ValidatorHealth[];
  /** What could not be read, in words (never thrown). */
  problems: string[];
}

// Paths, one place (Beacon API; each checked against Lodestar 1.5.1's @lodestar/api routes, see test/ethereum-health.test.ts).
export const BEACON_PATHS = {
  syncing: "/eth/v1/node/syncing",
  peerCount: "/eth/v1/node/peer_count",
  head: "/eth/v1/beacon/headers/head",
  genesis: "/eth/v1/beacon/genesis",
  spec: "/eth/v1/config/spec",
  finality: "/eth/v1/beacon/states/head/finality_checkpoints",
  validators: "/eth/v1/beacon/states/head/validators",
  header: (slot: number) => `/eth/v1/beacon/headers/${slot}`,
  proposerDuties: (epoch: number) => `/eth/v1/validator/duties/proposer/${epoch}`,
  /** The standard form; Lodestar 1.5.1 has only GET /eth/v1/validator/liveness?indices=…&epoch=… */
  liveness: (epoch: number) => `/eth/v1/validator/liveness/${epoch}`,
  livenessLodestar151: "/eth/v1/validator/liveness",
} as const;
export const MEV_BOOST_STATUS_PATH = "/eth/v1/builder/status";

const rec = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const dataOf = (a: Answer | undefined): unknown => (a && "status" in a && a.status === 200 ? rec(a.body)?.data : undefined);
/** A uint as the Beacon API writes it (decimal string) or JSON-RPC (0x hex string), or a plain number. */
export function num(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v !== "string" || v === "") return null;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}
const bool = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
const answered = (a: Answer | undefined) => !!a && "status" in a;
/** The failure of an answer in words, or undefined when it is a usable 200. */
function failure(a: Answer | undefined, shape: (data: unknown) => boolean = () => true): string | undefined {
  if (!a) return undefined;
  if ("error" in a) return a.error;
  if (a.status !== 200) return `answered HTTP ${a.status}${errorText(a.body)}`;
  return shape(dataOf(a)) ? undefined : "answered 200 with an unexpected body";
}
const errorText = (body: unknown) => {
  const m = rec(body)?.message;
  return typeof m === "string" && m ? `: ${m.slice(0, 200)}` : "";
};

/** Slot and epoch of the wall clock. */
export function wallClock(nowSeconds: number, genesisTime: number, secondsPerSlot: number, slotsPerEpoch: number): { slot: number; epoch: number } {
  const slot = nowSeconds < genesisTime ? 0 : Math.floor((nowSeconds - genesisTime) / secondsPerSlot);
  return { slot, epoch: Math.floor(slot / slotsPerEpoch) };
}

/** The consensus part of an EthHealth, from the first round of answers (no validators). */
export function consensusHealth(b: BeaconAnswers, nowSeconds: number, problems: string[] = []): ConsensusHealth {
  const say = (what: string, a: Answer | undefined, shape?: (d: unknown) => boolean) => {
    const f = failure(a, shape);
    if (f) problems.push(`beacon node ${b.url}: ${what}: ${f}`);
  };
  say(`GET ${BEACON_PATHS.syncing}`, b.syncing, (d) => !!rec(d));
  say(`GET ${BEACON_PATHS.peerCount}`, b.peerCount, (d) => !!rec(d));
  say(`GET ${BEACON_PATHS.head}`, b.head, (d) => !!rec(d));
  say(`GET ${BEACON_PATHS.genesis}`, b.genesis, (d) => num(rec(d)?.genesis_time) !== null);
  say(`GET ${BEACON_PATHS.spec}`, b.spec, (d) => num(rec(d)?.SECONDS_PER_SLOT) !== null);
  say(`GET ${BEACON_PATHS.finality}`, b.finality, (d) => !!rec(d));

  const syncing = rec(dataOf(b.syncing));
  const headSlot = num(rec(rec(rec(dataOf(b.head))?.header)?.message)?.slot) ?? num(syncing?.head_slot);
  const genesisTime = num(rec(dataOf(b.genesis))?.genesis_time);
  const spec = rec(dataOf(b.spec));
  const secondsPerSlot = num(spec?.SECONDS_PER_SLOT);
  const slotsPerEpoch = num(spec?.SLOTS_PER_EPOCH);
  const fin = rec(dataOf(b.finality));
  const finalizedEpoch = num(rec(fin?.finalized)?.epoch);
  const justifiedEpoch = num(rec(fin?.current_justified)?.epoch);
  const clock = genesisTime !== null && secondsPerSlot && slotsPerEpoch ? wallClock(nowSeconds, genesisTime, secondsPerSlot, slotsPerEpoch) : null;
  return {
    url: b.url,
    reachable: [b.syncing, b.peerCount, b.head, b.genesis, b.spec, b.finality].some(answered),
    isSyncing: bool(syncing?.is_syncing),
    isOptimistic: bool(syncing?.is_optimistic),
    syncDistance: num(syncing?.sync_distance),
    peers: num(rec(dataOf(b.peerCount))?.connected),
    headSlot,
    wallSlot: clock?.slot ?? null,
    slotsBehind: clock && headSlot !== null ? Math.max(0, clock.slot - headSlot) : null,
    genesisTime,
    secondsPerSlot,
    slotsPerEpoch,
    currentEpoch: clock?.epoch ?? null,
    justifiedEpoch,
    finalizedEpoch,
    finalityDistance: clock && finalizedEpoch !== null ? clock.epoch - finalizedEpoch : null,
  };
}

type ValidatorEntry = { index: number; pubkey: string; status: string; balance: number | null };
/** The /eth/v1/beacon/states/head/validators entries: `{index, balance, status, validator: {pubkey …}}`. */
export function validatorEntries(a: Answer | undefined): ValidatorEntry[] {
  const d = dataOf(a);
  if (!Array.isArray(d)) return [];
  const out: ValidatorEntry[] = [];
  for (const e of d) {
    const r = rec(e);
    const index = num(r?.index);
    const pubkey = rec(r?.validator)?.pubkey;
    if (index === null || typeof pubkey !== "string") continue;
    out.push({ index, pubkey: pubkey.toLowerCase(), status: typeof r?.status === "string" ? r.status : "unknown", balance: num(r?.balance) });
  }
  return out;
}

const isActive = (status: string) => status.startsWith("active_");
/** How long a block may take before its slot counts as missed: the slot after its own must have ended. */
export const PROPOSAL_GRACE_SLOTS = 1;

/**
 * What the reader asks in its second round, from the first: liveness of the last ended epoch for
 * the active watched validators; proposer duties of the epoch the node's API calls current at
 * `requestAt` (unix seconds); then headers of their past duty slots once duties are in. The last
 * PROPOSAL_GRACE_SLOTS + 1 slots of an epoch are never judged: their duties are gone by then.
 */
export function secondRound(c: ConsensusHealth, validators: Answer | undefined, requestAt: number, duties?: Answer): { livenessEpoch: number | null; activeIndices: number[]; dutyEpoch: number | null; headerSlots: number[] } {
  const activeIndices = validatorEntries(validators).filter((v) => isActive(v.status)).map((v) => v.index);
  const at = (t: number) => (c.genesisTime !== null && c.secondsPerSlot && c.slotsPerEpoch ? wallClock(t, c.genesisTime, c.secondsPerSlot, c.slotsPerEpoch).epoch : null);
  // Epochs as the node counts them when the request arrives (liveness answers current-1..current+1).
  const epoch = at(requestAt);
  // For duties the API clock runs ahead: Lodestar 1.5.1 by min(1 s, half a slot) (MAX_API_CLOCK_DISPARITY_SEC).
  const dutyEpoch = c.secondsPerSlot ? at(requestAt + Math.min(1, c.secondsPerSlot / 2)) : null;
  const headerSlots: number[] = [];
  if (duties && c.wallSlot !== null) {
    const mine = new Set(activeIndices);
    for (const d of dutyEntries(duties)) if (mine.has(d.index) && d.slot + PROPOSAL_GRACE_SLOTS < c.wallSlot) headerSlots.push(d.slot);
  }
  return { livenessEpoch: epoch !== null && epoch >= 1 ? epoch - 1 : null, activeIndices, dutyEpoch, headerSlots: [...new Set(headerSlots)].sort((a, b) => a - b) };
}

function dutyEntries(a: Answer | undefined): { index: number; slot: number }[] {
  const d = dataOf(a);
  if (!Array.isArray(d)) return [];
  return d.flatMap((e) => {
    const index = num(rec(e)?.validator_index);
    const slot = num(rec(e)?.slot);
    return index === null || slot === null ? [] : [{ index, slot }];
  });
}

/** Interprets every answer into one EthHealth. `nowSeconds`: unix seconds of the reading. */
export function ethHealthFrom(answers: EthAnswers, nowSeconds: number): EthHealth {
  const problems: string[] = [];
  const health: EthHealth = { at: nowSeconds, validators: [], problems };
  const b = answers.beacon;
  if (b) {
    const c = consensusHealth(b, nowSeconds, problems);
    health.consensus = c;
    health.validators = validatorHealth(b, answers.watched ?? [], c, problems);
  }
  if (answers.execution) health.execution = executionHealth(answers.execution, problems);
  if (answers.mevBoost) health.mevBoost = mevBoostHealth(answers.mevBoost, problems);
  return health;
}

function validatorHealth(b: BeaconAnswers, watched: (number | string)[], c: ConsensusHealth, problems: string[]): ValidatorHealth[] {
  if (watched.length === 0) return [];
  const f = failure(b.validators, Array.isArray);
  if (f) problems.push(`beacon node ${b.url}: GET ${BEACON_PATHS.validators}: ${f}`);
  const entries = validatorEntries(b.validators);
  const byIndex = new Map(entries.map((e) => [e.index, e]));
  const byPubkey = new Map(entries.map((e) => [e.pubkey, e]));

  // index → epochs judged / missed
  const judged = new Map<number, { epochs: number[]; missed: number[] }>();
  for (const l of b.liveness ?? []) {
    const lf = failure(l.answer, Array.isArray);
    if (lf) {
      problems.push(`beacon node ${b.url}: liveness of epoch ${l.epoch}: ${lf}`);
      continue;
    }
    for (const e of dataOf(l.answer) as unknown[]) {
      const index = num(rec(e)?.index);
      const live = bool(rec(e)?.is_live);
      if (index === null || live === null) continue;
      const j = judged.get(index) ?? { epochs: [], missed: [] };
      j.epochs.push(l.epoch);
      if (!live) j.missed.push(l.epoch);
      judged.set(index, j);
    }
  }

  // index → duty slots judged / missed
  const proposals = new Map<number, { slots: number[]; missed: number[] }>();
  if (b.proposerDuties) {
    const df = failure(b.proposerDuties.answer, Array.isArray);
    if (df) problems.push(`beacon node ${b.url}: GET ${BEACON_PATHS.proposerDuties(b.proposerDuties.epoch)}: ${df}`);
  }
  const duties = dutyEntries(b.proposerDuties?.answer);
  for (const blk of b.blocks ?? []) {
    const duty = duties.find((d) => d.slot === blk.slot);
    if (!duty) continue;
    const a = blk.answer;
    let proposed: boolean | null;
    if ("status" in a && a.status === 404) proposed = false; // an empty slot
    else if ("status" in a && a.status === 200) proposed = num(rec(rec(rec(dataOf(a))?.header)?.message)?.proposer_index) === duty.index;
    else {
      problems.push(`beacon node ${b.url}: GET ${BEACON_PATHS.header(blk.slot)}: ${failure(a)}`);
      proposed = null;
    }
    if (proposed === null) continue;
    const p = proposals.get(duty.index) ?? { slots: [], missed: [] };
    p.slots.push(blk.slot);
    if (!proposed) p.missed.push(blk.slot);
    proposals.set(duty.index, p);
  }

  return watched.map((id) => {
    const key = typeof id === "number" ? id : /^\d+$/.test(id) ? Number(id) : id.toLowerCase();
    const e = typeof key === "number" ? byIndex.get(key) : byPubkey.get(key);
    const j = e ? judged.get(e.index) : undefined;
    const p = e ? proposals.get(e.index) : undefined;
    return {
      id: String(id),
      index: e?.index ?? (typeof key === "number" ? key : null),
      pubkey: e?.pubkey ?? (typeof key === "string" ? key : null),
      // Without an answer we cannot say the node does not know it.
      status: e?.status ?? (f ? "unread" : "unknown"),
      balanceGwei: e?.balance ?? null,
      attestationEpochs: j?.epochs ?? [],
      missedAttestationEpochs: j?.missed ?? [],
      proposalSlots: p?.slots ?? [],
      missedProposalSlots: p?.missed ?? [],
    };
  });
}

/** JSON-RPC: `{result}` or `{error: {message}}`. */
function rpcResult(a: Answer | undefined, method: string, url: string, problems: string[]): unknown {
  if (!a) return undefined;
  if ("error" in a) {
    problems.push(`execution client ${url}: ${method}: ${a.error}`);
    return undefined;
  }
  const r = rec(a.body);
  if (a.status !== 200 || !r || !("result" in r)) {
    const msg = rec(r?.error)?.message;
    problems.push(`execution client ${url}: ${method}: ${typeof msg === "string" ? msg : `answered HTTP ${a.status} without a result`}`);
    return undefined;
  }
  return r.result;
}

function executionHealth(e: ExecutionAnswers, problems: string[]): ExecutionHealth {
  const s = rpcResult(e.syncing, "eth_syncing", e.url, problems);
  const peers = num(rpcResult(e.peerCount, "net_peerCount", e.url, problems));
  const headBlock = num(rpcResult(e.blockNumber, "eth_blockNumber", e.url, problems));
  // eth_syncing: false, or an object {startingBlock, currentBlock, highestBlock} (hex).
  const so = rec(s);
  return {
    url: e.url,
    reachable: [e.syncing, e.peerCount, e.blockNumber].some(answered),
    syncing: s === false ? false : so ? true : null,
    currentBlock: num(so?.currentBlock),
    highestBlock: num(so?.highestBlock),
    headBlock,
    peers,
  };
}

/** A relay URL without its `0xPUBKEY@` part, for people and for fetch (which refuses credentials in URLs). */
export function relayDisplay(url: string): string {
  return url.replace(/^(\w+:\/\/)[^@/]*@/, "$1");
}

function mevBoostHealth(m: MevBoostAnswers, problems: string[]): MevBoostHealth {
  const s = m.status;
  if (m.url && s && "error" in s) problems.push(`mev-boost ${m.url}: GET ${MEV_BOOST_STATUS_PATH}: ${s.error}`);
  const relays = (m.relays ?? []).map((r) => {
    if ("error" in r.answer) problems.push(`relay ${relayDisplay(r.url)}: GET ${MEV_BOOST_STATUS_PATH}: ${r.answer.error}`);
    return { url: relayDisplay(r.url), reachable: "status" in r.answer && r.answer.status === 200, status: "status" in r.answer ? r.answer.status : null };
  });
  return { url: m.url ?? null, reachable: !!s && "status" in s, status: s && "status" in s ? s.status : null, relays };
}

export interface EthThresholds {
  /** Slots the head may trail the wall clock (4 = 48 s on mainnet). */
  maxSlotsBehind: number;
  minConsensusPeers: number;
  minExecutionPeers: number;
  /** Epochs since finality; a healthy chain stays at 2. */
  maxFinalityDistance: number;
  /** Judged epochs without an attestation before it is an alert. */
  missedAttestations: number;
  missedProposals: number;
  /** Execution blocks the head may trail eth_syncing's highestBlock. */
  maxBlocksBehind: number;
}
/** Alert rules the Ethereum alerts need: a missed proposal is an event, it does not "resolve". */
export const ETH_ALERT_RULES: AlertRule[] = [{ key: "validator.*.proposal", resolved: false }];

export const DEFAULT_ETH_THRESHOLDS: EthThresholds = { maxSlotsBehind: 4, minConsensusPeers: 5, minExecutionPeers: 5, maxFinalityDistance: 4, missedAttestations: 1, missedProposals: 1, maxBlocksBehind: 64 };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const list = (xs: number[]) => (xs.length <= 4 ? xs.join(", ") : `${xs.slice(0, 4).join(", ")} …`);

/**
 * The conditions an EthHealth shows, as alert inputs with stable keys (`eth.consensus.behind`,
 * `validator.12.missed` …). An unreachable client is one alert; what it would have said is not
 * guessed.
 */
export function alertsFromEthHealth(host: string, health: EthHealth, thresholds: Partial<EthThresholds> = {}): AlertInput[] {
  const t = { ...DEFAULT_ETH_THRESHOLDS, ...thresholds };
  const out: AlertInput[] = [];
  const add = (key: string, severity: AlertInput["severity"], summary: string, hint?: string) => out.push(hint ? { host, key, severity, summary, hint } : { host, key, severity, summary });

  const c = health.consensus;
  if (c && !c.reachable) {
    add("eth.consensus.unreachable", "critical", `the beacon node on ${host} does not answer (${c.url})`, `check the consensus client: ssh ${host} systemctl status; journalctl -u <client>`);
  } else if (c) {
    if (c.isSyncing) add("eth.consensus.syncing", "critical", `the beacon node on ${host} is syncing (${c.syncDistance ?? "?"} slots to go)`, "validators cannot attest until it has caught up; check its peers and the execution client");
    else if (c.slotsBehind !== null && c.slotsBehind > t.maxSlotsBehind)
      add("eth.consensus.behind", "critical", `the beacon node on ${host} is ${c.slotsBehind} slots behind the clock (head ${c.headSlot}, now slot ${c.wallSlot})`, "a stalled head: check its peers, the execution client and the machine's clock");
    if (c.peers !== null && c.peers < t.minConsensusPeers) add("eth.consensus.peers", "warning", `the beacon node on ${host} has ${plural(c.peers, "peer")} (fewer than ${t.minConsensusPeers})`, "check its p2p port is open and forwarded");
    if (c.finalityDistance !== null && c.finalityDistance > t.maxFinalityDistance)
      add("eth.consensus.finality", "warning", `no finality for ${c.finalityDistance} epochs (finalized epoch ${c.finalizedEpoch}, now epoch ${c.currentEpoch})`, "if the network is finalizing elsewhere, this node is on a fork or stalled");
  }

  for (const v of health.validators) {
    const name = v.index !== null ? `validator ${v.index}` : `validator ${v.id.slice(0, 12)}…`;
    const id = v.index !== null ? String(v.index) : v.id;
    if (v.status === "unread") continue; // the beacon node's problem is the alert
    if (!isActive(v.status)) {
      const sev = v.status.startsWith("pending") ? "warning" : "critical";
      add(`validator.${id}.status`, sev, `${name} is not active (${v.status})`, v.status === "unknown" ? "the beacon node does not know this key: deposited on this network?" : undefined);
      continue;
    }
    if (v.status === "active_slashed") add(`validator.${id}.status`, "critical", `${name} is slashed`);
    if (v.missedAttestationEpochs.length >= t.missedAttestations)
      add(`validator.${id}.missed`, "critical", `${name} missed attestations in epoch ${list(v.missedAttestationEpochs)}`, "is its validator client running and connected to a synced beacon node?");
    if (v.missedProposalSlots.length >= t.missedProposals) add(`validator.${id}.proposal`, "critical", `${name} missed its block proposal at slot ${list(v.missedProposalSlots)}`, "check the validator client's log and the beacon node's execution client");
  }

  const e = health.execution;
  if (e && !e.reachable) add("eth.execution.unreachable", "critical", `the execution client on ${host} does not answer (${e.url})`, `check the execution client: ssh ${host} systemctl status`);
  else if (e) {
    const behind = e.highestBlock !== null && e.currentBlock !== null ? e.highestBlock - e.currentBlock : null;
    if (e.syncing && (behind === null || behind > t.maxBlocksBehind))
      add("eth.execution.syncing", "critical", `the execution client on ${host} is not synced${behind !== null ? ` (${behind} blocks behind)` : ""}`, "the beacon node cannot follow the chain until it is");
    if (e.peers !== null && e.peers < t.minExecutionPeers) add("eth.execution.peers", "warning", `the execution client on ${host} has ${plural(e.peers, "peer")} (fewer than ${t.minExecutionPeers})`, "check its p2p port is open and forwarded");
  }

  const m = health.mevBoost;
  if (m && m.url !== null) {
    if (!m.reachable) add("eth.mevboost.unreachable", "warning", `MEV-boost on ${host} does not answer (${m.url})`, "blocks fall back to local building; check the mev-boost service");
    else if (m.status !== 200) add("eth.mevboost.relays", "warning", `MEV-boost on ${host} reaches no relay (status ${m.status})`, "check the relay list and the host's outbound network");
  }
  for (const r of m?.relays ?? []) if (!r.reachable) add(`eth.relay.${r.url}`, "warning", `relay ${r.url} is not reachable from ${host}${r.status !== null ? ` (HTTP ${r.status})` : ""}`);
  return out;
}
