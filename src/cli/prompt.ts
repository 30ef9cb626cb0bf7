// Reading a secret from the person at the keyboard (no echo) or from a pipe: the one way secret
// values enter hearth's commands, never through argv.
import { CliError, err } from "./common.js";

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** One line typed without echo (raw mode: nothing is shown, backspace works, Ctrl-C cancels). */
async function typeHidden(question: string): Promise<Buffer> {
  err(question);
  process.stdin.setRawMode(true);
  const chars: number[] = [];
  try {
    for await (const c of process.stdin) {
      for (const b of c as Buffer) {
        if (b === 13 || b === 10) return Buffer.from(chars);
        if (b === 3) throw new CliError("cancelled");
        if (b === 127) chars.pop();
        else chars.push(b);
      }
    }
    return Buffer.from(chars);
  } finally {
    process.stdin.setRawMode(false);
    process.stdin.pause();
    err("");
  }
}

/**
 * A secret value: from stdin when it is a pipe (as is, or without its final newline), else typed
 * without echo, twice when `confirm` is set.
 */
export async function readSecret(question: string, opts: { confirm?: boolean; trimNewline?: boolean } = {}): Promise<Buffer> {
  if (!process.stdin.isTTY) {
    const data = await readStdin();
    return opts.trimNewline ? Buffer.from(data.toString("utf8").replace(/\r?\n$/, "")) : data;
  }
  const a = await typeHidden(question);
  if (!opts.confirm) return a;
  const b = await typeHidden("again: ");
  const same = a.equals(b);
  b.fill(0);
  if (!same) {
    a.fill(0);
    throw new CliError("the two entries differ; nothing was stored");
  }
  return a;
}
