// Who may use the server. On loopback the local user is trusted (as with any local CLI), but
// every write still needs the session's CSRF token, and the Host header must be a loopback name
// (a web page elsewhere cannot rebind DNS onto us). Bound to anything else, an admin logs in:
// the password is set once with a setup token printed at first start, stored as a scrypt hash.
//
// Sessions: the cookie holds a random token; the database holds only its SHA-256 (and that of
// the CSRF token) with the auth mode the session was made under, so neither a copy of the
// database nor a session from a loopback run opens a login-required server. The CSRF token is
// an HMAC of the session token under a key kept in the settings, so every tab of a session gets
// the same token without it being stored. On loopback nothing is stored at all: the token is
// minted on the first GET /api/session and its CSRF token is checked by recomputing the HMAC.
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { isIP } from "node:net";
import type { Context, MiddlewareHandler } from "hono";
import { getConnInfo } from "@hono/node-server/conninfo";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ApiFailure } from "./errors.js";
import type { Session } from "./wire.js";

/** How a session was made: by the trusted local user on loopback, or by a password login. */
export type AuthMode = "local" | "password";

export interface SessionRow {
  /** SHA-256 (base64url) of the cookie's token; never the token. */
  id: string;
  user: string;
  /** SHA-256 (base64url) of the CSRF token; never the token. */
  csrf: string;
  expiresAt: number;
  mode?: AuthMode;
}

/** The storage auth needs (the server's SQLite database implements it). */
export interface AuthStore {
  createSession(s: SessionRow): void;
  getSession(id: string): SessionRow | undefined;
  deleteSession(id: string): void;
  /** Delete every session not made under `mode`; returns how many. */
  invalidateSessions(keep: AuthMode): number;
  purgeExpired(): number;
  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string): void;
  audit(entry: { user: string; action: string; target: string; detail?: string }): void;
  /** Users besides the first admin (who lives in the settings): read-only viewers and more admins. */
  getUser(name: string): { hash: string; role: Role } | undefined;
  putUser(name: string, hash: string, role: Role): void;
  deleteUser(name: string): boolean;
  invalidateUserSessions?(name: string): void;
  listUsers(): { name: string; role: Role; createdAt: string }[];
}

/** admin: everything; viewer: reads everything a page shows, changes nothing. */
export type Role = "admin" | "viewer";
export const ROLES: readonly Role[] = ["admin", "viewer"];

const COOKIE = "hearth_session";
const SESSION_MS = 12 * 3600 * 1000;
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
/** Endpoints usable before logging in. */
const OPEN = new Set(["/api/session", "/api/login", "/api/setup"]);
/** Writes a viewer may still make: only ending the own session. */
const VIEWER_WRITES = new Set(["/api/logout"]);
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Whether a bind address or a Host/Origin name is this machine: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(name: string): boolean {
  const h = name.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  const kind = isIP(h);
  if (kind === 4) return h.startsWith("127.");
  if (kind !== 6) return false;
  // The URL parser writes IPv6 in its shortest form: ::1, and IPv4-mapped 127/8 as ::ffff:7fxx:xxxx.
  const short = new URL(`http://[${h}]/`).hostname;
  return short === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(short);
}

