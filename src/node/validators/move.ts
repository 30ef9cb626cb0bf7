// `hearth validator move`: validators to another host or client without ever signing twice.
// The order is the whole point:
//   1. stop the old validator client and check it is stopped;
//   2. export its slashing-protection history (EIP-3076) and keep the moved keys' part;
//   3. take the moved keys' files away from the old client, and restart it for its other keys;
//   4. stop the new client, import the history, and check the new client's own export now
//      protects at least up to what the old one signed;
//   5. only then move the keys in the fleet (host files, secrets re-encrypted to the new host),
//      for `hearth generate` and `hearth deploy` to start the new client with them.
// Hosts are reached through a port (SSH and systemd in production, see sshValidatorHost), so the
// same sequence runs against real clients in the tests.
import { staticIPv4 } from "../../core/schema/network.js";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { setInYaml } from "../../core/fleet/edit.js";
import { hostServices } from "../../core/plan/host.js";
import { formatIssue } from "../../core/validate/issues.js";
import { coverageProblems, interchangeFor, SLASHING, type Command, type Interchange } from "../../core/validators/slashing.js";
import { beaconUrls } from "../../core/services/ethereum/common.js";
import { escapeShellArg } from "../../core/plan/shell.js";
import type { SshSession } from "../deploy/ssh.js";
import type { Fleet, Host } from "../../core/schema/fleet.js";
import { validateFleetDir } from "../fleet-dir.js";
import { writeFileAtomic } from "../fs-atomic.js";
import { UserError } from "../errors.js";
import { openStore, rekey } from "../secrets/store.js";
import type { LoadedIdentity } from "../secrets/age.js";

