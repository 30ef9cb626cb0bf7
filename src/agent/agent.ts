// The node agent: what runs on every pull node (a NixOS service in the class image) and in the
// tests, the same code. One check-in: learn who we are from the identity drive, take any newer
// keyring, fetch our release, verify it before anything else, apply it with health checks and
// automatic rollback, and report inventory, booted generation, health and log back, each request
// signed by the host key. Side effects sit behind the ports below; the decisions are in
// src/core/pull/release.ts.
import { acceptAdoption, acceptBundle, acceptImage, acceptKeyring, Refused, type Bundle, type ImageFile, type ImageRelease, type NodeState, type Signed, type Trust } from "../core/pull/release.js";
import { signRequest } from "../core/pull/agent-auth.js";

/** What the identity drive says about this machine (everything else arrives encrypted to its key). */
export interface Identity {
  host: string;
  /** The OpenSSH private key text of the host key and its public line. */
  sshPrivateKey: string;
  sshPublicKey: string;
  /** MAC address → interface name, and the addresses to set. */
  network?: { interfaces: { mac: string; name: string; addresses?: string[] }[]; gateway?: string; dns?: string[] };
}

export interface IdentityPort {
  /** The identity on the drive, or undefined when no identity drive is present. */
  read(): Promise<Identity | undefined>;
}

export interface Http {
  request(method: "GET" | "POST", path: string, body: Uint8Array | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }>;
  /** A file to `dest`, checked against its size and SHA-256 while it streams; false when it does not match. */
  download?(path: string, headers: Record<string, string>, dest: string, expect: { size: number; sha256: string }): Promise<boolean>;
}

/** The A/B sides of a node booted from a class image (ports.ts: the ESP and partitions, ab.ts). */
export interface ImagePort {
  /** The class the image belongs to. */
  readonly image: string;
  /** The booted side, what the last image update came to, and the image version it runs. */
  booted(): Promise<{ slot: string; state: "healthy" | "trial" | "rolled-back"; version?: number; failedVersion?: number; uptimeSeconds: number }>;
  /** This side is good: systemd-boot keeps booting it. */
  bless(): Promise<void>;
  /** Write the new image to the side not booted and make it the next boot, with boot counting. */
  stage(r: ImageRelease, files: Record<ImageFile["name"], string>): Promise<void>;
  /** A scratch directory for downloads (on the node's disk or RAM). */
  scratch(): string;
  reboot(): Promise<void>;
}

/** Applies a bundle the way `hearth deploy` updates a host: switch, health-check, confirm or roll back. */
export interface SystemPort {
  /** The running system and its generation. */
  current(): Promise<{ system?: string; generation?: number; slot?: string }>;
  apply(b: Bundle, log: (line: string) => void): Promise<{ ok: true } | { ok: false; error: string; rolledBack: boolean }>;
  /** Hardware facts for the inventory (and for a pending node's listing). */
  inventory(): Promise<Record<string, unknown>>;
  /** This boot's warnings and errors (journalctl -b), sent with the first report after a start. */
  bootLog?(): Promise<string[]>;
}

export interface StatePort {
  load(): Promise<AgentState | undefined>;
  /** Atomic: the old state or the new one, never half. */
  save(s: AgentState): Promise<void>;
}

export interface AgentState {
  appliedVersion: number;
  appliedSystem?: string;
  failedSystems: string[];
  trust: Trust;
  /** A pending node's own key (made at first boot, kept across check-ins). */
  pendingKey?: { privateKey: string; publicKey: string };
  /** The image version this node last ran healthy, and images that never came up healthy here. */
  imageVersion?: number;
  failedImages?: number[];
  /** An image staged and booted once: how long it has to report healthy. */
  imageTrial?: { version: number; healthyWithinSeconds: number };
  /** The identity an admin gave this node remotely (no drive): used when no drive is present. */
  adopted?: Identity & { fromKey: string; reported?: boolean };
}

export type AgentPhase = "pending" | "up-to-date" | "applying" | "healthy" | "failed" | "rolled-back" | "refused" | "unreachable";

export interface CheckIn {
  phase: AgentPhase;
  /** An image update's report (default: the host's configuration). */
  kind?: "image";
  host?: string;
  version: number;
  detail?: string;
  refusal?: Refused["reason"];
}