/** The host name of a Host header value or an Origin, or undefined when it does not parse. */
function hostName(value: string, withScheme: boolean): string | undefined {
  // A Host header is host[:port]; userinfo ('evil@127.0.0.1') would fool the URL parser.
  if (!withScheme && /[@/\\?#\s]/.test(value)) return undefined;
  try {
    return new URL(withScheme ? value : `http://${value}`).hostname;
  } catch {
    return undefined;
  }
}

const scryptAsync = (password: string | Buffer, salt: Buffer, length: number, options: ScryptOptions) =>
  new Promise<Buffer>((ok, fail) => scrypt(password, salt, length, options, (e, key) => (e ? fail(e) : ok(key))));

/** A scrypt hash of a password, computed on libuv's thread pool (the event loop keeps serving). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split("$");
  const N = Number(n);
  // Parameters come from our own database, but a damaged row must not make us allocate gigabytes.
  if (alg !== "scrypt" || !salt || !hash || !(N >= 2 ** 10 && N <= 2 ** 20) || Number(r) !== 8 || Number(p) !== 1) return false;
  const want = Buffer.from(hash, "base64");
  const got = await scryptAsync(password, Buffer.from(salt, "base64"), want.length, { N, r: 8, p: 1, maxmem: SCRYPT.maxmem });
  return timingSafeEqual(got, want);
}

/** SHA-256 of a high-entropy token: enough to store it (no salt or stretching needed). */
const digest = (token: string) => createHash("sha256").update(token).digest("base64url");

/** Constant-time equality of two strings of any length (compares their digests). */
const equalSecret = (a: string, b: string) => timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());

/** The socket's peer, IPv4-mapped IPv6 written as IPv4; undefined for in-process requests (tests' app.request). */
function peerAddress(c: Context): string | undefined {
  let a: string | undefined;
  try {
    a = getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
  if (a && a.startsWith("::ffff:") && isIP(a.slice(7)) === 4) return a.slice(7);
  return a || undefined;
}

/**
 * Who is on the other end, and whether they reached us over https. Proxy headers count only when
 * the socket's peer is a proxy the admin named (`hearth serve --trust-proxy`): anybody else could
 * set X-Forwarded-For to dodge the login limit. The client is the right-most X-Forwarded-For
 * entry that is not itself a trusted proxy (entries further left are the client's own claims);
 * the scheme is the nearest proxy's X-Forwarded-Proto.
 */
export function clientOf(c: Context, trustedProxies: ReadonlySet<string> = new Set()): { address: string; https: boolean } {
  const peer = peerAddress(c);
  const https = new URL(c.req.url).protocol === "https:";
  if (!peer || !trustedProxies.has(peer)) return { address: peer ? keyOf(peer) : "unknown", https };
  const hops = (c.req.header("x-forwarded-for") ?? "")
    .split(",")
    .map((h) => h.trim().replace(/^\[(.*)\]$/, "$1"))
    .filter((h) => h !== "");
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.startsWith("::ffff:") && isIP(hops[i]!.slice(7)) === 4 ? hops[i]!.slice(7) : hops[i]!;
    // Garbage in the header ends the walk at the last address a trusted proxy vouched for.
    if (!isIP(hop)) break;
    client = hop;
    if (!trustedProxies.has(hop)) break;
  }
  const proto = (c.req.header("x-forwarded-proto") ?? "").split(",").pop()?.trim().toLowerCase();
  return { address: keyOf(client), https: proto ? proto === "https" : https };
}

/** An address as the limiter counts it: IPv6 by its /64 (one host has a whole /64 to rotate through). */
const keyOf = (a: string) => (isIP(a) === 6 ? ipv6Prefix64(a) : a);

/** `--trust-proxy` addresses, checked: IP addresses only (names would need a lookup per request). */
export function parseTrustedProxies(list: string): Set<string> {
  const out = new Set<string>();
  for (const raw of list.split(",").map((x) => x.trim()).filter(Boolean)) {
    const a = raw.startsWith("::ffff:") && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
    if (!isIP(a)) throw new Error(`--trust-proxy: ${JSON.stringify(raw)} is not an IP address; name the reverse proxy's own address, e.g. 127.0.0.1 or 10.0.0.2`);
    out.add(isIP(a) === 6 ? new URL(`http://[${a}]/`).hostname.slice(1, -1) : a);
  }
  return out;
}

export interface LimiterOptions {
  /** Attempts allowed before the back-off starts. */
  free: number;
  /** The first wait; it doubles with every further attempt. */
  baseMs: number;
  maxMs: number;
  /** A key with no attempt for this long starts over. */
  forgetMs: number;
  /** Keys remembered at most (the oldest go first). */
  maxKeys: number;
  now: () => number;
}

interface Strikes {
  attempts: number;
  blockedUntil: number;
  lastAt: number;
  /** The block for which a refusal was audited (one audit line per block, not per request). */
  auditedBlock: number;
}

/**
 * Login attempts per client address and per user name: `free` attempts, then each one waits
 * twice as long as the one before (1 s, 2 s, 4 s ... up to `maxMs`). An attempt counts when it
 * starts, so concurrent guesses cannot all slip in before the first one fails; a successful
 * login clears its keys.
 */
export class LoginLimiter {
  private readonly keys = new Map<string, Strikes>();
  readonly o: LimiterOptions;

  constructor(o: Partial<LimiterOptions> = {}) {
    this.o = { free: 5, baseMs: 1000, maxMs: 15 * 60 * 1000, forgetMs: 30 * 60 * 1000, maxKeys: 10_000, now: Date.now, ...o };
  }

  private get(key: string, now: number): Strikes {
    let s = this.keys.get(key);
    if (s && now >= s.blockedUntil && now - s.lastAt > this.o.forgetMs) s = undefined;
    if (!s) {
      s = { attempts: 0, blockedUntil: 0, lastAt: now, auditedBlock: 0 };
      if (this.keys.size >= this.o.maxKeys) this.keys.delete(this.keys.keys().next().value!);
    }
    this.keys.delete(key); // re-inserted last: the Map's order is least recently used first
    this.keys.set(key, s);
    return s;
  }

  /** Count an attempt, or refuse it: `retryMs` is how long the most limited key still waits. */
  attempt(keys: string[]): { ok: true } | { ok: false; retryMs: number; firstRefusal: boolean } {
    const now = this.o.now();
    const strikes = keys.map((k) => this.get(k, now));
    const blocked = strikes.filter((s) => s.blockedUntil > now);
    if (blocked.length) {
      const worst = blocked.reduce((a, b) => (a.blockedUntil >= b.blockedUntil ? a : b));
      const firstRefusal = worst.auditedBlock !== worst.blockedUntil;
      worst.auditedBlock = worst.blockedUntil;
      return { ok: false, retryMs: worst.blockedUntil - now, firstRefusal };
    }
    for (const s of strikes) {
      s.attempts++;
      s.lastAt = now;
      if (s.attempts >= this.o.free) s.blockedUntil = now + Math.min(this.o.maxMs, this.o.baseMs * 2 ** (s.attempts - this.o.free));
    }
    return { ok: true };
  }

  succeeded(keys: string[]): void {
    for (const k of keys) this.keys.delete(k);
  }
}

/** What the middleware found for a request. */
interface Current {
  token: string;
  user: string;
  mode: AuthMode;
  /** The stored session (absent for a loopback session, which is not stored). */
  row?: SessionRow;
}

export class Auth {
  // A real hash of a random password, so an unknown user costs the same time as a wrong password.
  private dummy?: Promise<string>;
  private readonly key: Buffer;
  readonly limiter: LoginLimiter;

  constructor(
    private readonly store: AuthStore,
    readonly loopback: boolean,
    limiter?: Partial<LimiterOptions>,
    /** Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed. */
    private readonly trustedProxies: ReadonlySet<string> = new Set(),
  ) {
    let key = store.getSetting("session.key");
    if (!key) store.setSetting("session.key", (key = randomBytes(32).toString("base64url")));
    this.key = Buffer.from(key, "base64url");
    this.limiter = new LoginLimiter(limiter);
  }

  /**
   * At start: a server that needs a login accepts only sessions made by a password login, so a
   * session from a loopback run of the same state directory does not carry over. Returns how
   * many sessions it ended.
   */
  invalidateForeignSessions(): number {
    this.store.purgeExpired();
    return this.loopback ? 0 : this.store.invalidateSessions("password");
  }

  /** On a non-loopback bind with no admin yet: a one-time setup token (printed by the caller). */
  setupToken(): string | undefined {
    if (this.loopback || this.store.getSetting("admin.hash")) return undefined;
    const token = randomBytes(18).toString("base64url");
    // 144 random bits: a SHA-256 is as good as scrypt here, and keeps the start synchronous.
    this.store.setSetting("setup.hash", `sha256$${digest(token)}`);
    return token;
  }

  private csrfOf(token: string): string {
    return createHmac("sha256", this.key).update(`csrf\0${token}`).digest("base64url");
  }

  private current(c: Context): Current | undefined {
    const token = getCookie(c, COOKIE);
    if (!token || !TOKEN.test(token)) return undefined;
    const row = this.store.getSession(digest(token));
    if (row && row.expiresAt > Date.now()) {
      const mode = row.mode ?? "local";
      if (!this.loopback && mode !== "password") return undefined;
      return { token, user: row.user, mode, row };
    }
    // On loopback any well-formed token is a session: it grants nothing but a CSRF token that
    // only a page of this origin can read.
    return this.loopback ? { token, user: "local", mode: "local" } : undefined;
  }

  private csrfOk(s: Current, header: string): boolean {
    if (s.row) return equalSecret(digest(header), s.row.csrf);
    return equalSecret(header, this.csrfOf(s.token));
  }

  private setCookie(c: Context, token: string): void {
    setCookie(c, COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/", secure: clientOf(c, this.trustedProxies).https, maxAge: SESSION_MS / 1000 });
  }

  /** A stored session after a password login (setup counts: it sets the password). */
  private start(c: Context, user: string): Session {
    const token = randomBytes(32).toString("base64url");
    const csrf = this.csrfOf(token);
    this.store.purgeExpired();
    this.store.createSession({ id: digest(token), user, csrf: digest(csrf), expiresAt: Date.now() + SESSION_MS, mode: "password" });
    this.setCookie(c, token);
    const role = user === this.store.getSetting("admin.user") ? "admin" : (this.store.getUser(user)?.role ?? "viewer");
    return { user, csrf, authRequired: !this.loopback, role };
  }

  /** Guards every request: Host check on loopback, login when required, CSRF token on writes. */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const write = c.req.method !== "GET" && c.req.method !== "HEAD";
      if (this.loopback) {
        const hostHeader = c.req.header("host") ?? new URL(c.req.url).host;
        const host = hostName(hostHeader, false);
        if (!host || !isLoopback(host))
          throw new ApiFailure(403, "bad_host", `requests must name the server by a loopback address (127.0.0.1, [::1], localhost), not '${hostHeader}'`);
        const origin = c.req.header("origin");
        const originHost = origin === undefined ? undefined : hostName(origin, true);
        if (write && origin !== undefined && (!originHost || !isLoopback(originHost)))
          throw new ApiFailure(403, "bad_origin", `writes must come from the hearth UI on this machine, not from '${origin}'`);
      }
      // c.req.path is the path the router matches (percent-decoded): '/%61pi/fleet' is /api/fleet.
      const path = c.req.path;
      const s = this.current(c);
      c.set("session" as never, s as never);
      // Agents sign each request with their host key instead (src/server/pull.ts checks it).
      if (!path.startsWith("/api/") || OPEN.has(path) || path.startsWith("/api/agent/v1/")) return next();
      // On loopback reads need no session (the local user is trusted); writes always need one.
      if (!s && !this.loopback) throw new ApiFailure(401, "login_required", "log in first");
      if (write && (!s || !this.csrfOk(s, c.req.header("x-csrf-token") ?? "")))
        throw new ApiFailure(403, "csrf", "missing or wrong X-CSRF-Token header; reload the page");
      if (write && s && this.roleOf(s) !== "admin" && !VIEWER_WRITES.has(path))
        throw new ApiFailure(403, "read_only", `${s.user} has read-only access; an admin can do this`);
      return next();
    };
  }

  /** The local user on loopback and the first admin are admins; everyone else has their stored role. */
  private roleOf(s: Current): Role {
    if (s.mode === "local" || s.user === this.store.getSetting("admin.user")) return "admin";
    return this.store.getUser(s.user)?.role ?? "viewer";
  }

  /** Add (or change the password and role of) a user; the first admin is changed with setup only. */
  async putUser(c: Context, name: string, password: string, role: Role): Promise<void> {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name)) throw new ApiFailure(422, "invalid", "user names are lower-case letters, digits, '_' and '-'");
    if (!ROLES.includes(role)) throw new ApiFailure(422, "invalid", `role must be one of ${ROLES.join(", ")}`);
    if (password.length < 12) throw new ApiFailure(422, "invalid", "the password needs at least 12 characters");
    if (name === this.store.getSetting("admin.user")) throw new ApiFailure(409, "conflict", `${name} is the first admin`);
    this.store.putUser(name, await hashPassword(password), role);
    this.audit(c, "user.put", this.userOf(c), `${name} as ${role}`);
  }

  deleteUser(c: Context, name: string): void {
    if (!this.store.deleteUser(name)) throw new ApiFailure(404, "not_found", `user '${name}' does not exist`);
    this.store.invalidateUserSessions?.(name);
    this.audit(c, "user.delete", this.userOf(c), name);
  }

  users(): { name: string; role: Role; createdAt?: string }[] {
    const first = this.store.getSetting("admin.user");
    return [...(first ? [{ name: first, role: "admin" as const }] : []), ...this.store.listUsers()];
  }

  /** The user a request acts as (for the audit log). */
  userOf(c: Context): string {
    return (c.get("session" as never) as Current | undefined)?.user ?? "local";
  }

  /** GET /api/session: the current session; on loopback one is made (not stored) when missing. */
  getSession(c: Context): Session {
    const s = this.current(c);
    if (s) return { user: s.user, csrf: this.csrfOf(s.token), authRequired: !this.loopback, role: this.roleOf(s) };
    if (this.loopback) {
      const token = randomBytes(32).toString("base64url");
      this.setCookie(c, token);
      return { user: "local", csrf: this.csrfOf(token), authRequired: false, role: "admin" };
    }
    const admin = this.store.getSetting("admin.hash");
    throw new ApiFailure(401, admin ? "login_required" : "setup_required", admin ? "log in first" : "set the admin password with the setup token printed when the server started");
  }

  /** Refuse an attempt while its address or user is backing off (429 with Retry-After). */
  private gate(c: Context, action: string, user: string, keys: string[]): void {
    const g = this.limiter.attempt(keys);
    if (g.ok) return;
    const seconds = Math.max(1, Math.ceil(g.retryMs / 1000));
    if (g.firstRefusal) this.audit(c, `${action}.throttled`, user, `further attempts refused for ${seconds} s (not logged one by one)`);
    throw new ApiFailure(429, "too_many_logins", `too many failed attempts; try again in ${seconds} s`, undefined, { "retry-after": String(seconds) });
  }

  private audit(c: Context, action: string, user: string, detail?: string): void {
    this.store.audit({ user: user || "-", action, target: user || "-", detail: `from ${clientOf(c, this.trustedProxies).address}${detail ? `; ${detail}` : ""}` });
  }

  async login(c: Context, user: string, password: string): Promise<Session> {
    const shown = printable(user);
    const keys = [`addr:${clientOf(c, this.trustedProxies).address}`, `user:${shown.toLowerCase()}`];
    this.gate(c, "login", shown, keys);
    const first = this.store.getSetting("admin.user");
    const isFirst = first !== undefined && equalSecret(user, first);
    const other = isFirst ? undefined : this.store.getUser(user);
    const name = isFirst ? first : other ? user : undefined;
    const hash = isFirst ? this.store.getSetting("admin.hash") : other?.hash;
    // Same work and same answer whether or not the user exists.
    const matches = await verifyPassword(password, hash ?? (await (this.dummy ??= hashPassword(randomBytes(12).toString("hex")))));
    if (!(matches && name !== undefined && equalSecret(user, name))) {
      this.audit(c, "login.failed", shown);
      throw new ApiFailure(401, "bad_login", "wrong user name or password");
    }
    this.limiter.succeeded(keys);
    this.audit(c, "login", user);
    return this.start(c, user);
  }

  async setup(c: Context, token: string, user: string, password: string): Promise<Session> {
    const keys = [`addr:${clientOf(c, this.trustedProxies).address}`];
    this.gate(c, "setup", printable(user), keys);
    const stored = this.store.getSetting("setup.hash") ?? "";
    if (!stored.startsWith("sha256$") || !equalSecret(digest(token), stored.slice(7))) {
      this.audit(c, "setup.failed", printable(user));
      throw new ApiFailure(403, "bad_token", "wrong or used setup token");
    }
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new ApiFailure(422, "invalid", "user names are lower-case letters, digits, '_' and '-'");
    if (password.length < 12) throw new ApiFailure(422, "invalid", "the password needs at least 12 characters");
    const hash = await hashPassword(password);
    // Checked again after the wait: two setups racing with the same token, only one wins.
    if (this.store.getSetting("setup.hash") !== stored) throw new ApiFailure(403, "bad_token", "wrong or used setup token");
    this.store.setSetting("setup.hash", "");
    this.store.setSetting("admin.user", user);
    this.store.setSetting("admin.hash", hash);
    this.limiter.succeeded(keys);
    this.audit(c, "setup", user, "admin password set");
    return this.start(c, user);
  }

  logout(c: Context): void {
    const token = getCookie(c, COOKIE);
    if (token) this.store.deleteSession(digest(token));
    deleteCookie(c, COOKIE, { path: "/" });
  }
}

/** An IPv6 address's /64 (one host has a whole /64 to rotate through), e.g. "2001:db8:0:1::/64". */
function ipv6Prefix64(address: string): string {
  // The URL parser writes the address in one canonical form (lower case, embedded IPv4 as hex).
  const a = new URL(`http://[${address.replace(/%.*$/, "")}]/`).hostname.slice(1, -1);
  const [head = "", tail] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/** A user name as the audit log may show it: no control characters, at most 64 characters. */
function printable(user: string): string {
  return user.replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 64);
}