/** What the move needs of a host. */
export interface ValidatorHost {
  name: string;
  stop(unit: string): Promise<void>;
  start(unit: string): Promise<void>;
  isActive(unit: string): Promise<boolean>;
  /** Run a client's command (a binary of the unit's package) as the service user; its stdout. Throws with the client's message on failure. */
  run(cmd: Command, user: string, unit: string): Promise<string>;
  readFile(path: string): Promise<string>;
  writeFile(path: string, text: string, owner: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** A private scratch directory (tmpfs on a host) for interchange files. */
  scratch(): string;
}

export interface MoveRequest {
  dir: string;
  pubkeys: string[];
  to: string;
  /** The typed confirmation: the target host's name. */
  confirm: string;
  identities: LoadedIdentity[];
  connect(host: string): ValidatorHost;
  log?(line: string): void;
}

export class MoveError extends UserError {}

interface Side {
  host: string;
  h: Host;
  unit: string;
  user: string;
  client: string;
  dataDir: string;
  network: string;
  beaconNodes: string[];
  keyFiles(pk: string): string[];
}

function side(fleet: Fleet, name: string): Side {
  const h = fleet.hosts.get(name)!;
  const vc = hostServices(fleet, name, h).find((s) => s.role === "validator")!;
  const p = vc.processes[0]!;
  const cfg = h.services.validator!;
  const secrets = vc.kind.secrets(cfg, { fleet, host: h, hostName: name, hosts: fleet.hosts, localAddress: "127.0.0.1" });
  return {
    host: name,
    h,
    unit: p.unit,
    user: p.user,
    client: cfg.client,
    dataDir: cfg.dataDir,
    network: cfg.network ?? fleet.ethereum.network,
    beaconNodes: beaconUrls(cfg, { fleet, host: h, hostName: name, hosts: fleet.hosts, localAddress: localOf(h) }),
    keyFiles: (pk) => secrets.filter((s) => s.id.startsWith(`validator-${pk}-`)).map((s) => s.path),
  };
}
const localOf = (h: Host) => staticIPv4(h.network) ?? "127.0.0.1";

export async function moveValidators(req: MoveRequest): Promise<{ moved: string[]; from: string; to: string }> {
  const log = req.log ?? (() => {});
  const v = validateFleetDir(req.dir);
  if (!v.fleet || !v.ok) throw new MoveError(`the fleet is not valid; fix it first:\n${v.issues.filter((i) => i.severity === "error").map(formatIssue).join("\n")}`);
  const fleet = v.fleet;
  const pubkeys = req.pubkeys.map((p) => p.toLowerCase());
  const froms = new Set<string>();
  for (const pk of pubkeys) {
    const owner = [...fleet.hosts].find(([, h]) => h.services.validator?.keys.includes(pk))?.[0];
    if (!owner) throw new MoveError(`validator ${pk.slice(0, 14)}… is on no host of the fleet; import it with \`hearth validator import\``);
    froms.add(owner);
  }
  if (froms.size !== 1) throw new MoveError(`the keys are on ${[...froms].join(" and ")}; move the keys of one host at a time`);
  const fromName = [...froms][0]!;
  const toHost = fleet.hosts.get(req.to);
  if (!toHost) throw new MoveError(`no host '${req.to}' in the fleet`);
  if (!toHost.services.validator) throw new MoveError(`${req.to} runs no validator client; add services.validator to ${v.hostFiles.get(req.to)} first`);
  if (fromName === req.to) throw new MoveError(`the keys are on ${req.to} already; to change its client, set services.validator.client on a second host or move them away and back`);
  if (req.confirm !== req.to) throw new MoveError(`moving validators can get them slashed if anything is skipped; confirm by passing --confirm ${req.to}`);
  const from = side(fleet, fromName);
  const to = side(fleet, req.to);
  if (from.network !== to.network) throw new MoveError(`${fromName} validates on ${from.network}, ${req.to} on ${to.network}`);

  const old = req.connect(fromName);
  const next = req.connect(req.to);
  // 1. The old client stops, for good as far as these keys go.
  log(`${fromName}: stopping ${from.unit}`);
  await old.stop(from.unit);
  if (await old.isActive(from.unit)) throw new MoveError(`${fromName}: ${from.unit} is still running after stop; nothing was moved`);
  // 2. Its history of the moved keys.
  const exportFile = join(old.scratch(), `export-${randomBytes(6).toString("hex")}.json`);
  const exp = SLASHING[from.client]!.exportCmd({ dataDir: from.dataDir, network: from.network, file: exportFile, pubkeys, beaconNodes: from.beaconNodes });
  log(`${fromName}: exporting slashing protection (${from.client})`);
  await old.run(exp, from.user, from.unit);
  let history: Interchange;
  try {
    history = interchangeFor(await old.readFile(exp.output ?? exportFile), pubkeys);
  } finally {
    await old.remove(exp.output ?? exportFile);
  }
  // 3. The old client never sees these keys again; its other keys go on.
  for (const pk of pubkeys) for (const f of from.keyFiles(pk)) await old.remove(f);
  const remaining = from.h.services.validator!.keys.filter((k) => !pubkeys.includes(k));
  if (remaining.length) {
    log(`${fromName}: restarting ${from.unit} for its ${remaining.length} other key(s)`);
    await old.start(from.unit);
  }
  // 4. The new client learns the history before it ever has the keys.
  log(`${req.to}: stopping ${to.unit}, importing slashing protection (${to.client})`);
  await next.stop(to.unit);
  const importFile = join(next.scratch(), `import-${randomBytes(6).toString("hex")}.json`);
  await next.writeFile(importFile, JSON.stringify(history), to.user);
  try {
    await next.run(SLASHING[to.client]!.importCmd({ dataDir: to.dataDir, network: to.network, file: importFile, beaconNodes: to.beaconNodes }), to.user, to.unit);
  } finally {
    await next.remove(importFile);
  }
  const checkFile = join(next.scratch(), `check-${randomBytes(6).toString("hex")}.json`);
  const chk = SLASHING[to.client]!.exportCmd({ dataDir: to.dataDir, network: to.network, file: checkFile, pubkeys, beaconNodes: to.beaconNodes });
  await next.run(chk, to.user, to.unit);
  let after: Interchange;
  try {
    after = interchangeFor(await next.readFile(chk.output ?? checkFile), pubkeys, new Set(pubkeys.filter((pk) => !history.data.some((d) => d.pubkey === pk))));
  } finally {
    await next.remove(chk.output ?? checkFile);
  }
  const problems = coverageProblems(history, after);
  if (problems.length) throw new MoveError(`the new client's slashing protection does not cover the old history; the keys stay off both clients until this is fixed:\n  ${problems.join("\n  ")}`);
  log(`${req.to}: slashing protection covers every moved key`);
  if (toHost.services.validator.keys.length) await next.start(to.unit);

  // 5. The fleet: keys listed on the new host, secrets re-encrypted to it.
  const fromFile = v.hostFiles.get(fromName)!;
  const toFile = v.hostFiles.get(req.to)!;
  const fromText = setInYaml(v.files[fromFile]!, ["services", "validator", "keys"], remaining);
  const toText = setInYaml(v.files[toFile]!, ["services", "validator", "keys"], [...toHost.services.validator.keys, ...pubkeys.filter((pk) => !toHost.services.validator!.keys.includes(pk))]);
  const moved = validateFleetDir(req.dir, { [fromFile]: fromText, [toFile]: toText });
  if (!moved.fleet || !moved.ok) throw new MoveError(`the host files would not be valid after the move:\n${moved.issues.filter((i) => i.severity === "error").map(formatIssue).join("\n")}`);
  writeFileAtomic(join(req.dir, toFile), toText);
  writeFileAtomic(join(req.dir, fromFile), fromText);
  await rekey(openStore(req.dir, moved.fleet), req.identities, {}, log);
  log(`moved ${pubkeys.length} key(s) from ${fromName} to ${req.to}; next: hearth generate, then hearth deploy ${req.to} ${fromName}`);
  return { moved: pubkeys, from: fromName, to: req.to };
}

/**
 * A host over SSH with systemd: units stopped and started with systemctl, a client's command run
 * from the unit's own package (the ExecStart path) as the service user, files in /run (tmpfs).
 */
export function sshValidatorHost(name: string, s: SshSession): ValidatorHost {
  const sh = async (script: string, stdin?: Buffer): Promise<string> => {
    const r = await s.run(s.target.user === "root" ? script : `sudo -n sh -c ${escapeShellArg(script)}`, { ...(stdin ? { stdin } : {}), timeoutMs: 600_000 });
    if (r.code !== 0) throw new MoveError(`${name}: ${r.stderr.trim().split("\n").slice(-3).join(" ") || `exit ${r.code}`}`);
    return r.stdout;
  };
  const q = escapeShellArg;
  // Service users write their exports here: sticky and unlistable, like a private /tmp.
  const scratch = "/run/hearth-move";
  const ready = `install -d -m 1733 ${scratch} && `;
  return {
    name,
    stop: async (unit) => void (await sh(`systemctl stop ${q(unit)}`)),
    start: async (unit) => void (await sh(`systemctl start ${q(unit)}`)),
    isActive: async (unit) => (await sh(`systemctl is-active ${q(unit)} || true`)).trim() === "active",
    run: (cmd, user, unit) =>
      sh(
        ready +
          `exe=$(systemctl show -p ExecStart --value ${q(unit)} | sed -n 's/.*path=\\([^ ;]*\\).*/\\1/p' | head -n1) && ` +
          `runuser -u ${q(user)} -- "$(dirname "$exe")"/${q(cmd.binary)} ${cmd.args.map(q).join(" ")}`,
      ),
    readFile: (path) => sh(`cat ${q(path)}`),
    writeFile: async (path, text, owner) => void (await sh(`${ready}install -m 0400 -o ${q(owner)} /dev/stdin ${q(path)}`, Buffer.from(text))),
    remove: async (path) => void (await sh(`rm -f ${q(path)}`)),
    scratch: () => scratch,
  };
}
