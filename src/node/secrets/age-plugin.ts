// The client side of the age plugin protocol's recipient-v1 state machine: hearth encrypts to a
// plugin recipient (`age1yubikey1…`, an admin's key on a hardware token) by running
// `age-plugin-NAME --age-plugin=recipient-v1` and exchanging stanzas over its stdin/stdout, and
// puts the stanzas it returns into the age header through typage's Recipient interface, beside
// the X25519 and ssh-ed25519 ones. The file key travels only over the plugin's stdin.
//
// Protocol: C2SP age-plugin.md (github.com/C2SP/C2SP, commit 5ba5ee83, "Wrapping with
// recipient-v1"), cross-checked with the Go client Debian's age 1.1.1 uses (FiloSottile/age
// v1.1.1, internal/plugin/client.go, Recipient.Wrap and ClientUI.handle; stanza encoding from
// internal/format/format.go). Where they differ, hearth follows the spec: it also sends
// `extension-labels` (newer than age 1.1.1) and enforces the label rule.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { Stanza, type Recipient } from "age-encryption";
import { SecretError } from "./age.js";
import { pluginBinary } from "../../core/secrets/recipients.js";

/** A stanza of the IPC protocol: same text form as an age header stanza. */
export interface IpcStanza {
  type: string;
  args: string[];
  body: Uint8Array;
}

/** How a plugin's requests reach the user. Encryption needs no input, so only messages are shown. */
export interface PluginUi {
  /** A `msg` from the plugin ("touch your YubiKey"), or hearth's own note that it is waiting. */
  message(plugin: string, text: string): void;
}

export const stderrUi: PluginUi = { message: (plugin, text) => process.stderr.write(`hearth: ${pluginBinary(plugin)}: ${text}\n`) };

const COLUMNS = 64;
// An argument of an age header line: 1*VCHAR (age-encryption.org/v1 ABNF; format.go isValidString).
const ARG = /^[\x21-\x7e]+$/;
const B64 = /^[A-Za-z0-9+/]*$/;
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64").replace(/=+$/, "");

/** One stanza as age writes it: `-> type args…`, the body in base64 lines of 64, ending with a short (maybe empty) line. */
export function encodeStanza(type: string, args: string[] = [], body: Uint8Array = new Uint8Array(0)): string {
  const text = b64(body);
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += COLUMNS) lines.push(text.slice(i, i + COLUMNS));
  if (text.length % COLUMNS === 0) lines.push("");
  return `-> ${[type, ...args].join(" ")}\n${lines.join("\n")}\n`;
}

/** Base64 without padding, canonical only (C2SP: decoders MUST reject non-canonical encodings). */
function decodeLine(line: string): Uint8Array | undefined {
  if (!B64.test(line) || line.length % 4 === 1) return undefined;
  const bytes = Buffer.from(line, "base64");
  return b64(bytes) === line ? new Uint8Array(bytes) : undefined;
}

/** Reads stanzas from a stream of lines; `undefined` at the end of the stream. */
export class StanzaReader {
  private readonly lines: AsyncIterator<string>;
  constructor(input: NodeJS.ReadableStream) {
    this.lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  }

  private async line(): Promise<string | undefined> {
    const r = await this.lines.next();
    return r.done ? undefined : r.value;
  }

  /** @throws Error for a malformed stanza (the caller names the plugin). */
  async read(): Promise<IpcStanza | undefined> {
    const first = await this.line();
    if (first === undefined) return undefined;
    const parts = first.startsWith("-> ") ? first.slice(3).split(" ") : [];
    if (parts.length === 0 || !parts.every((a) => ARG.test(a))) throw new Error(`malformed stanza line '${first.slice(0, 80)}'`);
    const chunks: Uint8Array[] = [];
    for (;;) {
      const line = await this.line();
      if (line === undefined) throw new Error("stream ended inside a stanza body");
      const bytes = line.length <= COLUMNS ? decodeLine(line) : undefined;
      if (!bytes) throw new Error("malformed stanza body (not canonical base64 in lines of 64)");
      chunks.push(bytes);
      if (line.length < COLUMNS) break;
    }
    return { type: parts[0]!, args: parts.slice(1), body: new Uint8Array(Buffer.concat(chunks)) };
  }
}