export interface AgentOptions {
  /** The signing keys in the image: the only root of trust. */
  imageKeys: string[];
  identity: IdentityPort;
  http: Http;
  system: SystemPort;
  state: StatePort;
  /** Makes a pending node's key pair (OpenSSH private text, public line). */
  newKey: () => { privateKey: string; publicKey: string };
  /** The Ed25519 seed of an OpenSSH private key. */
  seedOf: (privateKey: string) => Uint8Array;
  /** Present on nodes booted from a class image with an A/B disk. */
  image?: ImagePort;
  /** Puts an adopted identity's host key where sshd and agenix read it (a tmpfs). */
  install?: (id: Identity) => Promise<void>;
  /** Decrypts an age file with an OpenSSH private key (the pending key), for an adoption. */
  decryptWithKey?: (armored: string, privateKey: string) => Promise<Uint8Array>;
  /** Ed25519 signing (Node's OpenSSL in ports.ts; @noble/curves when absent). */
  sign?: (message: Uint8Array, seed: Uint8Array) => Uint8Array;
  now?: () => number;
  /** Post-boot and apply log lines kept for the next report. */
  logLimit?: number;
}

export const AGENT_API = "/api/agent/v1";

export class Agent {
  private log: string[] = [];
  /** This boot's warnings, read once and sent with every report. */
  private bootLines?: string[];
  constructor(private readonly o: AgentOptions) {}

