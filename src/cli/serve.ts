// `hearth serve`: the server and web UI on a fleet directory (or, with none, on a copy of the
// bundled example fleet, so a newcomer sees a working fleet at once).
import { Command } from "commander";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { CliError, out } from "./common.js";
// The server (Hono, SQLite, the job runner) loads only when `serve` runs: every other command starts faster.

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve the HTTP API and web UI: configure, build and follow the fleet from a browser")
    .argument("[fleet]", "fleet directory (default: a copy of the bundled example fleet)")
    .option("-p, --port <n>", "port", "7420")
    .option("-b, --bind <addr>", "address to listen on; anything but loopback requires an admin login", "127.0.0.1")
    .option("--concurrency <n>", "builds at once", "2")
    .option("--builders <spec>", "Nix remote builders for builds (nix build --builders)")
    .option("--trust-proxy <addrs>", "comma-separated IP addresses of reverse proxies in front: their X-Forwarded-For names the client (login limits, audit) and X-Forwarded-Proto https makes cookies Secure")
    .option("--manual-rollouts", "new signed releases (hearth publish) wait for the Roll out button instead of rolling out by themselves")
    .option("--state-dir <dir>", "runtime state: database and artifacts (default: under ~/.local/state/hearth)")
    .option("-i, --identity <file...>", "admin age identity the server decrypts deploy keys, LUKS passphrases and the SMTP password with (default $HEARTH_IDENTITY, ~/.config/hearth/identity.txt)")
    .option("--ssh-key <file>", "private key the server logs in to hosts with (deploy, unlock, machine state; default: ssh's own)")
    .option("--poll-interval <s>", "seconds between checks of every host's state and Ethereum clients", "60")
    .action(async (dir: string | undefined, opts: { port: string; bind: string; concurrency: string; builders?: string; stateDir?: string; trustProxy?: string; manualRollouts?: boolean; identity?: string[]; sshKey?: string; pollInterval: string }) => {
      let fleetDir = dir ? resolve(dir) : join(process.env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "hearth", "example-fleet");
      if (!dir && !existsSync(join(fleetDir, "fleet.yaml"))) {
        const { initFleet } = await import("../node/init.js");
        const r = await initFleet(fleetDir, { example: "homestaking", admin: (process.env.USER ?? "me").toLowerCase().replace(/[^a-z0-9_-]/g, "") || "me" });
        out(`created a copy of the example fleet in ${fleetDir} (${r.secretsCreated} secrets, encrypted to ${r.identity})`);
      }
      if (!existsSync(join(fleetDir, "fleet.yaml"))) throw new CliError(`${fleetDir} has no fleet.yaml; create one with \`hearth init ${dir}\``);
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port ${opts.port} is not a port number`);
      const pollInterval = Number(opts.pollInterval);
      if (!Number.isFinite(pollInterval) || pollInterval < 5) throw new CliError(`--poll-interval ${opts.pollInterval}: at least 5 seconds`, 2);
      const { startServe } = await import("../server/serve.js");
      const { isLoopback, parseTrustedProxies } = await import("../server/auth.js");
      let trustedProxies: Set<string> | undefined;
      try {
        trustedProxies = opts.trustProxy ? parseTrustedProxies(opts.trustProxy) : undefined;
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      const s = await startServe({
        fleetDir,
        port,
        bind: opts.bind,
        concurrency: Math.max(1, Number(opts.concurrency) || 1),
        ...(opts.builders ? { builders: opts.builders } : {}),
        ...(opts.stateDir ? { stateDir: resolve(opts.stateDir) } : {}),
        ...(trustedProxies ? { trustedProxies } : {}),
        ...(opts.manualRollouts ? { manualRollouts: true } : {}),
        ...(opts.identity?.length ? { identityFiles: opts.identity.map((f) => resolve(f)) } : {}),
        ...(opts.sshKey ? { sshKey: resolve(opts.sshKey) } : {}),
        monitor: { intervalSeconds: pollInterval },
      });
      out(`hearth serves ${fleetDir} at ${s.url}  (state in ${s.stateDir})`);
      if (isLoopback(opts.bind)) out("loopback: no login; only this machine can connect");
      else out("bound beyond loopback: every request needs an admin login; put TLS in front (a reverse proxy) so passwords and cookies never travel in clear");
      if (s.setupToken) out(`first start on a non-loopback address: open ${s.url} and set the admin password with this one-time setup token: ${s.setupToken}`);
      const stop = async () => {
        await s.close();
        process.exit(0);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}
