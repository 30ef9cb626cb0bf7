// Test hosts for the mesh: one network namespace per host, joined by veth pairs to a bridge in a
// "switch" namespace, each running wireguard-go (Debian's) with the configuration hearth
// generated. Everything is named with a per-run prefix and torn down by `destroy()`, which the
// tests call in `after` (and .ci/run sweeps leftovers of crashed runs).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const tryRun = (cmd: string, args: string[]) => {
  try {
    return { ok: true, out: sh(cmd, args) };
  } catch (e) {
    const x = e as { stdout?: Buffer; stderr?: Buffer };
    return { ok: false, out: `${x.stdout?.toString() ?? ""}${x.stderr?.toString() ?? ""}` };
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The name prefix of every namespace the tests make (".ci/run" removes leftovers by it). */
export const NETNS_PREFIX = "hearth-t";

export class TestNet {
  readonly id = `${process.pid % 100000}`;
  private readonly namespaces: string[] = [];
  private readonly daemons: ChildProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), "hearth-netns-"));
  readonly sw: string;
  private ports = 0;

  constructor(readonly cidr: string) {
    this.sw = this.ns("sw");
    sh("ip", ["-n", this.sw, "link", "add", "br0", "type", "bridge"]);
    sh("ip", ["-n", this.sw, "link", "set", "br0", "up"]);
  }

  private ns(suffix: string): string {
    const name = `${NETNS_PREFIX}${this.id}-${suffix}`;
    sh("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    sh("ip", ["-n", name, "link", "set", "lo", "up"]);
    return name;
  }

  /** A host namespace with `underlay` (e.g. 192.168.77.11) on eth0, plugged into the switch. */
  host(name: string, underlay: string): string {
    const ns = this.ns(name);
    const n = ++this.ports;
    const a = `hv${this.id}${n}`.slice(0, 15);
    const b = `hs${this.id}${n}`.slice(0, 15);
    sh("ip", ["link", "add", a, "type", "veth", "peer", "name", b]);
    sh("ip", ["link", "set", a, "netns", ns]);
    sh("ip", ["link", "set", b, "netns", this.sw]);
    sh("ip", ["-n", ns, "link", "set", a, "name", "eth0"]);
    sh("ip", ["-n", ns, "addr", "add", `${underlay}/${this.cidr.split("/")[1]}`, "dev", "eth0"]);
    sh("ip", ["-n", ns, "link", "set", "eth0", "up"]);
    sh("ip", ["-n", this.sw, "link", "set", b, "master", "br0"]);
    sh("ip", ["-n", this.sw, "link", "set", b, "up"]);
    return ns;
  }

  /**
   * Start wireguard-go for interface `ifname` in `ns` and apply a wg-quick .conf the way
   * wg-quick would: addresses, the wg(8) part of the file, link up, routes for AllowedIPs.
   * wireguard-go's control sockets share /var/run/wireguard, so names must be unique.
   */
  async wireguard(ns: string, ifname: string, conf: string): Promise<void> {
    const d = spawn("ip", ["netns", "exec", ns, "wireguard-go", "-f", ifname], { stdio: "ignore", env: { ...process.env, LOG_LEVEL: "error" } });
    this.daemons.push(d);
    for (let i = 0; i < 100 && !tryRun("ip", ["-n", ns, "link", "show", "dev", ifname]).ok; i++) await sleep(50);
    if (!tryRun("ip", ["-n", ns, "link", "show", "dev", ifname]).ok) throw new Error(`wireguard-go did not create ${ifname} in ${ns}`);
    await this.reconfigure(ns, ifname, conf, true);
  }

  /** Replace the interface's configuration (wg setconf), as a regenerated config would. */
  async reconfigure(ns: string, ifname: string, conf: string, fresh = false): Promise<void> {
    const { wg, addresses, routes } = splitWgQuick(conf);
    const file = join(this.dir, `${ifname}.conf`);
    writeFileSync(file, wg, { mode: 0o600 });
    sh("ip", ["netns", "exec", ns, "wg", "setconf", ifname, file]);
    rmSync(file);
    if (fresh) for (const a of addresses) sh("ip", ["-n", ns, "addr", "add", a, "dev", ifname]);
    sh("ip", ["-n", ns, "link", "set", ifname, "up"]);
    for (const r of routes) tryRun("ip", ["-n", ns, "route", "replace", r, "dev", ifname]);
  }

  /** Kill this process with the namespaces. */
  adopt(p: ChildProcess): void {
    this.daemons.push(p);
  }

  exec(ns: string, cmd: string, args: string[]) {
    return tryRun("ip", ["netns", "exec", ns, cmd, ...args]);
  }

  /** Ping with a few tries (the first packet triggers the handshake). Bounded. */
  async ping(ns: string, addr: string, extra: string[] = []): Promise<{ ok: boolean; out: string }> {
    let r = { ok: false, out: "" };
    for (let i = 0; i < 4 && !r.ok; i++) {
      r = this.exec(ns, "ping", ["-c", "1", "-W", "2", ...extra, addr]);
      if (!r.ok) await sleep(200);
    }
    return r;
  }

  destroy(): void {
    for (const d of this.daemons) d.kill("SIGTERM");
    for (const ns of this.namespaces.reverse()) tryRun("ip", ["netns", "del", ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** wg-quick's own split of a .conf: the wg(8) part, the interface addresses, the peer routes. */
export function splitWgQuick(conf: string): { wg: string; addresses: string[]; routes: string[] } {
  const wg: string[] = [];
  const addresses: string[] = [];
  const routes: string[] = [];
  for (const raw of conf.split("\n")) {
    const line = raw.trim();
    const m = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (m && m[1] === "Address") addresses.push(...m[2]!.split(",").map((s) => s.trim()));
    else {
      if (m && m[1] === "AllowedIPs") routes.push(...m[2]!.split(",").map((s) => s.trim()));
      if (!line.startsWith("#")) wg.push(line);
    }
  }
  return { wg: wg.join("\n") + "\n", addresses, routes };
}

export const haveSshd = () => process.getuid?.() === 0 && existsSync("/usr/sbin/sshd") && tryRun("ip", ["netns", "list"]).ok;

export const haveNetns = () => process.getuid?.() === 0 && existsSync("/usr/bin/wireguard-go") && tryRun("ip", ["netns", "list"]).ok;

/**
 * An OpenSSH server (Debian's sshd) inside a test namespace, presenting `hostKey` (the private
 * key file hearth generated) and accepting `authorizedKey`; `forceCommand` stands in for what a
 * special-purpose server runs (the initrd's password prompt).
 */
export async function startSshd(
  net: TestNet,
  ns: string,
  o: { address: string; port: number; hostKey: Buffer; authorizedKey: string; forceCommand?: string; path?: string; privateDir?: string },
): Promise<{ stop(): void; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "hearth-sshd-"));
  writeFileSync(join(dir, "host_key"), o.hostKey, { mode: 0o600 });
  writeFileSync(join(dir, "authorized_keys"), o.authorizedKey + "\n", { mode: 0o600 });
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${o.port}`,
      `ListenAddress ${o.address}`,
      `HostKey ${join(dir, "host_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      ...(o.forceCommand ? [`ForceCommand ${o.forceCommand}`] : []),
      ...(o.path ? [`SetEnv PATH=${o.path}`] : []),
    ].join("\n") + "\n",
  );
  execFileSync("mkdir", ["-p", "/run/sshd"]);
  // `ip netns exec` runs in a mount namespace of its own: a tmpfs mounted there is this host's
  // alone (its "/var/lib"), while the Nix store stays shared.
  const sshd = `exec /usr/sbin/sshd -D -e -f ${join(dir, "sshd_config")}`;
  const d = spawn("ip", ["netns", "exec", ns, "sh", "-c", o.privateDir ? `mkdir -p ${o.privateDir} && mount -t tmpfs tmpfs ${o.privateDir} && ${sshd}` : sshd], { stdio: "ignore" });
  net.adopt(d);
  for (let i = 0; i < 100; i++) {
    if (net.exec(ns, "bash", ["-c", `exec 3<>/dev/tcp/${o.address}/${o.port}`]).ok) break;
    await sleep(50);
  }
  return {
    // host_key and sshd.pid live here: a test can swap the key and SIGHUP sshd (a "reboot").
    dir,
    stop: () => {
      d.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a test whose code under test runs in this process (a server, a collector): puts a stand-in
 * `ssh` first on PATH that is the real OpenSSH client run in namespace `ns`, so the code reaches
 * the test hosts as it would reach real ones (`exec` keeps its pid: timeouts kill ssh itself).
 * Returns the function that restores PATH.
 */
export function sshFromNamespace(ns: string): () => void {
  const dir = mkdtempSync(join(tmpdir(), "hearth-ssh-client-"));
  writeFileSync(join(dir, "ssh"), `#!/bin/sh\n# stand-in: the real OpenSSH client on the test network\nexec ip netns exec ${ns} /usr/bin/ssh "$@"\n`, { mode: 0o755 });
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  return () => {
    process.env.PATH = saved;
    rmSync(dir, { recursive: true, force: true });
  };
}