  private note(line: string): void {
    this.log.push(`${new Date(this.now()).toISOString()} ${line}`);
    const limit = this.o.logLimit ?? 200;
    if (this.log.length > limit) this.log = this.log.slice(-limit);
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  private async loadState(): Promise<AgentState> {
    return (await this.o.state.load()) ?? { appliedVersion: 0, failedSystems: [], trust: { keys: this.o.imageKeys, revoked: [], keyringVersion: 0 } };
  }

  private async call(method: "GET" | "POST", path: string, body: unknown, who: { host: string; publicKey: string; privateKey: string }) {
    const bytes = body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body));
    const headers: Record<string, string> = { ...signRequest({ method, path, host: who.host, publicKey: who.publicKey, seed: this.o.seedOf(who.privateKey), body: bytes, now: this.now(), ...(this.o.sign ? { sign: this.o.sign } : {}) }) };
    if (body !== undefined) headers["content-type"] = "application/json";
    return this.o.http.request(method, path, body === undefined ? undefined : bytes, headers);
  }

  /** One check-in. Never throws for the server's or the network's faults: the node keeps what it runs. */
  async checkIn(): Promise<CheckIn> {
    let state = await this.loadState();
    const identity = (await this.o.identity.read()) ?? state.adopted;
    if (!identity) return this.pending(state);
    const who = { host: identity.host, publicKey: identity.sshPublicKey, privateKey: identity.sshPrivateKey };
    const report = async (c: CheckIn) => {
      const cur = await this.o.system.current().catch(() => ({}));
      const inventory = await this.o.system.inventory().catch(() => ({}));
      const adoptedFrom = state.adopted && !state.adopted.reported && state.adopted.host === identity.host ? state.adopted.fromKey : undefined;
      this.bootLines ??= (await this.o.system.bootLog?.().catch(() => undefined))?.slice(-50);
      const sent = await this.call("POST", `${AGENT_API}/report`, { ...c, booted: cur, inventory, log: [...(this.bootLines ?? []), ...this.log.slice(-50)], trust: { keyringVersion: state.trust.keyringVersion }, ...(adoptedFrom ? { adoptedFrom } : {}) }, who).catch(() => undefined);
      if (adoptedFrom && sent?.status === 200) {
        state = { ...state, adopted: { ...state.adopted!, reported: true } };
        await this.o.state.save(state);
      }
      return c;
    };
    try {
      // Keys first: a release signed by a rotated-in key must find it trusted.
      const kr = await this.call("GET", `${AGENT_API}/keyring`, undefined, who);
      if (kr.status === 200) {
        try {
          const trust = acceptKeyring(JSON.parse(kr.text) as Signed, state.trust);
          state = { ...state, trust };
          await this.o.state.save(state);
          this.note(`keyring version ${trust.keyringVersion} accepted`);
        } catch (e) {
          if (!(e instanceof Refused) || e.reason !== "not-newer") this.note(`keyring refused: ${(e as Error).message}`);
        }
      }
      if (this.o.image) {
        const done = await this.imageStep(state, who, report);
        state = done.state;
        if (done.result) return done.result;
      }
      const r = await this.call("GET", `${AGENT_API}/release`, undefined, who);
      if (r.status === 204 || r.status === 404) return report({ phase: "up-to-date", host: identity.host, version: state.appliedVersion });
      if (r.status !== 200) return { phase: "unreachable", host: identity.host, version: state.appliedVersion, detail: `the server answered ${r.status}` };
      let signed: Signed;
      try {
        signed = JSON.parse(r.text);
      } catch {
        return report({ phase: "refused", host: identity.host, version: state.appliedVersion, refusal: "malformed", detail: "the server's answer is not JSON" });
      }
      const node: NodeState = { host: identity.host, appliedVersion: state.appliedVersion, failedSystems: state.failedSystems };
      let bundle: Bundle;
      try {
        bundle = acceptBundle(signed, state.trust, node, this.now());
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        // Not newer than what runs: nothing to do (the server may still offer the applied one).
        if (e.reason === "not-newer" && state.appliedVersion > 0) {
          const b = JSON.parse(signed.body) as Bundle;
          if (b.version === state.appliedVersion) return report({ phase: "up-to-date", host: identity.host, version: state.appliedVersion });
        }
        // The release whose system already failed here: the node stays rolled back from it.
        if (e.reason === "failed-before") return report({ phase: "rolled-back", host: identity.host, version: (JSON.parse(signed.body) as Bundle).version, refusal: e.reason, detail: e.message });
        this.note(`refused a release: ${e.message}`);
        return report({ phase: "refused", host: identity.host, version: state.appliedVersion, refusal: e.reason, detail: e.message });
      }
      await report({ phase: "applying", host: identity.host, version: bundle.version, detail: bundle.system });
      this.note(`applying version ${bundle.version}: ${bundle.system}`);
      // Health checks come from the signed body only.
      const result = await this.o.system.apply(bundle, (l) => this.note(l));
      if (result.ok) {
        state = { ...state, appliedVersion: bundle.version, appliedSystem: bundle.system };
        await this.o.state.save(state);
        this.note(`version ${bundle.version} healthy`);
        return report({ phase: "healthy", host: identity.host, version: bundle.version });
      }
      state = { ...state, failedSystems: [...new Set([...state.failedSystems, bundle.system])].slice(-20) };
      await this.o.state.save(state);
      this.note(`version ${bundle.version} failed: ${result.error}`);
      return report({ phase: result.rolledBack ? "rolled-back" : "failed", host: identity.host, version: bundle.version, detail: result.error });
    } catch (e) {
      // A new image that cannot reach the server is not healthy: past its time limit, back to the old side.
      const trial = state.imageTrial;
      if (this.o.image && trial) {
        const b = await this.o.image.booted().catch(() => undefined);
        if (b?.state === "trial" && b.uptimeSeconds >= trial.healthyWithinSeconds) {
          this.note(`image version ${trial.version} did not report healthy in ${trial.healthyWithinSeconds} s; rebooting into the old side`);
          await this.o.image.reboot();
          return { phase: "rolled-back", kind: "image", host: identity.host, version: trial.version, detail: "not healthy in time; rebooting into the old side" };
        }
      }
      return { phase: "unreachable", host: identity.host, version: state.appliedVersion, detail: (e as Error).message };
    }
  }

  /**
   * The image half of a check-in: settle what the last boot came to (a new side that reached the
   * server is healthy and blessed; a side systemd-boot gave up on is reported rolled back), then
   * stage a newer signed image on the other side and reboot into it.
   */
  private async imageStep(state: AgentState, who: { host: string; publicKey: string; privateKey: string }, report: (c: CheckIn) => Promise<CheckIn>): Promise<{ state: AgentState; result?: CheckIn }> {
    const image = this.o.image!;
    const b = await image.booted();
    if (b.state === "trial") {
      // This check-in reached the server with the host's key: the new side works. Keep it.
      await image.bless();
      state = { ...state, imageVersion: b.version ?? state.imageTrial?.version ?? state.imageVersion, imageTrial: undefined };
      delete state.imageTrial;
      await this.o.state.save(state);
      this.note(`image version ${state.imageVersion} is healthy on side ${b.slot}`);
      await report({ phase: "healthy", kind: "image", host: who.host, version: state.imageVersion ?? 0 });
    } else if (b.state === "rolled-back" && b.failedVersion !== undefined && !(state.failedImages ?? []).includes(b.failedVersion)) {
      state = { ...state, failedImages: [...new Set([...(state.failedImages ?? []), b.failedVersion])].slice(-20) };
      delete state.imageTrial;
      await this.o.state.save(state);
      // Take the default back for this side, so no later boot tries the failed one again.
      await image.bless();
      this.note(`image version ${b.failedVersion} never came up healthy; back on side ${b.slot}`);
      await report({ phase: "rolled-back", kind: "image", host: who.host, version: b.failedVersion, detail: `systemd-boot fell back to side ${b.slot}` });
    } else if (state.imageVersion === undefined && b.version !== undefined) {
      state = { ...state, imageVersion: b.version };
      await this.o.state.save(state);
    }
    const r = await this.call("GET", `${AGENT_API}/image?class=${encodeURIComponent(image.image)}`, undefined, who);
    if (r.status !== 200) return { state };
    let rel: ImageRelease;
    try {
      rel = acceptImage(JSON.parse(r.text) as Signed, state.trust, { image: image.image, appliedVersion: state.imageVersion ?? 0, failedVersions: state.failedImages ?? [] }, this.now());
    } catch (e) {
      if (e instanceof Refused && (e.reason === "not-newer" || e.reason === "failed-before")) return { state };
      if (!(e instanceof Refused)) throw e;
      this.note(`refused an image: ${e.message}`);
      return { state, result: await report({ phase: "refused", kind: "image", host: who.host, version: state.imageVersion ?? 0, refusal: e.reason, detail: e.message }) };
    }
    await report({ phase: "applying", kind: "image", host: who.host, version: rel.version, detail: `writing image ${rel.version} to the other side` });
    const files = {} as Record<ImageFile["name"], string>;
    for (const f of rel.files) {
      const path = `${AGENT_API}/image-file/${rel.image}/${f.sha256}`;
      const dest = `${image.scratch()}/${f.name}`;
      const bytes = new Uint8Array();
      const headers = signRequest({ method: "GET", path, host: who.host, publicKey: who.publicKey, seed: this.o.seedOf(who.privateKey), body: bytes, now: this.now(), ...(this.o.sign ? { sign: this.o.sign } : {}) }) as unknown as Record<string, string>;
      const ok = this.o.http.download ? await this.o.http.download(path, headers, dest, f) : false;
      if (!ok) {
        this.note(`image file ${f.name} did not match its signed hash`);
        return { state, result: await report({ phase: "refused", kind: "image", host: who.host, version: state.imageVersion ?? 0, refusal: "bad-signature", detail: `the ${f.name} file does not match the signed SHA-256` }) };
      }
      files[f.name] = dest;
    }
    await image.stage(rel, files);
    state = { ...state, imageTrial: { version: rel.version, healthyWithinSeconds: rel.healthyWithinSeconds } };
    await this.o.state.save(state);
    this.note(`image ${rel.version} staged; rebooting into it (${rel.tries} tries)`);
    await image.reboot();
    return { state, result: { phase: "applying", kind: "image", host: who.host, version: rel.version, detail: "rebooting into the new side" } };
  }

  /** No identity drive: announce ourselves with the hardware facts, under a key of our own. */
  private async pending(state: AgentState): Promise<CheckIn> {
    if (!state.pendingKey) {
      state = { ...state, pendingKey: this.o.newKey() };
      await this.o.state.save(state);
    }
    const k = state.pendingKey!;
    try {
      const inventory = await this.o.system.inventory().catch(() => ({}));
      const r = await this.call("POST", `${AGENT_API}/enroll`, { inventory }, { host: "", publicKey: k.publicKey, privateKey: k.privateKey });
      if (r.status !== 200) return { phase: "pending", version: state.appliedVersion, detail: `the server answered ${r.status}` };
      const answer = JSON.parse(r.text) as { adoption?: Signed };
      if (answer.adoption && this.o.decryptWithKey) {
        try {
          const a = acceptAdoption(answer.adoption, state.trust, k.publicKey, this.now());
          const plain = await this.o.decryptWithKey(a.identity, k.privateKey);
          const id = JSON.parse(new TextDecoder().decode(plain)) as Identity;
          plain.fill(0);
          if (id.host !== a.host) throw new Refused("malformed", "the encrypted identity names another host than the signed adoption");
          await this.o.state.save({ ...state, adopted: { ...id, fromKey: k.publicKey } });
          await this.o.install?.(id);
          this.note(`adopted as ${a.host}`);
          // Check in again at once, as the host.
          return this.checkIn();
        } catch (e) {
          this.note(`adoption refused: ${(e as Error).message}`);
          return { phase: "pending", version: state.appliedVersion, ...(e instanceof Refused ? { refusal: e.reason } : {}), detail: `adoption refused: ${(e as Error).message}` };
        }
      }
      return { phase: "pending", version: state.appliedVersion, detail: "listed as a pending node" };
    } catch (e) {
      return { phase: "unreachable", version: state.appliedVersion, detail: (e as Error).message };
    }
  }
}
