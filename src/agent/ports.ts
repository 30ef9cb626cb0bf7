// The agent's ports on a real machine: state on disk (atomic), HTTP with a timeout, the identity
// drive mounted read-only by its label, and the NixOS system switched the way `hearth deploy`
// switches it (watchdog, health checks, back to the exact previous generation).
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync, openSync, fsyncSync, closeSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { createHash, createPrivateKey, randomBytes, sign as cryptoSign } from "node:crypto";
import { readIdentityDir, HOST_KEY_FILE, IDENTITY_LABEL } from "../node/identity/drive.js";
import { activateScript, confirmScript, generationOf, rollbackScript, SYSTEM_PROFILE, type DeployOptions } from "../core/deploy/deploy.js";
import { healthScript, parseHealth, describeHealth } from "../core/deploy/health.js";
import type { Bundle } from "../core/pull/release.js";
import type { AgentState, Http, Identity, IdentityPort, ImagePort, StatePort, SystemPort } from "./agent.js";
import type { ImageRelease } from "../core/pull/release.js";
import { blessBooted, bootedSlot, bootOutcome, ESP_PATHS, otherSlot, PARTLABEL, readEntries, stageUpdate, writeSideImage, type Slot } from "./ab.js";

const run = promisify(execFile);

/** Ed25519 signing with Node's OpenSSL: a seed in PKCS#8 (RFC 8410's fixed prefix). */
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
export const nodeSign = (message: Uint8Array, seed: Uint8Array): Uint8Array =>
  new Uint8Array(cryptoSign(null, message, createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" })));

export class FileState implements StatePort {
  constructor(private readonly dir: string) {}
  async load(): Promise<AgentState | undefined> {
    try {
      return JSON.parse(readFileSync(join(this.dir, "state.json"), "utf8")) as AgentState;
    } catch {
      return undefined;
    }
  }
  async save(s: AgentState): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.state.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n", { mode: 0o600 });
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, "state.json"));
  }
}

export class FetchHttp implements Http {
  constructor(
    private readonly base: string,
    private readonly timeoutMs = 15_000,
  ) {}
  async request(method: "GET" | "POST", path: string, body: Uint8Array | undefined, headers: Record<string, string>) {
    const r = await fetch(new URL(path, this.base), { method, headers, ...(body ? { body: Buffer.from(body) } : {}), signal: AbortSignal.timeout(this.timeoutMs) });
    return { status: r.status, text: await r.text() };
  }
  /** Streams to `dest` (temp + rename), hashing as it goes; a short, long or different file is removed. */
  async download(path: string, headers: Record<string, string>, dest: string, expect: { size: number; sha256: string }): Promise<boolean> {
    const r = await fetch(new URL(path, this.base), { headers, signal: AbortSignal.timeout(60 * 60_000) });
    if (r.status !== 200 || !r.body) return false;
    const tmp = `${dest}.${randomBytes(4).toString("hex")}.part`;
    const hash = createHash("sha256");
    let size = 0;
    const fd = openSync(tmp, "w", 0o600);
    try {
      for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > expect.size) break;
        hash.update(chunk);
        writeSync(fd, chunk);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (size !== expect.size || hash.digest("hex") !== expect.sha256) {
      rmSync(tmp, { force: true });
      return false;
    }
    renameSync(tmp, dest);
    return true;
  }
}

export interface DriveOptions {
  /** The drive: /dev/disk/by-label/HEARTH-ID by default; an image file is loop-mounted. */
  device?: string;
  /** Where the host key is installed for sshd and agenix (a tmpfs). */
  runDir: string;
}

/** The host key where sshd and agenix read it: owner-only files on a tmpfs. */
export function installIdentity(runDir: string, id: Identity): void {
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const key = join(runDir, HOST_KEY_FILE);
  writeFileSync(key, id.sshPrivateKey, { mode: 0o600 });
  chmodSync(key, 0o600);
  writeFileSync(`${key}.pub`, `${id.sshPublicKey}\n`);
}

/** Decrypts armored age with an OpenSSH ed25519 private key (a pending node's adoption). */
export async function decryptWithKey(armored: string, privateKey: string): Promise<Uint8Array> {
  const { decrypt, sshIdentity } = await import("../node/secrets/age-impl.js");
  return decrypt("adoption", new TextEncoder().encode(armored), [sshIdentity("the pending key", privateKey)]);
}

