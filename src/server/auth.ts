// Who may use the server. On loopback the local user is trusted (as with any local CLI), but
// every write still needs the session's CSRF token, and the Host header must be a loopback name
// (a web page elsewhere cannot rebind DNS onto us). Bound to anything else, an admin logs in:
// the password is set once with a setup token printed at first start, stored as a scrypt hash.
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ApiFailure } from "./errors.js";
import type { Session } from "./wire.js";

export interface SessionRow {
  id: string;
  user: string;
  csrf: string;
  expiresAt: number;
}

/** The storage auth needs (the server's SQLite database implements it). */
export interface AuthStore {
  createSession(s: SessionRow): void;
  getSession(id: string): SessionRow | undefined;
  deleteSession(id: string): void;
  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string): void;
}

const COOKIE = "hearth_session";
const SESSION_MS = 12 * 3600 * 1000;
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);
/** Endpoints usable before logging in. */
const OPEN = new Set(["/api/session", "/api/login", "/api/setup"]);

export const isLoopback = (bind: string) => bind === "localhost" || bind === "::1" || bind.startsWith("127.");

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const [alg, n, r, p, salt, hash] = stored.split("$");
  if (alg !== "scrypt" || !salt || !hash) return false;
  const want = Buffer.from(hash, "base64");
  const got = scryptSync(password, Buffer.from(salt, "base64"), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(got, want);
}

const equalSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export class Auth {
  // A real hash of a random password, so an unknown user costs the same time as a wrong password.
  private readonly dummy = hashPassword(randomBytes(12).toString("hex"));

  constructor(
    private readonly store: AuthStore,
    readonly loopback: boolean,
  ) {}

  /** On a non-loopback bind with no admin yet: a one-time setup token (printed by the caller). */
  setupToken(): string | undefined {
    if (this.loopback || this.store.getSetting("admin.hash")) return undefined;
    const token = randomBytes(18).toString("base64url");
    this.store.setSetting("setup.hash", hashPassword(token));
    return token;
  }

  private session(c: Context): SessionRow | undefined {
    const id = getCookie(c, COOKIE);
    if (!id) return undefined;
    const s = this.store.getSession(id);
    if (!s || s.expiresAt < Date.now()) return undefined;
    return s;
  }

  private start(c: Context, user: string): Session {
    const row: SessionRow = { id: randomBytes(32).toString("base64url"), user, csrf: randomBytes(24).toString("base64url"), expiresAt: Date.now() + SESSION_MS };
    this.store.createSession(row);
    setCookie(c, COOKIE, row.id, { httpOnly: true, sameSite: "Strict", path: "/", secure: new URL(c.req.url).protocol === "https:", maxAge: SESSION_MS / 1000 });
    return { user, csrf: row.csrf, authRequired: !this.loopback };
  }

  /** Guards every request: Host check on loopback, login when required, CSRF token on writes. */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      if (this.loopback) {
        const host = (c.req.header("host") ?? new URL(c.req.url).host).replace(/:\d+$/, "");
        if (!LOOPBACK_HOSTS.has(host)) throw new ApiFailure(403, "bad_host", `requests must name the server as localhost or 127.0.0.1, not '${host}'`);
      }
      const path = new URL(c.req.url).pathname;
      const s = this.session(c);
      c.set("session" as never, s as never);
      if (!path.startsWith("/api/") || OPEN.has(path)) return next();
      if (!s && !this.loopback) throw new ApiFailure(401, "login_required", "log in first");
      if (c.req.method !== "GET" && c.req.method !== "HEAD") {
        const token = c.req.header("x-csrf-token") ?? "";
        if (!s || !equalSecret(token, s.csrf)) throw new ApiFailure(403, "csrf", "missing or wrong X-CSRF-Token header; reload the page");
      }
      return next();
    };
  }

  /** The user a request acts as (for the audit log). */
  userOf(c: Context): string {
    return (c.get("session" as never) as SessionRow | undefined)?.user ?? "local";
  }

  getSession(c: Context): Session {
    const s = this.session(c);
    if (s) return { user: s.user, csrf: s.csrf, authRequired: !this.loopback };
    if (this.loopback) return this.start(c, "local");
    throw new ApiFailure(401, this.store.getSetting("admin.hash") ? "login_required" : "setup_required",
      this.store.getSetting("admin.hash") ? "log in first" : "set the admin password with the setup token printed when the server started");
  }

  login(c: Context, user: string, password: string): Session {
    const name = this.store.getSetting("admin.user");
    const hash = this.store.getSetting("admin.hash");
    // Same work and same answer whether or not the user exists.
    const ok = verifyPassword(password, hash ?? this.dummy) && name !== undefined && equalSecret(user, name);
    if (!ok) throw new ApiFailure(401, "bad_login", "wrong user name or password");
    return this.start(c, user);
  }

  setup(c: Context, token: string, user: string, password: string): Session {
    const hash = this.store.getSetting("setup.hash");
    if (!hash || !verifyPassword(token, hash)) throw new ApiFailure(403, "bad_token", "wrong or used setup token");
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new ApiFailure(422, "invalid", "user names are lower-case letters, digits, '_' and '-'");
    if (password.length < 12) throw new ApiFailure(422, "invalid", "the password needs at least 12 characters");
    this.store.setSetting("admin.user", user);
    this.store.setSetting("admin.hash", hashPassword(password));
    this.store.setSetting("setup.hash", "");
    return this.start(c, user);
  }

  logout(c: Context): void {
    const id = getCookie(c, COOKIE);
    if (id) this.store.deleteSession(id);
    deleteCookie(c, COOKIE, { path: "/" });
  }
}
