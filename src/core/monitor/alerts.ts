// The alert engine: from the conditions that hold now (AlertInput[]) and what it remembered from
// the last poll (AlertState[]), which notifications to send. Raised once, repeated only after
// repeatSeconds, resolved when the condition clears, never a storm: a channel gets at most
// `storm.max` notifications per window (the excess folded into one summary, the rest held back
// until the window has room), and a host that is down pages once, not once per service on it.
// Pure and JSON-serialisable: the server keeps the states in SQLite between polls.
import type { AlertInput, Severity } from "./types.js";

/** Per-key handling, first matching rule wins. */
export interface AlertRule {
  /** The key, `*` matching any run of characters: "validator.*.proposal" matches `validator.12.proposal`. */
  key: string;
  forSeconds?: number;
  repeatSeconds?: number;
  /**
   * false for events rather than states (a missed proposal): when the input goes away it was not
   * "fixed", so no "resolved" notification is sent (default true).
   */
  resolved?: boolean;
}

export interface AlertChannel {
  name: string;
  /** Only alerts at least this severe (default: all). */
  minSeverity?: Severity;
  /** Send "resolved" notifications (default true). */
  resolved?: boolean;
}

export interface AlertPolicy {
  /** How long a condition must hold before it is raised (default 0: on the first poll that shows it). */
  forSeconds?: number;
  /** Re-notify a firing alert after this long (default 4 h). */
  repeatSeconds?: number;
  rules?: AlertRule[];
  /** Where notifications go (default one channel named "default"). */
  channels?: AlertChannel[];
  /** At most `max` notifications per channel in any `windowSeconds` (default 10 per 300 s). */
  storm?: { max: number; windowSeconds: number };
  /** The key that says a whole host is down; while it holds, that host's other alerts stay quiet (default "host.down"). */
  hostDownKey?: string;
}

export const DEFAULT_REPEAT_SECONDS = 4 * 3600;
export const DEFAULT_STORM = { max: 10, windowSeconds: 300 } as const;
export const HOST_DOWN_KEY = "host.down";

/** What one channel was last told about an alert. */
export interface ChannelMemory {
  told: "firing" | "resolved";
  at: number;
}

/** One tracked condition between polls. JSON-serialisable. */
export interface AlertState {
  host: string;
  key: string;
  severity: Severity;
  summary: string;
  hint?: string;
  /**
   * pending: holds, not raised yet (forSeconds, or its host is down);
   * firing: raised; resolved: cleared, kept while its notifications still count against the storm window.
   */
  status: "pending" | "firing" | "resolved";
  /** Unix seconds the condition was first seen in this episode. */
  since: number;
  firedAt?: number;
  resolvedAt?: number;
  /** Quiet because its host is down. */
  suppressed?: boolean;
  /** Per channel name. */
  channels: Record<string, ChannelMemory>;
  /** Notifications that carried this alert (ids, for the per-channel storm count), within the window. */
  sent: { channel: string; at: number; id: string }[];
}

export type NotificationKind = "raised" | "repeat" | "resolved" | "summary";

export interface Notification {
  /** Stable for one sending: `${at}:${channel}:${kind}:${host}/${key}`. */
  id: string;
  channel: string;
  kind: NotificationKind;
  at: number;
  severity: Severity;
  /** One line a person reads: "RAISED sigma: validator 12 missed attestations in epoch 40". */
  text: string;
  host?: string;
  key?: string;
  summary?: string;
  hint?: string;
  /** For a summary: the alerts folded into it. */
  alerts?: { host: string; key: string; kind: Exclude<NotificationKind, "summary">; severity: Severity; summary: string }[];
}

const rank = (s: Severity) => (s === "critical" ? 2 : 1);
const id = (host: string, key: string) => `${host}\u0000${key}`;

/** Whether `key` matches a rule's pattern (`*` = any run of characters). */
export function keyMatches(pattern: string, key: string): boolean {
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(key);
}

function timing(policy: AlertPolicy, key: string): { forSeconds: number; repeatSeconds: number; resolved: boolean } {
  const r = policy.rules?.find((x) => keyMatches(x.key, key));
  return { forSeconds: r?.forSeconds ?? policy.forSeconds ?? 0, repeatSeconds: r?.repeatSeconds ?? policy.repeatSeconds ?? DEFAULT_REPEAT_SECONDS, resolved: r?.resolved ?? true };
}

