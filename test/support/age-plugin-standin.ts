// A stand-in age plugin for tests, named as such: `age-plugin-hearthtest` (and variants that
// misbehave on purpose), since no YubiKey or FIDO2 plugin runs here and Debian packages none.
// It implements both state machines of C2SP age-plugin.md (recipient-v1 and identity-v1) and
// wraps file keys with X25519 under its own stanza type, so whatever reads its stanzas must have
// gone through the plugin. Written into a temp dir as a Node script behind a sh wrapper; every
// run appends its argv, its parent's argv and what the client answered to a log.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { bech32 } from "@scure/base";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";

const mod = (p: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, "node_modules", p)).href);

const SCRIPT = `// age-plugin stand-in (hearth tests). Modes: ok, error, labels, ask (HEARTHTEST_MODE).
import { x25519 } from ${mod("@noble/curves/ed25519.js")};
import { hkdf } from ${mod("@noble/hashes/hkdf.js")};
import { sha256 } from ${mod("@noble/hashes/sha2.js")};
import { chacha20poly1305 } from ${mod("@noble/ciphers/chacha.js")};
import { bech32 } from ${mod("@scure/base/index.js")};
import { appendFileSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const mode = process.env.HEARTHTEST_MODE ?? "ok";
const name = process.env.HEARTHTEST_NAME ?? "hearthtest";
const log = (o) => appendFileSync(process.env.HEARTHTEST_LOG, JSON.stringify(o) + "\\n");
const argvOf = (pid) => readFileSync("/proc/" + pid + "/cmdline", "latin1").split("\\0").filter(Boolean);
const run = { name, mode, argv: process.argv.slice(2), self: argvOf("self"), parent: argvOf(process.ppid), cwd: process.cwd(), answers: {} };

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
const line = async () => { const r = await lines.next(); if (r.done) throw new Error("eof"); return r.value; };
const b64 = (b) => Buffer.from(b).toString("base64").replace(/=+$/, "");
async function read() {
  const first = await line();
  if (!first.startsWith("-> ")) throw new Error("bad stanza " + first);
  const [type, ...args] = first.slice(3).split(" ");
  const parts = [];
  for (;;) { const l = await line(); parts.push(Buffer.from(l, "base64")); if (l.length < 64) break; }
  return { type, args, body: new Uint8Array(Buffer.concat(parts)) };
}
function send(type, args = [], body = new Uint8Array(0)) {
  const t = b64(body), out = [];
  for (let i = 0; i < t.length; i += 64) out.push(t.slice(i, i + 64));
  if (t.length % 64 === 0) out.push("");
  process.stdout.write("-> " + [type, ...args].join(" ") + "\\n" + out.join("\\n") + "\\n");
}
// Sends a command and returns the client's answer (\`ok\`, \`ok yes\`, \`fail\`, \`unsupported\`).
async function ask(type, args, body) {
  send(type, args, typeof body === "string" ? new TextEncoder().encode(body) : body);
  const r = await read();
  return r.type + (r.args.length ? " " + r.args.join(" ") : "");
}

const LABEL = new TextEncoder().encode("hearthtest-wrap");
const keyFor = (shared, share, pub) => hkdf(sha256, shared, new Uint8Array([...share, ...pub]), LABEL, 32);
const decodeRecipient = (r) => { const d = bech32.decodeToBytes(r, false); if (d.prefix !== "age1" + name) throw new Error("not mine"); return d.bytes; };
const decodeIdentity = (i) => bech32.decodeToBytes(i, false).bytes;

async function recipientV1() {
  const pubs = [], keys = [];
  for (;;) {
    const s = await read();
    if (s.type === "done") break;
    if (s.type === "add-recipient") pubs.push(s.args[0]);
    else if (s.type === "add-identity") pubs.push(b64(x25519.getPublicKey(decodeIdentity(s.args[0]))));
    else if (s.type === "wrap-file-key") keys.push(s.body);
    else if (s.type === "extension-labels") run.extensionLabels = true;
  }
  run.recipients = pubs.length;
  if (mode === "error") {
    run.answers.error = await ask("error", ["recipient", "0"], "no token with this recipient is plugged in (the stand-in was told to fail)");
    finish();
    return;
  }
  if (mode === "ask") {
    run.answers.requestSecret = await ask("request-secret", [], "PIN for the stand-in token");
    run.answers.requestPublic = await ask("request-public", [], "which slot?");
    run.answers.confirm = await ask("confirm", [b64(new TextEncoder().encode("yes"))], "use this token?");
  }
  run.answers.grease = await ask("hearthtest-grease", ["x"], "ignore me");
  run.answers.msg = await ask("msg", [], "stand-in plugin wrapping to " + pubs.length + " recipient(s)");
  if (mode === "labels") run.answers.labels = await ask("labels", ["postquantum"], "");
  for (const [i, fileKey] of keys.entries())
    for (const r of pubs) {
      const pub = decodeRecipient(r);
      const eph = crypto.getRandomValues(new Uint8Array(32));
      const share = x25519.getPublicKey(eph);
      const body = chacha20poly1305(keyFor(x25519.getSharedSecret(eph, pub), share, pub), new Uint8Array(12)).encrypt(fileKey);
      run.answers.stanza = await ask("recipient-stanza", [String(i), "hearthtest", b64(share)], body);
    }
  finish();
}

async function identityV1() {
  const secrets = [], stanzas = [];
  for (;;) {
    const s = await read();
    if (s.type === "done") break;
    if (s.type === "add-identity") secrets.push(decodeIdentity(s.args[0]));
    else if (s.type === "recipient-stanza") stanzas.push(s);
  }
  const done = new Set();
  for (const s of stanzas) {
    const [file, type, shareB64] = s.args;
    if (type !== "hearthtest" || done.has(file)) continue;
    const share = Buffer.from(shareB64, "base64");
    for (const secret of secrets) {
      const pub = x25519.getPublicKey(secret);
      let fileKey;
      try { fileKey = chacha20poly1305(keyFor(x25519.getSharedSecret(secret, share), share, pub), new Uint8Array(12)).decrypt(s.body); } catch { continue; }
      run.answers["fileKey" + file] = await ask("file-key", [file], fileKey);
      done.add(file);
      break;
    }
  }
  finish();
}

// The log is written before \`done\`: age closes the pipes and sends SIGINT right after it.
function finish() {
  log(run);
  send("done");
}
process.on("SIGINT", () => {});
try {
  if (process.argv[2] === "--age-plugin=recipient-v1") await recipientV1();
  else if (process.argv[2] === "--age-plugin=identity-v1") await identityV1();
  else { process.stderr.write("unknown state machine " + process.argv[2] + "\\n"); process.exitCode = 1; }
} catch (e) {
  run.failed = String(e);
  log(run);
  process.exitCode = 1;
}
`;

