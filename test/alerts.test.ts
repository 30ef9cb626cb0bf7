// The alert engine (pure) and notification delivery against real local receivers: an HTTP
// webhook receiver (node:http) and a small SMTP receiver (node:net) written here, speaking
// RFC 5321 just far enough for nodemailer to hand over a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { ETH_ALERT_RULES } from "../src/core/monitor/ethereum.js";
import { evaluateAlerts, keyMatches, type AlertPolicy, type AlertState, type Notification } from "../src/core/monitor/alerts.js";
import type { AlertInput } from "../src/core/monitor/types.js";
import { deliver, redactSecret, sendEmail, sendWebhook, type EmailChannel, type WebhookChannel } from "../src/node/monitor/notify.js";

const T0 = 1_700_000_000;
const a = (host: string, key: string, severity: AlertInput["severity"] = "critical", summary = `${key} on ${host}`): AlertInput => ({ host, key, severity, summary });

/** Runs a sequence of polls through the engine, as the server does (states through JSON, as SQLite keeps them). */
function polls(policy: AlertPolicy, steps: { at: number; inputs: AlertInput[] }[]) {
  let states: AlertState[] = [];
  const out: { at: number; notifications: Notification[]; states: AlertState[] }[] = [];
  for (const s of steps) {
    const r = evaluateAlerts(states, s.inputs, s.at, policy);
    states = JSON.parse(JSON.stringify(r.states)) as AlertState[];
    out.push({ at: s.at, notifications: r.notifications, states });
  }
  return out;
}
const kinds = (ns: Notification[]) => ns.map((n) => `${n.kind} ${n.host ?? ""}/${n.key ?? ""}`);

test("raised only after the condition held forSeconds; a blip shorter than that never pages", () => {
  const disk = a("sigma", "disk./var/lib", "warning");
  const r = polls({ forSeconds: 60 }, [
    { at: T0, inputs: [disk] },
    { at: T0 + 30, inputs: [disk] },
    { at: T0 + 60, inputs: [disk] },
    { at: T0 + 90, inputs: [disk] },
  ]);
  assert.deepEqual(r.map((p) => kinds(p.notifications)), [[], [], ["raised sigma/disk./var/lib"], []]);
  assert.equal(r[1]!.states[0]!.status, "pending");
  assert.equal(r[2]!.states[0]!.status, "firing");

  const blip = polls({ forSeconds: 60 }, [
    { at: T0, inputs: [disk] },
    { at: T0 + 30, inputs: [] },
    { at: T0 + 120, inputs: [] },
  ]);
  assert.deepEqual(blip.flatMap((p) => p.notifications), []);
  assert.deepEqual(blip[1]!.states, [], "a pending condition that cleared leaves nothing behind");
});

test("no repeat within repeatSeconds (default 4 h), one repeat after it, resolved when it clears", () => {
  const x = a("sigma", "validator.12.missed");
  const H = 3600;
  const r = polls({}, [
    { at: T0, inputs: [x] },
    { at: T0 + 60, inputs: [x] },
    { at: T0 + 4 * H - 1, inputs: [x] },
    { at: T0 + 4 * H, inputs: [x] },
    { at: T0 + 4 * H + 60, inputs: [x] },
    { at: T0 + 5 * H, inputs: [] },
    { at: T0 + 5 * H + 60, inputs: [] },
  ]);
  assert.deepEqual(r.map((p) => kinds(p.notifications)), [
    ["raised sigma/validator.12.missed"],
    [],
    [],
    ["repeat sigma/validator.12.missed"],
    [],
    ["resolved sigma/validator.12.missed"],
    [],
  ]);
  assert.match(r[0]!.notifications[0]!.text, /^RAISED \[critical\] sigma: validator\.12\.missed on sigma/);
  assert.match(r[5]!.notifications[0]!.text, /^RESOLVED sigma:/);
  // Per-key timing: a rule for validator.*.missed repeats every 10 minutes.
  const fast = polls({ rules: [{ key: "disk.*", repeatSeconds: 60 }, { key: "validator.*.missed", repeatSeconds: 600 }] }, [
    { at: T0, inputs: [x] },
    { at: T0 + 599, inputs: [x] },
    { at: T0 + 600, inputs: [x] },
  ]);
  assert.deepEqual(fast.map((p) => p.notifications.length), [1, 0, 1]);
});

