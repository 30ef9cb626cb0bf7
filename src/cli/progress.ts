// Live progress of a deploy on a terminal: one line per host (phase, elapsed time, bytes sent or
// the latest message), redrawn in place. Off a terminal, and with --json, events stay lines.
import type { DeployEvent } from "../node/deploy/deploy.js";

const SPIN = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

interface Row {
  phase: string;
  status: DeployEvent["status"];
  message: string;
  since: number;
  progress?: DeployEvent["progress"];
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export class TerminalProgress {
  private readonly rows = new Map<string, Row>();
  private drawn = 0;
  private tick = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    hosts: string[],
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    for (const h of hosts) this.rows.set(h, { phase: "queued", status: "info", message: "", since: Date.now() });
    this.timer = setInterval(() => this.draw(), 200);
    this.timer.unref();
  }

  event(e: DeployEvent): void {
    const r = this.rows.get(e.host);
    if (!r) return;
    // Finished steps are printed above the live area, so the history stays on screen.
    if (e.status === "ok" || e.status === "fail") this.print(`${e.host}  ${e.phase.padEnd(8)} ${e.status === "ok" ? "ok  " : "FAIL"} ${e.message}`);
    const phaseChanged = r.phase !== e.phase || e.status === "start";
    Object.assign(r, { phase: e.phase, status: e.status, message: e.message, progress: e.progress, ...(phaseChanged ? { since: Date.now() } : {}) });
    this.draw();
  }

  private line(host: string, r: Row, width: number): string {
    const secs = ((Date.now() - r.since) / 1000).toFixed(0);
    const spin = r.status === "fail" ? "✗" : r.status === "ok" ? "✓" : SPIN[this.tick % SPIN.length]!;
    const p = r.progress;
    const amount = p ? (p.total ? `${mib(p.done)} of ${mib(p.total)} (${Math.floor((100 * p.done) / p.total)}%)` : mib(p.done)) : "";
    const text = `${spin} ${host.padEnd(width)}  ${r.phase.padEnd(8)} ${secs.padStart(4)}s  ${amount || r.message}`;
    return text.slice(0, Math.max(20, (this.out.columns ?? 100) - 1));
  }

  private clear(): void {
    if (this.drawn) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private print(text: string): void {
    this.clear();
    this.out.write(text + "\n");
  }

  private draw(): void {
    this.tick++;
    this.clear();
    const width = Math.max(4, ...[...this.rows.keys()].map((h) => h.length));
    const lines = [...this.rows].map(([h, r]) => this.line(h, r, width));
    this.out.write(lines.join("\n") + "\n");
    this.drawn = lines.length;
  }

  /** Leave the last state on screen and stop redrawing. */
  stop(): void {
    clearInterval(this.timer);
    this.draw();
  }
}
