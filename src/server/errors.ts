// Every API failure goes through here: one mapping from what went wrong to an HTTP status and
// an ApiError body (with the same file/path/line/hint issues the CLI prints). A failure the
// client caused is answered with a message and logged nowhere; only a bug (anything unmapped)
// is logged, with its stack, and answered with an opaque 500.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiError, WireIssue } from "./wire.js";

export class ApiFailure extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422 | 428 | 429 | 502 | 503 | 504,
    readonly code: string,
    message: string,
    readonly issues?: WireIssue[],
    /** Extra response headers, e.g. Retry-After on a 429. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiFailure(404, "not_found", `${what} does not exist`);
export const invalid = (message: string, issues?: WireIssue[]) => new ApiFailure(422, "invalid", message, issues);

/** Failures a client causes that are not ApiFailures (thrown by the platform or by Hono). */
function clientFailure(e: unknown): ApiFailure | undefined {
  // decodeURIComponent on a malformed escape such as '%E0%A4%A' or '%zz'.
  if (e instanceof URIError) return new ApiFailure(400, "bad_path", "the path has a malformed %-escape");
  if (e instanceof HTTPException && e.status >= 400 && e.status < 500) {
    const status = ([400, 401, 403, 404, 405, 409, 413, 422, 429] as const).find((s) => s === e.status) ?? 400;
    return new ApiFailure(status, "bad_request", e.message || "bad request");
  }
  return undefined;
}

export function errorResponse(e: unknown, c: Context) {
  const failure = e instanceof ApiFailure ? e : clientFailure(e);
  if (failure) {
    const body: ApiError = { error: failure.code, message: failure.message, ...(failure.issues ? { issues: failure.issues } : {}) };
    return c.json(body, failure.status, failure.headers);
  }
  // Unknown failures are bugs: logged with the stack on the server, opaque to the client.
  console.error(`hearth serve: internal error: ${(e as Error)?.stack ?? e}`);
  const body: ApiError = { error: "internal", message: "internal error (a bug); the server log has details" };
  return c.json(body, 500);
}