/** Mounts the identity drive read-only, reads it, unmounts; the key goes to a tmpfs for sshd. */
export class DriveIdentity implements IdentityPort {
  constructor(private readonly o: DriveOptions) {}
  async read(): Promise<Identity | undefined> {
    const device = this.o.device ?? `/dev/disk/by-label/${IDENTITY_LABEL}`;
    if (!existsSync(device)) return undefined;
    const mnt = mkdtempSync(join(this.o.runDir, ".drive-"));
    try {
      await run("mount", ["-o", `ro,nodev,nosuid,noexec${device.startsWith("/dev/") ? "" : ",loop"}`, "-t", "ext4", device, mnt]);
      try {
        const c = readIdentityDir(mnt);
        const id: Identity = { host: c.host, sshPrivateKey: c.sshPrivateKey.toString("utf8"), sshPublicKey: c.sshPublicKey, ...(c.network ? { network: c.network } : {}) };
        installIdentity(this.o.runDir, id);
        return id;
      } finally {
        await run("umount", [mnt]).catch(() => undefined);
      }
    } finally {
      rmSync(mnt, { recursive: true, force: true });
    }
  }
}

/**
 * A NixOS system: fetch the closure from the bundle's substituters, then switch with the same
 * watchdog, health checks and rollback as `hearth deploy` (src/core/deploy).
 */
export class NixosSystem implements SystemPort {
  constructor(private readonly o: { profile?: string; confirmTimeout?: number; healthTimeoutMs?: number; shell?: string } = {}) {}
  private get opts(): DeployOptions {
    return { flakeDir: "", profile: this.o.profile ?? SYSTEM_PROFILE, confirmTimeout: this.o.confirmTimeout ?? 300 };
  }
  private sh(script: string) {
    return run(this.o.shell ?? "bash", ["-c", script], { maxBuffer: 16 * 1024 * 1024 });
  }
  async current() {
    const link = await this.sh(`readlink '${this.opts.profile}' || true`).then((r) => r.stdout.trim());
    const system = await this.sh(`readlink -f '${this.opts.profile}' || true`).then((r) => r.stdout.trim());
    const slot = /(?:^| )hearth\.slot=([ab])(?: |$)/.exec(existsSync("/proc/cmdline") ? readFileSync("/proc/cmdline", "utf8") : "")?.[1];
    const generation = generationOf(link);
    return { ...(system ? { system } : {}), ...(generation !== undefined ? { generation } : {}), ...(slot ? { slot } : {}) };
  }
  async apply(b: Bundle, log: (line: string) => void) {
    const o = this.opts;
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    try {
      const subs = b.substituters.join(" ");
      const keys = b.trustedPublicKeys.join(" ");
      await this.sh(`nix-store --realise ${q(b.system)} --option substituters ${q(subs)} --option trusted-public-keys ${q(keys)} >/dev/null`);
      log(`fetched ${b.system}`);
    } catch (e) {
      return { ok: false as const, error: `fetching the closure failed: ${tail((e as { stderr?: string }).stderr)}`, rolledBack: false };
    }
    const previous = generationOf((await this.sh(`readlink '${o.profile}' || true`)).stdout.trim()) ?? "<none>";
    const token = randomBytes(8).toString("hex");
    try {
      await this.sh(activateScript(o, b.system, token, previous));
    } catch (e) {
      log(`switch failed: ${tail((e as { stderr?: string }).stderr)}`);
      await this.sh(rollbackScript(o, previous)).catch(() => undefined);
      return { ok: false as const, error: "switch-to-configuration failed", rolledBack: true };
    }
    const expected = (await this.sh(`readlink '${o.profile}'`)).stdout.trim();
    const deadline = Date.now() + (this.o.healthTimeoutMs ?? 120_000);
    let last = "";
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      const h = parseHealth((await this.sh(healthScript(b.checks ?? [])).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }))).stdout, b.checks ?? []);
      if (h.ok) {
        await this.sh(confirmScript(token, o, expected));
        return { ok: true as const };
      }
      last = describeHealth(h);
      await new Promise((r) => setTimeout(r, 3000));
    }
    log(`not healthy: ${last}`);
    await this.sh(rollbackScript(o, previous)).catch(() => undefined);
    return { ok: false as const, error: `not healthy in time: ${last}`, rolledBack: true };
  }
  async bootLog() {
    const r = await this.sh("journalctl -b -p warning -n 50 --no-pager -o short-iso 2>/dev/null || true");
    return r.stdout.trim().split("\n").filter(Boolean).map((l) => `boot: ${l}`);
  }
  async inventory() {
    const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").trim() : undefined);
    const mem = /MemTotal:\s+(\d+)/.exec(read("/proc/meminfo") ?? "")?.[1];
    const macs = await this.sh("for i in /sys/class/net/*; do n=${i##*/}; [ \"$n\" = lo ] || echo \"$n $(cat $i/address)\"; done").then((r) => r.stdout.trim().split("\n").filter(Boolean).map((l) => ({ name: l.split(" ")[0], mac: l.split(" ")[1] }))).catch(() => []);
    return {
      arch: process.arch,
      memKiB: mem ? Number(mem) : undefined,
      product: read("/sys/class/dmi/id/product_name") ?? read("/proc/device-tree/model")?.replace(/\0/g, ""),
      uefi: existsSync("/sys/firmware/efi"),
      tpm: existsSync("/dev/tpmrm0"),
      interfaces: macs,
    };
  }
}

