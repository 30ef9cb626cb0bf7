// The fleet worker: a thread that owns a FleetModel, so validating, planning and writing the
// fleet never hold the server's event loop. One message in, one answer out; calls run one at a
// time, in the order they arrive, which also orders the writes.
import { parentPort, workerData } from "node:worker_threads";
import { ApiFailure } from "./errors.js";
import { FleetModel, HostConflictFailure } from "./fleet-model.js";
import type { WorkerAnswer, WorkerCall } from "./fleet.js";

const model = new FleetModel((workerData as { dir: string }).dir);
const port = parentPort!;
let queue: Promise<void> = Promise.resolve();

port.on("message", (call: WorkerCall) => {
  queue = queue.then(() => run(call));
});

async function run(call: WorkerCall): Promise<void> {
  model.generation = call.generation;
  model.wrote = false;
  let answer: WorkerAnswer;
  try {
    const method = model[call.method] as (...a: unknown[]) => unknown;
    const value = await method.apply(model, call.args);
    answer = { id: call.id, ok: true, value, wrote: model.wrote };
  } catch (e) {
    answer = { id: call.id, ok: false, error: failureOf(e), wrote: model.wrote };
  }
  port.postMessage(answer);
}

/** An error as data: ApiFailures keep their status and issues; anything else is a bug. */
function failureOf(e: unknown): Extract<WorkerAnswer, { ok: false }>["error"] {
  if (e instanceof HostConflictFailure) return { kind: "conflict", body: e.body };
  if (e instanceof ApiFailure) return { kind: "api", status: e.status, code: e.code, message: e.message, ...(e.issues ? { issues: e.issues } : {}) };
  return { kind: "bug", message: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack ?? String(e) };
}
