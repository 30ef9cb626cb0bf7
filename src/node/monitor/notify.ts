// Delivers the alert engine's notifications: a webhook (JSON POST with a plain `text` field, which
// Slack-style receivers show as is) or e-mail over SMTP (nodemailer). Every outcome is a value;
// no secret (SMTP password, webhook URL path and headers) reaches an error message.
import { createTransport } from "nodemailer";
import type { Notification } from "../../core/monitor/alerts.js";

export interface WebhookChannel {
  type: "webhook";
  name: string;
  /** The whole URL is treated as a secret (Slack-style URLs carry their token in the path). */
  url: string;
  headers?: Record<string, string>;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Extra attempts after a network failure, timeout, 429 or 5xx (default 2). */
  retries?: number;
  /** First pause between attempts, doubled each time (default 1 s). */
  backoffMs?: number;
}

export interface EmailChannel {
  type: "email";
  name: string;
  host: string;
  /** Default 465 with tls "implicit", else 587. */
  port?: number;
  /**
   * implicit: TLS from the first byte (port 465); starttls: STARTTLS required; none: plain text,
   * only for a relay on the same machine or network. Default: implicit on 465, else starttls.
   */
  tls?: "implicit" | "starttls" | "none";
  user?: string;
  /** Read by the caller from the secret store; never logged or echoed. */
  password?: string | Buffer;
  from: string;
  to: string[];
  /** Per SMTP step (default 15 s). */
  timeoutMs?: number;
  /** Extra attempts after a connection failure or a 4xx reply (default 1). */
  retries?: number;
  backoffMs?: number;
}

export type ChannelConfig = WebhookChannel | EmailChannel;

export type Delivery = { channel: string; notification: string; ok: true; attempts: number } | { channel: string; notification: string; ok: false; attempts: number; error: string };

/** The webhook's JSON: `text` for people and chat tools, the notification for programs. */
export function webhookBody(n: Notification): { text: string; notification: Notification } {
  return { text: n.text, notification: n };
}

/** Subject and plain-text body of the e-mail for one notification. */
export function emailMessage(n: Notification): { subject: string; text: string } {
  const subject = `[hearth] ${n.text}`.replace(/\s+/g, " ");
  const lines = [n.text, ""];
  if (n.hint && n.kind !== "summary") lines.push(`What to do: ${n.hint}`, "");
  for (const a of n.alerts ?? []) lines.push(`- ${a.kind} ${a.severity} ${a.host}: ${a.summary}`);
  if (n.host) lines.push(`host: ${n.host}`, `alert: ${n.key}`);
  lines.push(`severity: ${n.severity}`, `at: ${new Date(n.at * 1000).toISOString()}`);
  return { subject: subject.length > 160 ? `${subject.slice(0, 157)}…` : subject, text: lines.join("\n") + "\n" };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Scheme and host only: the path and query of a webhook URL are its secret. */
const where = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return "(an invalid URL)";
  }
};

/** POSTs one notification, retrying transient failures a bounded number of times. */
export async function sendWebhook(ch: WebhookChannel, n: Notification): Promise<Delivery> {
  const attemptsMax = 1 + Math.max(0, ch.retries ?? 2);
  const timeoutMs = ch.timeoutMs ?? 10_000;
  let error = "";
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    let retry = false;
    try {
      const res = await fetch(ch.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...ch.headers },
        body: JSON.stringify(webhookBody(n)),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { channel: ch.name, notification: n.id, ok: true, attempts: attempt };
      error = `answered HTTP ${res.status}`;
      retry = res.status === 429 || res.status >= 500;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      error = err.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : err.cause?.code ?? "connection failed";
      retry = true;
    }
    if (!retry) return { channel: ch.name, notification: n.id, ok: false, attempts: attempt, error: `webhook ${ch.name} (${where(ch.url)}): ${error}` };
    if (attempt < attemptsMax) await sleep((ch.backoffMs ?? 1_000) * 2 ** (attempt - 1));
    else return { channel: ch.name, notification: n.id, ok: false, attempts: attempt, error: `webhook ${ch.name} (${where(ch.url)}): ${error} after ${attempt} attempts` };
  }
  return { channel: ch.name, notification: n.id, ok: false, attempts: attemptsMax, error: `webhook ${ch.name} (${where(ch.url)}): ${error}` };
}

/**
 * Removes the password from a text, also where it hides in base64 (SMTP AUTH PLAIN and LOGIN send
 * it so, and a server may echo the line back in its error).
 */
export function redactSecret(text: string, secret: string): string {
  if (!secret) return text;
  let out = text.split(secret).join("[redacted]");
  out = out.replace(/[A-Za-z0-9+/]{4,}={0,2}/g, (tok) => {
    const plain = Buffer.from(tok, "base64").toString("utf8");
    return plain.includes(secret) ? "[redacted]" : tok;
  });
  return out;
}

/** Sends one notification by e-mail. */
export async function sendEmail(ch: EmailChannel, n: Notification): Promise<Delivery> {
  const tls = ch.tls ?? (ch.port === 465 ? "implicit" : "starttls");
  const port = ch.port ?? (tls === "implicit" ? 465 : 587);
  const timeoutMs = ch.timeoutMs ?? 15_000;
  const pass = ch.password === undefined ? undefined : Buffer.isBuffer(ch.password) ? ch.password.toString("utf8") : ch.password;
  const attemptsMax = 1 + Math.max(0, ch.retries ?? 1);
  const msg = emailMessage(n);
  let error = "";
  let attempts = 0;
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    attempts = attempt;
    const transport = createTransport({
      host: ch.host,
      port,
      secure: tls === "implicit",
      requireTLS: tls === "starttls",
      ignoreTLS: tls === "none",
      ...(ch.user !== undefined ? { auth: { user: ch.user, pass: pass ?? "" } } : {}),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      logger: false,
      debug: false,
    });
    try {
      await transport.sendMail({ from: ch.from, to: ch.to, subject: msg.subject, text: msg.text });
      return { channel: ch.name, notification: n.id, ok: true, attempts: attempt };
    } catch (e) {
      const err = e as Error & { responseCode?: number; code?: string };
      error = redactSecret(err.message || String(e), pass ?? "");
      // 5xx is the server's final word (bad login, refused recipient): trying again changes nothing.
      if (err.responseCode !== undefined && err.responseCode >= 500) break;
    } finally {
      transport.close();
    }
    if (attempt < attemptsMax) await sleep((ch.backoffMs ?? 1_000) * 2 ** (attempt - 1));
  }
  return { channel: ch.name, notification: n.id, ok: false, attempts, error: `e-mail ${ch.name} via ${ch.host}:${port}: ${error}` };
}

/** Delivers each notification to the channel it names; a notification for an unknown channel is a failed delivery. */
export async function deliver(notifications: Notification[], channels: ChannelConfig[]): Promise<Delivery[]> {
  const byName = new Map(channels.map((c) => [c.name, c]));
  return Promise.all(
    notifications.map((n) => {
      const ch = byName.get(n.channel);
      if (!ch) return Promise.resolve<Delivery>({ channel: n.channel, notification: n.id, ok: false, attempts: 0, error: `no channel named ${n.channel} is configured` });
      return ch.type === "webhook" ? sendWebhook(ch, n) : sendEmail(ch, n);
    }),
  );
}
