// Rolling a release out over pull nodes: the canary first, then batches, each batch offered only
// when the ones before it finished with failures under the threshold; otherwise the rollout
// pauses by itself until an admin resumes or aborts it. Pure: the server keeps the state and
// asks `step` what to offer whenever a node checks in or a timer fires.

export interface RolloutPolicy {
  /** Hosts in the first wave; any failure there stops the rollout. */
  canary: number;
  /** Hosts per later wave. */
  batchSize: number;
  /** A wave with this many failures (or more) pauses the rollout. */
  pauseAtFailures: number;
  /** A host offered the release that reports nothing healthy in this long counts as failed. */
  healthTimeoutMs: number;
}

export const DEFAULT_POLICY: RolloutPolicy = { canary: 1, batchSize: 5, pauseAtFailures: 2, healthTimeoutMs: 15 * 60_000 };

/** A host's state for one rollout. */
export type HostPhase = "waiting" | "offered" | "applying" | "healthy" | "failed" | "rolled-back";

export interface HostProgress {
  phase: HostPhase;
  /** When the release was first offered (ms). */
  offeredAt?: number;
  detail?: string;
}

export interface RolloutState {
  id: string;
  /** What rolls out: each host's configuration (default) or a node class's image. */
  kind?: "image";
  /** For an image rollout: the class. */
  image?: string;
  /** Release versions per host (each host's own signed bundle). */
  versions: Record<string, number>;
  waves: string[][];
  hosts: Record<string, HostProgress>;
  status: "running" | "paused" | "done" | "aborted";
  pausedBecause?: string;
  /** The wave that paused it; resuming accepts that wave's failures and goes on. */
  pausedAtWave?: number;
  acceptedWaves?: number[];
}

/** Waves in order: the first `canary` hosts, then batches. Hosts keep the order given (the caller sorts). */
export function planWaves(hosts: string[], p: RolloutPolicy): string[][] {
  const waves: string[][] = [];
  const canary = Math.max(0, Math.min(p.canary, hosts.length));
  if (canary) waves.push(hosts.slice(0, canary));
  for (let i = canary; i < hosts.length; i += Math.max(1, p.batchSize)) waves.push(hosts.slice(i, i + Math.max(1, p.batchSize)));
  return waves;
}

export function startRollout(id: string, versions: Record<string, number>, order: string[], p: RolloutPolicy, image?: string): RolloutState {
  const hosts = order.filter((h) => h in versions);
  return { id, ...(image ? { kind: "image" as const, image } : {}), versions, waves: planWaves(hosts, p), hosts: Object.fromEntries(hosts.map((h) => [h, { phase: "waiting" }])), status: "running" };
}

const finished = (ph: HostPhase) => ph === "healthy" || ph === "failed" || ph === "rolled-back";
const failed = (ph: HostPhase) => ph === "failed" || ph === "rolled-back";

/** A node's report for this rollout's version. */
export function report(s: RolloutState, host: string, phase: "applying" | "healthy" | "failed" | "rolled-back", detail?: string): RolloutState {
  const h = s.hosts[host];
  if (!h || h.phase === "waiting") return s;
  return { ...s, hosts: { ...s.hosts, [host]: { ...h, phase, ...(detail ? { detail } : {}) } } };
}

/**
 * Advance: time out silent hosts, pause on too many failures, offer the next wave when the
 * current one is finished. Returns the new state; `offered(s)` says which hosts may fetch.
 */
export function step(s: RolloutState, p: RolloutPolicy, now: number): RolloutState {
  if (s.status !== "running") return s;
  const hosts = { ...s.hosts };
  for (const [name, h] of Object.entries(hosts))
    if ((h.phase === "offered" || h.phase === "applying") && h.offeredAt !== undefined && now - h.offeredAt >= p.healthTimeoutMs)
      hosts[name] = { ...h, phase: "failed", detail: `no healthy report within ${Math.round(p.healthTimeoutMs / 1000)} s` };
  let next: RolloutState = { ...s, hosts };
  for (const [i, wave] of s.waves.entries()) {
    const phases = wave.map((h) => hosts[h]!.phase);
    if (phases.every((ph) => ph === "waiting")) {
      for (const h of wave) hosts[h] = { phase: "offered", offeredAt: now };
      return next;
    }
    const failures = phases.filter(failed).length;
    const limit = i === 0 && p.canary > 0 ? 1 : p.pauseAtFailures;
    if (failures >= limit && !s.acceptedWaves?.includes(i)) {
      const what = i === 0 && p.canary > 0 ? "the canary" : `wave ${i + 1}`;
      return { ...next, status: "paused", pausedAtWave: i, pausedBecause: `${failures} of ${wave.length} host(s) in ${what} failed (pause at ${limit})` };
    }
    if (!phases.every(finished)) return next;
  }
  next = { ...next, status: "done" };
  return next;
}

/** Hosts that may fetch their release now. */
export function offered(s: RolloutState): string[] {
  if (s.status === "aborted") return [];
  return Object.entries(s.hosts)
    .filter(([, h]) => h.phase !== "waiting")
    .map(([n]) => n);
}

/** Go on past the wave that paused it (an admin looked at the failures). */
export function resume(s: RolloutState): RolloutState {
  if (s.status !== "paused") return s;
  const { pausedBecause: _reason, pausedAtWave, ...rest } = s;
  return { ...rest, status: "running", acceptedWaves: [...(s.acceptedWaves ?? []), ...(pausedAtWave === undefined ? [] : [pausedAtWave])] };
}

export function abort(s: RolloutState): RolloutState {
  return s.status === "done" ? s : { ...s, status: "aborted" };
}

/** Counts per phase, for the fleet view. */
export function summary(s: RolloutState): Record<HostPhase, number> {
  const out: Record<HostPhase, number> = { waiting: 0, offered: 0, applying: 0, healthy: 0, failed: 0, "rolled-back": 0 };
  for (const h of Object.values(s.hosts)) out[h.phase]++;
  return out;
}
