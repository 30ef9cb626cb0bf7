// The fleet worker run from source: Node 20 does not apply the main thread's loader hooks
// (bin/hearth.js, `--import tsx`) to a worker, so this registers tsx's before loading the
// TypeScript. The compiled CLI (dist/cli/fleet-worker.js) does not need it.
import { register } from "tsx/esm/api";

register();
await import("./fleet-worker.ts");