/** A stand-in plugin key pair: the recipient (`age1NAME1…`) and an identity file's text. */
export function standinKey(name = "hearthtest"): { recipient: string; identity: string; fileText: string } {
  const secret = new Uint8Array(randomBytes(32));
  const recipient = bech32.encode(`age1${name}`, bech32.toWords(x25519.getPublicKey(secret)), false);
  const identity = bech32.encode(`age-plugin-${name}-`, bech32.toWords(secret), false).toUpperCase();
  return { recipient, identity, fileText: `# a stand-in for a hardware token's identity (hearth tests)\n#    Recipient: ${recipient}\n${identity}\n` };
}

/**
 * Installs the stand-in as `age-plugin-NAME` for each name → mode in `dir`/bin; returns the bin
 * directory (put it on PATH) and the log file its runs append to.
 */
export function installStandin(dir: string, plugins: Record<string, "ok" | "error" | "labels" | "ask">): { bin: string; log: string } {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  const script = join(dir, "age-plugin-standin.mjs");
  writeFileSync(script, SCRIPT);
  const log = join(dir, "plugin-runs.jsonl");
  writeFileSync(log, "");
  for (const [name, mode] of Object.entries(plugins)) {
    const wrapper = join(bin, `age-plugin-${name}`);
    writeFileSync(
      wrapper,
      `#!/bin/sh\nHEARTHTEST_NAME=${name} HEARTHTEST_MODE=${mode} HEARTHTEST_LOG='${log}' exec '${process.execPath}' '${script}' "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
  }
  return { bin, log };
}