test("an event rule (resolved: false): a missed proposal is raised once and clears without a 'resolved'", () => {
  const p49 = a("bn", "validator.7.proposal", "critical", "validator 7 missed its block proposal at slot 49");
  const r = polls({ rules: ETH_ALERT_RULES }, [
    { at: T0, inputs: [p49] },
    { at: T0 + 60, inputs: [] },
    { at: T0 + 120, inputs: [{ ...p49, summary: "validator 7 missed its block proposal at slot 56" }] },
  ]);
  assert.deepEqual(r.map((x) => kinds(x.notifications)), [["raised bn/validator.7.proposal"], [], ["raised bn/validator.7.proposal"]]);
  assert.ok(keyMatches("validator.*.proposal", "validator.12.proposal"));
  assert.ok(!keyMatches("validator.*.proposal", "validator.12.missed"));
  assert.ok(!keyMatches("disk.(x)", "disk.x"), "only * is special");
});

test("a condition that comes back after it resolved is raised again; warning → critical is told again", () => {
  const w = a("sigma", "eth.consensus.behind", "warning");
  const c = a("sigma", "eth.consensus.behind", "critical");
  const r = polls({}, [
    { at: T0, inputs: [w] },
    { at: T0 + 60, inputs: [c] },
    { at: T0 + 120, inputs: [c] },
    { at: T0 + 180, inputs: [] },
    { at: T0 + 240, inputs: [w] },
  ]);
  assert.deepEqual(r.map((p) => kinds(p.notifications)), [
    ["raised sigma/eth.consensus.behind"],
    ["raised sigma/eth.consensus.behind"],
    [],
    ["resolved sigma/eth.consensus.behind"],
    ["raised sigma/eth.consensus.behind"],
  ]);
  assert.equal(r[1]!.notifications[0]!.severity, "critical");
});

test("storm control: at most N per channel per window, the excess folded into one summary, the rest held back, nothing lost", () => {
  const many = Array.from({ length: 40 }, (_, i) => a(`node${String(i).padStart(2, "0")}`, "eth.consensus.peers", "warning"));
  const policy: AlertPolicy = { storm: { max: 3, windowSeconds: 300 } };
  const r = polls(policy, [
    { at: T0, inputs: many },
    { at: T0 + 60, inputs: many },
    // A new critical alert while the window is full: held back, then sent when there is room.
    { at: T0 + 120, inputs: [...many, a("sigma", "host.down")] },
    { at: T0 + 301, inputs: [...many, a("sigma", "host.down")] },
  ]);
  const first = r[0]!.notifications;
  assert.equal(first.length, 3, kinds(first).join("\n"));
  assert.deepEqual(first.map((n) => n.kind), ["raised", "raised", "summary"]);
  const sum = first[2]!;
  assert.equal(sum.alerts!.length, 38);
  assert.match(sum.text, /^38 alerts on 38 hosts: RAISED node02: .*; RAISED node03: .*; RAISED node04: .* and 35 more$/);
  assert.deepEqual(r[1]!.notifications, [], "folded alerts count as told: no second storm");
  assert.deepEqual(r[2]!.notifications, [], "the window is full: held back");
  assert.deepEqual(kinds(r[3]!.notifications), ["raised sigma/host.down"], "sent once the window has room");
  // Everything stays firing; nothing was dropped.
  assert.equal(r[3]!.states.filter((s) => s.status === "firing").length, 41);
});

test("storm control counts per channel; a critical-only channel does not hear warnings", () => {
  const inputs = [a("sigma", "validator.1.missed"), a("sigma", "eth.consensus.peers", "warning"), a("beta", "validator.2.missed")];
  const policy: AlertPolicy = { channels: [{ name: "chat" }, { name: "pager", minSeverity: "critical" }], storm: { max: 2, windowSeconds: 600 } };
  const [p] = polls(policy, [{ at: T0, inputs }]);
  const chat = p!.notifications.filter((n) => n.channel === "chat");
  const pager = p!.notifications.filter((n) => n.channel === "pager");
  assert.deepEqual(chat.map((n) => n.kind), ["raised", "summary"]);
  assert.deepEqual(kinds(pager), ["raised beta/validator.2.missed", "raised sigma/validator.1.missed"]);
});