/**
 * One poll: the conditions that hold now (every monitor's AlertInput[] together), at `now` (unix
 * seconds), against the states of the previous poll. Returns the states to keep and the
 * notifications to deliver, one per channel each.
 *
 * @example
 *   let states: AlertState[] = [];
 *   const r = evaluateAlerts(states, alertsFromEthHealth("sigma", health), Date.now() / 1000, { forSeconds: 60 });
 *   states = r.states; // store; deliver r.notifications
 */
export function evaluateAlerts(previous: AlertState[], current: AlertInput[], now: number, policy: AlertPolicy = {}): { states: AlertState[]; notifications: Notification[] } {
  const channels = policy.channels?.length ? policy.channels : [{ name: "default" }];
  const storm = policy.storm ?? DEFAULT_STORM;
  const downKey = policy.hostDownKey ?? HOST_DOWN_KEY;
  const hostsDown = new Set(current.filter((c) => c.key === downKey).map((c) => c.host));

  // One input per (host, key): the most severe if a monitor repeats itself.
  const inputs = new Map<string, AlertInput>();
  for (const c of current) {
    const k = id(c.host, c.key);
    const had = inputs.get(k);
    if (!had || rank(c.severity) > rank(had.severity)) inputs.set(k, c);
  }

  // Copies: the caller's previous states stay as they were.
  const prev = new Map(previous.map((s) => [id(s.host, s.key), { ...s, channels: { ...s.channels }, sent: [...s.sent] }]));
  const states: AlertState[] = [];

  for (const [k, input] of inputs) {
    const old = prev.get(k);
    prev.delete(k);
    const suppressed = input.key !== downKey && hostsDown.has(input.host);
    const { forSeconds } = timing(policy, input.key);
    const base = { host: input.host, key: input.key, severity: input.severity, summary: input.summary, ...(input.hint !== undefined ? { hint: input.hint } : {}) };
    if (!old || old.status === "resolved") {
      // A new episode (a resolved one keeps only its storm accounting).
      const s: AlertState = { ...base, status: "pending", since: now, channels: old?.channels ?? {}, sent: old?.sent ?? [] };
      if (suppressed) s.suppressed = true;
      else if (forSeconds <= 0) fire(s, now);
      states.push(s);
      continue;
    }
    const s: AlertState = { ...old, ...base };
    if (!("hint" in base)) delete s.hint;
    if (suppressed) s.suppressed = true;
    else delete s.suppressed;
    if (s.status === "pending" && !suppressed && now - s.since >= forSeconds) fire(s, now);
    else if (s.status === "firing" && rank(input.severity) > rank(old.severity)) s.firedAt = now; // escalated: tell again
    states.push(s);
  }

  // Conditions that no longer hold.
  for (const old of prev.values()) {
    if (old.status === "firing" && hostsDown.has(old.host) && old.key !== downKey) {
      states.push(old); // unknown while its host is down: neither resolved nor repeated
      continue;
    }
    if (old.status === "firing") {
      const gone: AlertState = { ...old, status: "resolved", resolvedAt: now };
      // An event is over, not fixed: say nothing (kept only for the storm count).
      if (!timing(policy, old.key).resolved) for (const [name, c] of Object.entries(gone.channels)) gone.channels[name] = { told: "resolved", at: c.at };
      states.push(gone);
      continue;
    }
    if (old.status === "resolved") states.push(old);
    // A pending episode that never fired goes without a word; what an earlier episode sent still counts.
    else if (old.sent.length > 0 || Object.values(old.channels).some((c) => c.told === "firing")) states.push({ ...old, status: "resolved", resolvedAt: now });
  }

  // What each channel should hear, compared with what it was told.
  const perChannel = new Map<string, { state: AlertState; kind: Exclude<NotificationKind, "summary"> }[]>();
  for (const ch of channels) perChannel.set(ch.name, []);
  for (const s of states) {
    if (s.suppressed) continue;
    const { repeatSeconds } = timing(policy, s.key);
    for (const ch of channels) {
      const told = s.channels[ch.name];
      let kind: Exclude<NotificationKind, "summary"> | undefined;
      if (s.status === "firing") {
        if (ch.minSeverity && rank(s.severity) < rank(ch.minSeverity)) continue;
        if (!told || told.told !== "firing" || (s.firedAt !== undefined && told.at < s.firedAt)) kind = "raised";
        // While a host is down only its host-down alert repeats.
        else if (now - told.at >= repeatSeconds && (s.key === downKey || !hostsDown.has(s.host))) kind = "repeat";
      } else if (s.status === "resolved" && told?.told === "firing") {
        if (ch.resolved === false) s.channels[ch.name] = { told: "resolved", at: told.at };
        else kind = "resolved";
      }
      if (kind) perChannel.get(ch.name)!.push({ state: s, kind });
    }
  }

  const notifications: Notification[] = [];
  const order = { raised: 0, resolved: 1, repeat: 2 } as const;
  for (const ch of channels) {
    const want = perChannel.get(ch.name)!;
    if (want.length === 0) continue;
    want.sort((a, b) => rank(b.state.severity) - rank(a.state.severity) || order[a.kind] - order[b.kind] || a.state.host.localeCompare(b.state.host) || a.state.key.localeCompare(b.state.key));
    const used = new Set(states.flatMap((s) => s.sent.filter((x) => x.channel === ch.name && x.at > now - storm.windowSeconds).map((x) => x.id)));
    const room = storm.max - used.size;
    if (room <= 0) continue; // held back: the states still differ from what was told, so the next poll with room sends them
    const single = want.length <= room ? want : want.slice(0, room - 1);
    const folded = want.length <= room ? [] : want.slice(room - 1);
    for (const w of single) {
      const n = notify(ch.name, w.state, w.kind, now);
      notifications.push(n);
      mark(w.state, ch.name, w.kind, now, n.id);
    }
    if (folded.length > 0) {
      const n = summary(ch.name, folded, now);
      notifications.push(n);
      for (const w of folded) mark(w.state, ch.name, w.kind, now, n.id);
    }
  }

  // Keep resolved states only while they still count against a window.
  const kept = states
    .map((s) => ({ ...s, sent: s.sent.filter((x) => x.at > now - storm.windowSeconds) }))
    .filter((s) => s.status !== "resolved" || s.sent.length > 0 || Object.values(s.channels).some((c) => c.told === "firing"));
  kept.sort((a, b) => a.host.localeCompare(b.host) || a.key.localeCompare(b.key));
  return { states: kept, notifications };
}