/** A running plugin: stanzas in, stanzas out, its stderr kept (bounded) for error messages. */
class PluginConnection {
  readonly reader: StanzaReader;
  private stderr = "";
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private spawnError: Error | undefined;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.reader = new StanzaReader(child.stdout);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      if (this.stderr.length < 8192) this.stderr += d;
    });
    // A plugin that exits early makes our writes fail with EPIPE; the read side reports it.
    child.stdin.on("error", () => {});
    this.exited = new Promise((res) => {
      child.on("error", (e) => {
        this.spawnError = e;
        res({ code: null, signal: null });
      });
      child.on("close", (code, signal) => res({ code, signal }));
    });
  }

  /**
   * Starts `binary --age-plugin=STATE_MACHINE` in an empty directory (plugins MUST NOT rely on
   * the working directory; age 1.1.1 uses os.TempDir()). argv carries only the flag.
   */
  static open(binary: string, stateMachine: string): PluginConnection {
    const env = { ...process.env };
    // AGEDEBUG=plugin makes age's plugins and clients echo the protocol, file keys included, to stderr.
    delete env.AGEDEBUG;
    return new PluginConnection(spawn(binary, [`--age-plugin=${stateMachine}`], { cwd: tmpdir(), env, stdio: ["pipe", "pipe", "pipe"] }));
  }

  send(type: string, args: string[] = [], body?: Uint8Array): void {
    this.child.stdin.write(encodeStanza(type, args, body));
  }

  /** Why the plugin stopped talking: how it exited and the end of what it said on stderr. */
  async died(): Promise<string> {
    const { code, signal } = await Promise.race([this.exited, new Promise<{ code: null; signal: null }>((r) => setTimeout(() => r({ code: null, signal: null }), 2000).unref())]);
    if (this.spawnError) return `could not be started (${this.spawnError.message})`;
    const how = signal ? `was killed by ${signal}` : code !== null ? `exited with status ${code}` : "closed its output";
    const said = this.stderr.trim().split("\n").slice(-5).join(" / ");
    return `${how}${said ? `: ${said}` : ""}`;
  }

  /** Closes stdin (the plugin's cue to exit) and waits briefly; a plugin that lingers is stopped. */
  async close(): Promise<void> {
    this.child.stdin.end();
    const term = setTimeout(() => this.child.kill("SIGTERM"), 3000);
    const kill = setTimeout(() => this.child.kill("SIGKILL"), 6000);
    await this.exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}

/**
 * The recipients of one plugin as one typage Recipient: one plugin run per file wraps the file
 * key to all of them (a token is asked once, not once per admin). `labels` holds the label set
 * of the last wrap, which the caller checks against the other recipients (see checkLabels).
 */
export class PluginRecipients implements Recipient {
  labels: string[] = [];

