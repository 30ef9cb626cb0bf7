// After an update, is the host well? One shell script, run on the host over SSH (so services
// bound to localhost count), prints systemd's state, its failed units and one line per check:
//   state=running | failed=<unit> | check=<n> ok | check=<n> fail <why>
// Polled until everything passes or the health timeout; the parse says what is wrong in words.
import type { HealthCheck } from "../services/types.js";
import { escapeShellArg as q } from "../plan/shell.js";

const SYSTEMD = "state=$(systemctl is-system-running 2>/dev/null || true); echo \"state=$state\"; systemctl --failed --no-legend --plain 2>/dev/null | awk '{print \"failed=\" $1}'";

// Names and addresses come from the fleet; keep them to characters that need no quoting inside "…".
const safe = (s: string | number) => String(s).replace(/[^A-Za-z0-9@%+=:,./[\]_-]/g, "");

function checkLine(c: HealthCheck, i: number): string {
  const ok = `echo 'check=${i} ok'`;
  const fail = (why: string) => `echo "check=${i} fail ${why}"`;
  switch (c.kind) {
    case "unit":
      return `s=$(systemctl is-active ${q(c.unit)} 2>/dev/null); if [ "$s" = active ]; then ${ok}; else ${fail(`${safe(c.unit)} is \${s:-unknown}`)}; fi`;
    case "http":
      // curl is part of every NixOS system (requiredPackages); 000 means no HTTP answer at all.
      return `code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 ${q(c.url)} 2>/dev/null); case "$code" in ${c.okStatus.join("|")}) ${ok};; 000|"") ${fail(`${safe(c.url)} did not answer`)};; *) ${fail(`${safe(c.url)} answered HTTP $code`)};; esac`;
    case "tcp":
      return `if timeout 3 bash -c ${q(`exec 3<>/dev/tcp/${c.host}/${c.port}`)} 2>/dev/null; then ${ok}; else ${fail(`nothing accepts connections on ${safe(c.host)}:${c.port}`)}; fi`;
    case "wireguard": {
      // A handshake happens only when traffic flows: ping every peer once, then ask the kernel.
      const ping = c.peers.length ? `for p in ${c.peers.map(q).join(" ")}; do ping -c 1 -W 1 "$p" >/dev/null 2>&1 & done; wait; ` : "";
      const need = c.peers.length ? `[ "$n" -gt 0 ]` : "true";
      return `if ! ip link show ${q(c.interface)} >/dev/null 2>&1; then ${fail(`interface ${safe(c.interface)} is missing`)}; else ${ping}n=$(wg show ${q(c.interface)} latest-handshakes 2>/dev/null | awk '$2 > 0' | wc -l); if ${need}; then ${ok}; else ${fail(`no handshake with any of ${c.peers.length} peers on ${safe(c.interface)}`)}; fi; fi`;
    }
    case "tailscale":
      return `st=$(tailscale status --json 2>/dev/null | tr -d ' \\n' | sed -n 's/.*"BackendState":"\\([A-Za-z]*\\)".*/\\1/p'); if [ "$st" = Running ]; then ${ok}; else ${fail(`tailscale is \${st:-not answering}, not logged in to the tailnet`)}; fi`;
  }
}

/** The whole check, one remote command. */
export function healthScript(checks: HealthCheck[]): string {
  return [SYSTEMD, ...checks.map(checkLine)].join("\n");
}

export interface HealthReport {
  ok: boolean;
  /** systemd's overall state (running, starting, degraded, …). */
  state: string;
  failed: string[];
  /** Failing checks, `name: why`. */
  problems: string[];
  /** The system is still coming up: polling again may help. */
  settling: boolean;
}

export function parseHealth(stdout: string, checks: HealthCheck[] = []): HealthReport {
  const state = /^state=(.*)$/m.exec(stdout)?.[1]?.trim() ?? "unknown";
  const failed = [...stdout.matchAll(/^failed=(.+)$/gm)].map((m) => m[1]!.trim()).filter(Boolean);
  const seen = new Map([...stdout.matchAll(/^check=(\d+) (ok|fail)(?: (.*))?$/gm)].map((m) => [Number(m[1]), m[2] === "ok" ? "" : (m[3] ?? "failed")]));
  const problems = checks.flatMap((c, i) => {
    const r = seen.get(i);
    return r === "" ? [] : [`${c.name}: ${r ?? "no result"}`];
  });
  return { ok: state === "running" && failed.length === 0 && problems.length === 0, state, failed, problems, settling: state === "starting" || state === "initializing" };
}

/** One line for the report: what is wrong. */
export function describeHealth(h: HealthReport): string {
  const parts = [
    ...(h.failed.length ? [`failed units: ${h.failed.join(", ")}`] : []),
    ...(h.state !== "running" && !h.failed.length ? [`system state ${h.state}`] : []),
    ...h.problems,
  ];
  return parts.join("; ") || "healthy";
}