const tail = (s: string | undefined) => (s ?? "").trim().split("\n").slice(-3).join(" | ");

export interface AbImageOptions {
  image: string;
  /** The mounted boot partition (PARTLABEL hearth-boot). */
  espDir: string;
  /** The OS side's device: /dev/disk/by-partlabel/hearth-<slot> by default. */
  sideDevice?: (slot: Slot) => string;
  /** The kernel command line (/proc/cmdline by default). */
  cmdline?: () => string;
  /** Seconds since boot (/proc/uptime by default). */
  uptime?: () => number;
  scratchDir: string;
  reboot?: () => Promise<void>;
}

/** The A/B disk of a class image: ab.ts on the mounted ESP, the side partitions by label. */
export class AbImage implements ImagePort {
  readonly image: string;
  constructor(private readonly o: AbImageOptions) {
    this.image = o.image;
  }
  private slot(): Slot {
    const s = bootedSlot(this.o.cmdline ? this.o.cmdline() : readFileSync("/proc/cmdline", "utf8"));
    if (!s) throw new Error("the kernel command line names no hearth.slot=: this system did not boot from the A/B disk");
    return s;
  }
  async booted() {
    const slot = this.slot();
    const out = bootOutcome(this.o.espDir, slot);
    const entry = readEntries(this.o.espDir).find((e) => e.name.slot === slot);
    const version = entry ? Number(/^version\s+(\d+)\s*$/m.exec(readFileSync(join(this.o.espDir, ESP_PATHS.entries, entry.file), "utf8"))?.[1]) : NaN;
    const failed = out.failedVersion !== undefined ? Number(out.failedVersion) : NaN;
    const uptimeSeconds = this.o.uptime ? this.o.uptime() : Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    return { slot, state: out.state, ...(Number.isInteger(version) ? { version } : {}), ...(Number.isInteger(failed) ? { failedVersion: failed } : {}), uptimeSeconds };
  }
  async bless() {
    blessBooted(this.o.espDir, this.slot());
  }
  async stage(r: ImageRelease, files: Record<"kernel" | "initrd" | "os", string>) {
    const target = otherSlot(this.slot());
    const device = (this.o.sideDevice ?? ((s: Slot) => `/dev/disk/by-partlabel/${PARTLABEL[s]}`))(target);
    const written = await writeSideImage(device, files.os);
    const os = r.files.find((f) => f.name === "os")!;
    if (written.sha256 !== os.sha256) throw new Error(`side ${target} did not keep the image (sha256 ${written.sha256}, signed ${os.sha256})`);
    stageUpdate(this.o.espDir, target, { kernel: files.kernel, initrd: files.initrd, cmdline: r.cmdline, version: String(r.version), tries: r.tries });
  }
  scratch() {
    mkdirSync(this.o.scratchDir, { recursive: true, mode: 0o700 });
    return this.o.scratchDir;
  }
  async reboot() {
    if (this.o.reboot) return this.o.reboot();
    await run("systemctl", ["reboot"]);
  }
}
