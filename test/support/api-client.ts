// In-process requests to hearth's app (Hono's app.request) with a cookie jar of one cookie and
// the session's CSRF token sent on every write, for the API tests.
import type { Composed } from "../../src/server/serve.js";
import type { Session } from "../../src/server/wire.js";

export class Client {
  cookie = "";
  csrf = "";
  constructor(
    readonly s: Composed,
    readonly base = "http://localhost",
  ) {}
  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await this.s.app.request(`${this.base}${path}`, {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(this.csrf && method !== "GET" ? { "x-csrf-token": this.csrf } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const set = res.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0]!;
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json, text, headers: res.headers };
  }
  async session() {
    const r = await this.req("GET", "/api/session");
    if (r.status === 200) this.csrf = (r.json as Session).csrf;
    return r;
  }
}