test("host down: one page for the host, its other alerts quiet, nothing resolved that could not be seen", () => {
  const disk = a("sigma", "disk./var/lib", "warning");
  const missed = a("sigma", "validator.12.missed");
  const down = a("sigma", "host.down");
  const unreach = a("sigma", "eth.consensus.unreachable");
  const other = a("beta", "eth.execution.syncing");
  const r = polls({ repeatSeconds: 600 }, [
    { at: T0, inputs: [disk, missed] },
    // sigma dies: its monitors report host.down, and the Ethereum reader cannot reach the beacon node.
    { at: T0 + 60, inputs: [down, unreach, other] },
    { at: T0 + 700, inputs: [down, unreach, missed, other] },
    // back: the disk is fine now, the validator still misses, the beacon node answers again.
    { at: T0 + 800, inputs: [missed, other] },
  ]);
  assert.deepEqual(kinds(r[0]!.notifications), ["raised sigma/validator.12.missed", "raised sigma/disk./var/lib"]);
  assert.deepEqual(kinds(r[1]!.notifications), ["raised beta/eth.execution.syncing", "raised sigma/host.down"], "no page for the unreachable beacon node, no 'resolved' for what cannot be seen");
  const s1 = r[1]!.states;
  assert.equal(s1.find((s) => s.key === "disk./var/lib")!.status, "firing", "kept as it was");
  assert.equal(s1.find((s) => s.key === "eth.consensus.unreachable")!.suppressed, true);
  // After repeatSeconds only the host-down alert (and beta's) repeat; sigma's others stay quiet.
  assert.deepEqual(kinds(r[2]!.notifications), ["repeat beta/eth.execution.syncing", "repeat sigma/host.down"]);
  // Back up: host.down and the disk resolve; the validator, still missing and last told 800 s ago (> repeatSeconds), is repeated.
  assert.deepEqual(kinds(r[3]!.notifications), ["resolved sigma/host.down", "repeat sigma/validator.12.missed", "resolved sigma/disk./var/lib"]);
  assert.ok(!r[3]!.states.some((s) => s.key === "eth.consensus.unreachable"), "never raised, so dropped without a word");
});

test("evaluateAlerts leaves the previous states untouched and its states are plain JSON", () => {
  const x = a("sigma", "validator.12.missed");
  const first = evaluateAlerts([], [x], T0);
  const frozen = JSON.stringify(first.states);
  evaluateAlerts(first.states, [], T0 + 60);
  assert.equal(JSON.stringify(first.states), frozen);
  assert.deepEqual(JSON.parse(frozen), first.states);
});

// ---------------------------------------------------------------------------------------------
// Webhook delivery against a real local HTTP server