  /** @param binary the plugin's path (found on PATH by the caller); @param recipients its `age1NAME1…` recipients. */
  constructor(
    readonly plugin: string,
    private readonly binary: string,
    readonly recipients: string[],
    private readonly ui: PluginUi = stderrUi,
  ) {}

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const bin = pluginBinary(this.plugin);
    const conn = PluginConnection.open(this.binary, "recipient-v1");
    const fail = (why: string) => new SecretError(`${bin} (for ${this.recipients.map(short).join(", ")}) ${why}`);
    try {
      // Phase 1 (client, uni-directional).
      for (const r of this.recipients) conn.send("add-recipient", [r]);
      conn.send("wrap-file-key", [], fileKey);
      conn.send("extension-labels");
      conn.send("done");
      // Phase 2 (plugin, bi-directional): answer every command until `done`.
      const stanzas: Stanza[] = [];
      const errors: string[] = [];
      let labels: string[] | undefined;
      for (;;) {
        let s: IpcStanza | undefined;
        const waiting = setTimeout(() => this.ui.message(this.plugin, "waiting for the plugin (does your token want a touch or a PIN?)"), 5000);
        try {
          s = await conn.reader.read();
        } catch (e) {
          throw fail(`broke the age plugin protocol: ${(e as Error).message}`);
        } finally {
          clearTimeout(waiting);
        }
        if (!s) {
          // A plugin may exit right after its errors; they say more than the exit does.
          if (errors.length) break;
          throw fail(`stopped before finishing (${await conn.died()})`);
        }
        if (s.type === "done") break;
        switch (s.type) {
          case "recipient-stanza": {
            // (recipient-stanza, FILE_INDEX STANZA...): one file key was sent, so its index is 0.
            if (s.args.length < 2 || s.args[0] !== "0") throw fail(`broke the age plugin protocol: recipient-stanza '${s.args.slice(0, 2).join(" ")}' is not for file 0`);
            stanzas.push(new Stanza(s.args.slice(1), s.body));
            conn.send("ok");
            break;
          }
          case "labels": {
            if (labels) throw fail("broke the age plugin protocol: sent labels twice");
            if (new Set(s.args).size !== s.args.length) throw fail("broke the age plugin protocol: sent a label twice");
            labels = s.args;
            conn.send("ok");
            break;
          }
          case "error": {
            // (error, recipient N; MESSAGE), (error, identity N; MESSAGE), (error, internal; MESSAGE).
            const text = new TextDecoder().decode(s.body).trim() || "no reason given";
            const n = Number(s.args[1]);
            const which = s.args[0] === "recipient" && Number.isInteger(n) && this.recipients[n] ? `recipient ${short(this.recipients[n]!)}: ` : "";
            errors.push(`${which}${text}`);
            conn.send("ok");
            break;
          }
          case "msg":
            this.ui.message(this.plugin, new TextDecoder().decode(s.body));
            conn.send("ok");
            break;
          case "request-secret":
          case "request-public":
          case "confirm":
            // Wrapping to a public key needs nothing from the user; the spec's answer when
            // there is no UI for a request is `fail` (age 1.1.1 answers the same without one).
            conn.send("fail");
            break;
          default:
            // Unknown commands (and grease) in a bi-directional phase get `unsupported`.
            conn.send("unsupported");
        }
      }
      if (errors.length) throw fail(`refused: ${errors.join("; ")}`);
      if (stanzas.length === 0) throw fail("returned no stanzas");
      this.labels = labels ?? [];
      return stanzas;
    } finally {
      await conn.close();
    }
  }
}

/**
 * C2SP age-plugin.md, extension-labels: all stanzas wrapping one file key must carry the same
 * label set; X25519 and ssh-ed25519 stanzas carry the empty set. A plugin that labels its
 * stanzas (`postquantum`, or a random label meaning "me alone") cannot share a file with others.
 */
export function checkLabels(plugins: PluginRecipients[], nativeRecipients: number): void {
  const sets = [...(nativeRecipients ? [{ who: "the X25519 / ssh-ed25519 recipients", labels: [] as string[] }] : []), ...plugins.map((p) => ({ who: pluginBinary(p.plugin), labels: p.labels }))];
  const key = (l: string[]) => [...l].sort().join(" ");
  const first = sets[0];
  const odd = sets.find((s) => key(s.labels) !== key(first?.labels ?? []));
  if (first && odd)
    throw new SecretError(
      `${odd.who} labels its stanzas [${odd.labels.join(" ")}] and ${first.who} [${first.labels.join(" ")}]: age forbids mixing them in one file; ` +
        "encrypt to recipients of one kind only (remove the other admins' keys of the other kind)",
    );
}

/** A recipient shortened for messages (plugin recipients can run to hundreds of characters). */
export const short = (r: string) => (r.length > 32 ? `${r.slice(0, 24)}…${r.slice(-6)}` : r);
