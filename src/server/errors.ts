// Every API failure goes through here: one mapping from what went wrong to an HTTP status and
// an ApiError body (with the same file/path/line/hint issues the CLI prints).
import type { Context } from "hono";
import type { ApiError, WireIssue } from "./wire.js";

export class ApiFailure extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 503,
    readonly code: string,
    message: string,
    readonly issues?: WireIssue[],
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiFailure(404, "not_found", `${what} does not exist`);
export const invalid = (message: string, issues?: WireIssue[]) => new ApiFailure(422, "invalid", message, issues);

export function errorResponse(e: unknown, c: Context) {
  if (e instanceof ApiFailure) {
    const body: ApiError = { error: e.code, message: e.message, ...(e.issues ? { issues: e.issues } : {}) };
    return c.json(body, e.status);
  }
  // Unknown failures are bugs: logged with the stack on the server, opaque to the client.
  console.error(`hearth serve: internal error: ${(e as Error)?.stack ?? e}`);
  const body: ApiError = { error: "internal", message: "internal error (a bug); the server log has details" };
  return c.json(body, 500);
}