type Received = { status: number; body: unknown; headers: IncomingMessage["headers"] };
async function receiver(answer: (n: number) => number | "hang") {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      const status = answer(got.length + 1);
      got.push({ status: status === "hang" ? 0 : status, body: JSON.parse(data), headers: req.headers });
      if (status === "hang") return; // never answers
      res.writeHead(status, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { got, url: `http://127.0.0.1:${port}/hooks/T000/SECRET-TOKEN`, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

const note: Notification = { id: `${T0}:chat:raised:sigma/validator.12.missed`, channel: "chat", kind: "raised", at: T0, severity: "critical", text: "RAISED [critical] sigma: validator 12 missed attestations in epoch 40", host: "sigma", key: "validator.12.missed", summary: "validator 12 missed attestations in epoch 40" };

test("webhook: a JSON POST with a plain text field and the notification", async () => {
  const rx = await receiver(() => 200);
  try {
    const ch: WebhookChannel = { type: "webhook", name: "chat", url: rx.url, headers: { authorization: "Bearer hook-token" } };
    const [d] = await deliver([note], [ch]);
    assert.deepEqual(d, { channel: "chat", notification: note.id, ok: true, attempts: 1 });
    assert.equal(rx.got.length, 1);
    assert.deepEqual(rx.got[0]!.body, { text: note.text, notification: note });
    assert.equal(rx.got[0]!.headers["content-type"], "application/json");
    assert.equal(rx.got[0]!.headers.authorization, "Bearer hook-token");
  } finally {
    await rx.close();
  }
});

test("webhook: 500 then 200 is retried and delivered; retries are bounded; 4xx is not retried; the URL's secret path stays out of errors", async () => {
  const flaky = await receiver((n) => (n === 1 ? 500 : 200));
  const down = await receiver(() => 503);
  const bad = await receiver(() => 400);
  try {
    const ch = (url: string): WebhookChannel => ({ type: "webhook", name: "chat", url, retries: 2, backoffMs: 20 });
    const ok = await sendWebhook(ch(flaky.url), note);
    assert.deepEqual(ok, { channel: "chat", notification: note.id, ok: true, attempts: 2 });
    assert.deepEqual(flaky.got.map((g) => g.status), [500, 200]);

    const failed = await sendWebhook(ch(down.url), note);
    assert.equal(failed.ok, false);
    assert.equal(failed.attempts, 3);
    assert.equal(down.got.length, 3, "1 + retries attempts, no more");
    assert.ok(!failed.ok && /answered HTTP 503 after 3 attempts/.test(failed.error), JSON.stringify(failed));
    assert.ok(!failed.ok && !failed.error.includes("SECRET-TOKEN") && !failed.error.includes("/hooks"), failed.ok ? "" : failed.error);

    const refused = await sendWebhook(ch(bad.url), note);
    assert.equal(refused.attempts, 1);
    assert.equal(bad.got.length, 1);
  } finally {
    await Promise.all([flaky.close(), down.close(), bad.close()]);
  }
});

test("webhook: a receiver that never answers times out, bounded", async () => {
  const hang = await receiver(() => "hang");
  try {
    const t = Date.now();
    const d = await sendWebhook({ type: "webhook", name: "chat", url: hang.url, timeoutMs: 300, retries: 1, backoffMs: 10 }, note);
    assert.equal(d.ok, false);
    assert.ok(!d.ok && /no answer within 0.3 s after 2 attempts/.test(d.error), JSON.stringify(d));
    assert.ok(Date.now() - t < 5_000);
    assert.equal(hang.got.length, 2);
  } finally {
    await hang.close();
  }
  const none = await deliver([{ ...note, channel: "nowhere" }], []);
  assert.equal(none[0]!.ok, false);
});

// ---------------------------------------------------------------------------------------------
// E-mail over SMTP against a small local receiver

type Smtp = { messages: { from: string; to: string[]; data: string }[]; lines: string[]; port: number; close: () => Promise<void> };

/**
 * Enough of RFC 5321 for one client: greeting, EHLO (advertising AUTH PLAIN, and STARTTLS never),
 * AUTH PLAIN with one good user/password, MAIL, RCPT, DATA, RSET, NOOP, QUIT. A failed AUTH is
 * answered 535 with the client's line echoed back: the worst a server may do with a password.
 */
async function smtpReceiver(user: string, password: string): Promise<Smtp> {
  const messages: Smtp["messages"] = [];
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let buf = "";
    let inData = false;
    let awaitingAuth = false;
    let cur = { from: "", to: [] as string[], data: "" };
    const say = (l: string) => sock.write(`${l}\r\n`);
    const auth = (b64: string) => {
      const [, u, p] = Buffer.from(b64, "base64").toString("utf8").split("\u0000");
      if (u === user && p === password) say("235 2.7.0 Authentication successful");
      else say(`535 5.7.8 Authentication failed for ${b64}`);
    };
    say("220 localhost ESMTP hearth-test");
    sock.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      for (;;) {
        if (inData) {
          const end = buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          cur.data = buf.slice(0, end);
          buf = buf.slice(end + 5);
          inData = false;
          messages.push(cur);
          cur = { from: "", to: [], data: "" };
          say("250 2.0.0 queued");
          continue;
        }
        const nl = buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        lines.push(line);
        if (awaitingAuth) {
          awaitingAuth = false;
          auth(line);
          continue;
        }
        const verb = line.split(" ")[0]!.toUpperCase();
        if (verb === "EHLO") say("250-localhost\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SMTPUTF8");
        else if (verb === "HELO") say("250 localhost");
        else if (verb === "AUTH") {
          const [, mech, arg] = line.split(" ");
          if (mech?.toUpperCase() !== "PLAIN") say("504 5.5.4 only PLAIN");
          else if (arg) auth(arg);
          else {
            awaitingAuth = true;
            say("334 ");
          }
        } else if (verb === "MAIL") {
          cur.from = line.replace(/^MAIL FROM:\s*<([^>]*)>.*$/i, "$1");
          say("250 2.1.0 ok");
        } else if (verb === "RCPT") {
          cur.to.push(line.replace(/^RCPT TO:\s*<([^>]*)>.*$/i, "$1"));
          say("250 2.1.5 ok");
        } else if (verb === "DATA") {
          inData = true;
          say("354 end with <CRLF>.<CRLF>");
        } else if (verb === "RSET" || verb === "NOOP") say("250 ok");
        else if (verb === "QUIT") {
          say("221 bye");
          sock.end();
        } else say("502 5.5.2 not implemented");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    messages,
    lines,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The message as a person reads it (folded headers joined, quoted-printable soft breaks and escapes undone). */
const unQP = (s: string) => s.replace(/\r\n[ \t]/g, " ").replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

const SMTP_PASSWORD = "correct horse battery staple";

test("e-mail: delivered over SMTP with the alert text, the password given as a Buffer", async () => {
  const smtp = await smtpReceiver("alerts@example.org", SMTP_PASSWORD);
  try {
    const ch: EmailChannel = { type: "email", name: "mail", host: "127.0.0.1", port: smtp.port, tls: "none", user: "alerts@example.org", password: Buffer.from(SMTP_PASSWORD), from: "hearth@example.org", to: ["ops@example.org"], timeoutMs: 5_000 };
    const [d] = await deliver([{ ...note, channel: "mail", hint: "is its validator client running?" }], [ch]);
    assert.deepEqual(d, { channel: "mail", notification: note.id, ok: true, attempts: 1 });
    assert.equal(smtp.messages.length, 1);
    const m = smtp.messages[0]!;
    assert.equal(m.from, "hearth@example.org");
    assert.deepEqual(m.to, ["ops@example.org"]);
    const text = unQP(m.data);
    assert.match(text, /^Subject: \[hearth\] RAISED \[critical\] sigma: validator 12 missed attestations in epoch 40$/m);
    assert.ok(text.includes(note.text), text);
    assert.ok(text.includes("What to do: is its validator client running?"), text);
  } finally {
    await smtp.close();
  }
});

test("e-mail: a refused login is a value, tried once (5xx), and no form of the password is in its error", async () => {
  const smtp = await smtpReceiver("alerts@example.org", "the right one");
  try {
    const ch: EmailChannel = { type: "email", name: "mail", host: "127.0.0.1", port: smtp.port, tls: "none", user: "alerts@example.org", password: SMTP_PASSWORD, from: "hearth@example.org", to: ["ops@example.org"], timeoutMs: 5_000, retries: 2, backoffMs: 10 };
    const d = await sendEmail(ch, note);
    assert.equal(d.ok, false);
    assert.equal(d.attempts, 1);
    const error = d.ok ? "" : d.error;
    // The receiver saw the password (base64 in AUTH PLAIN) and echoed it back in its 535 reply.
    const authLine = smtp.lines.find((l) => l.startsWith("AUTH"))!;
    const b64 = authLine.split(" ").pop()!;
    assert.ok(Buffer.from(b64, "base64").toString().includes(SMTP_PASSWORD), "the client did authenticate");
    assert.match(error, /^e-mail mail via 127\.0\.0\.1:\d+: .*535/);
    for (const form of [SMTP_PASSWORD, b64, Buffer.from(SMTP_PASSWORD).toString("base64")]) assert.ok(!error.includes(form), `the error carries ${form}: ${error}`);
    assert.equal(redactSecret(`x ${b64} y`, SMTP_PASSWORD), "x [redacted] y");
  } finally {
    await smtp.close();
  }
});

test("e-mail: by default the password is only sent under TLS (a server without STARTTLS never sees it); an SMTP port nobody listens on is retried, bounded", async () => {
  const smtp = await smtpReceiver("alerts@example.org", SMTP_PASSWORD);
  const port = smtp.port;
  try {
    const d = await sendEmail({ type: "email", name: "mail", host: "127.0.0.1", port, user: "alerts@example.org", password: SMTP_PASSWORD, from: "hearth@example.org", to: ["ops@example.org"], timeoutMs: 5_000, retries: 0 }, note);
    assert.equal(d.ok, false, "STARTTLS is required and not offered");
    assert.ok(!smtp.lines.some((l) => /^AUTH/i.test(l)), smtp.lines.join("\n"));
    assert.equal(smtp.messages.length, 0);
  } finally {
    await smtp.close();
  }
  // The receiver is gone: its port refuses connections now.
  const t = Date.now();
  const gone = await sendEmail({ type: "email", name: "mail", host: "127.0.0.1", port, tls: "none", from: "hearth@example.org", to: ["ops@example.org"], timeoutMs: 2_000, retries: 1, backoffMs: 10 }, note);
  assert.equal(gone.ok, false);
  assert.equal(gone.attempts, 2);
  assert.ok(!gone.ok && /ECONNREFUSED|connect/i.test(gone.error), JSON.stringify(gone));
  assert.ok(Date.now() - t < 10_000);
});