function fire(s: AlertState, now: number) {
  s.status = "firing";
  s.firedAt = now;
}

function mark(s: AlertState, channel: string, kind: Exclude<NotificationKind, "summary">, now: number, nid: string) {
  s.channels[channel] = { told: kind === "resolved" ? "resolved" : "firing", at: now };
  s.sent.push({ channel, at: now, id: nid });
}

const LABEL = { raised: "RAISED", repeat: "STILL", resolved: "RESOLVED" } as const;

function notify(channel: string, s: AlertState, kind: Exclude<NotificationKind, "summary">, now: number): Notification {
  const text = `${LABEL[kind]} ${s.severity === "critical" && kind !== "resolved" ? "[critical] " : ""}${s.host}: ${s.summary}${kind !== "resolved" && s.hint ? ` (${s.hint})` : ""}`;
  return {
    id: `${now}:${channel}:${kind}:${s.host}/${s.key}`,
    channel,
    kind,
    at: now,
    severity: s.severity,
    text,
    host: s.host,
    key: s.key,
    summary: s.summary,
    ...(s.hint !== undefined ? { hint: s.hint } : {}),
  };
}

/** How many folded alerts a summary names before "and N more". */
const SUMMARY_NAMES = 3;

function summary(channel: string, folded: { state: AlertState; kind: Exclude<NotificationKind, "summary"> }[], now: number): Notification {
  const named = folded.slice(0, SUMMARY_NAMES).map((w) => `${LABEL[w.kind]} ${w.state.host}: ${w.state.summary}`);
  const rest = folded.length - named.length;
  const hosts = [...new Set(folded.map((w) => w.state.host))];
  const severity: Severity = folded.some((w) => w.state.severity === "critical" && w.kind !== "resolved") ? "critical" : "warning";
  return {
    id: `${now}:${channel}:summary`,
    channel,
    kind: "summary",
    at: now,
    severity,
    text: `${folded.length} alerts on ${hosts.length === 1 ? hosts[0] : `${hosts.length} hosts`}: ${named.join("; ")}${rest > 0 ? ` and ${rest} more` : ""}`,
    alerts: folded.map((w) => ({ host: w.state.host, key: w.state.key, kind: w.kind, severity: w.state.severity, summary: w.state.summary })),
  };
}
