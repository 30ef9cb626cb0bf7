// `hearth adopt HOST --address A` / `--facter-report FILE`: describe a running machine as
// hosts/HOST.yaml from facts read over SSH (read-only) or from a saved nixos-facter report.
// The pending-node mode (`--key`) of the same command lives in ./pull.ts, which dispatches here.
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError, err, lexists, out, reportIssues } from "./common.js";
import { isHostName } from "../core/schema/common.js";
import { factsFromFacter, parseFacterReport } from "../core/adopt/facter.js";
import { mapFacts } from "../core/adopt/mapping.js";
import { renderHostDraft } from "../core/adopt/render.js";
import type { MachineFacts } from "../core/adopt/facts.js";
import { keyFingerprint } from "../core/pull/agent-auth.js";
import { validateFleetDir } from "../node/fleet-dir.js";
import { recordMeshAddresses } from "../node/fleet-plan.js";
import { writeFileAtomic } from "../node/fs-atomic.js";
import { UserError } from "../node/errors.js";

export interface MachineAdoptOptions {
  fleet: string;
  key?: string;
  address?: string;
  port?: string;
  user?: string;
  sshKey?: string;
  hostKey?: string;
  acceptNewKey?: boolean;
  facterReport?: string;
  force?: boolean;
  dryRun?: boolean;
}

/** The options of the machine mode, added to the `adopt` command pull.ts registers. */
export function addMachineAdoptOptions(cmd: Command): Command {
  return cmd
    .option("--address <host>", "adopt a running Linux machine: read its facts over SSH (read-only) into hosts/HOST.yaml")
    .option("--port <n>", "SSH port of --address", "22")
    .option("--user <user>", "login user on the machine (root, or one with passwordless sudo for the full facts)", "root")
    .option("--ssh-key <file>", "private key to log in with (default: your agent and ~/.ssh)")
    .option("--host-key <key>", "the machine's ssh-ed25519 host key, as its console shows it (cat /etc/ssh/ssh_host_ed25519_key.pub)")
    .option("--accept-new-key", "first contact: trust the ed25519 key the machine presents now (its fingerprint is printed) and pin it")
    .option("--facter-report <file>", "adopt from a saved nixos-facter report (JSON) instead of over SSH")
    .option("--force", "replace an existing hosts/HOST.yaml")
    .option("--dry-run", "print the host file, write nothing");
}

/** Which adoption the options ask for: a pending pull node (--key) or a machine (--address / --facter-report). */
export function adoptMode(o: MachineAdoptOptions): "pending" | "machine" {
  const machine = o.address !== undefined || o.facterReport !== undefined;
  if (o.key !== undefined && machine) throw new CliError("give --key (adopt a pending pull node) or --address / --facter-report (adopt a running machine), not both", 2);
  if (o.key === undefined && !machine) throw new CliError("say what to adopt: --key KEY (a pending pull node, as `hearth serve` lists it), --address ADDRESS (a running machine over SSH) or --facter-report FILE", 2);
  if (o.address !== undefined && o.facterReport !== undefined) throw new CliError("give --address or --facter-report, not both", 2);
  if (o.hostKey !== undefined && o.acceptNewKey) throw new CliError("give --host-key or --accept-new-key, not both", 2);
  if (o.facterReport !== undefined && o.acceptNewKey) throw new CliError("--accept-new-key needs --address (a report has no key to trust); pass --host-key to record one", 2);
  return machine ? "machine" : "pending";
}

const userError = (e: unknown): never => {
  if (e instanceof UserError) throw new CliError(e.message);
  throw e;
};

/** `hearth adopt HOST --address …` / `--facter-report …`. */
export async function adoptMachine(host: string, o: MachineAdoptOptions): Promise<void> {
  const dir = resolve(o.fleet);
  if (!isHostName(host)) throw new CliError(`${JSON.stringify(host)} is not a valid host name\n    hint: a DNS label: lower-case letters, digits and '-', at most 63 characters, e.g. node-1`, 2);
  const before = validateFleetDir(dir);
  if (!before.fleet && before.issues.some((i) => i.file === "fleet.yaml")) {
    reportIssues(before.issues);
    throw new CliError(`${dir} holds no valid fleet.yaml; nothing was read from the machine`);
  }
  const file = lexists(join(dir, `hosts/${host}.yml`)) ? `hosts/${host}.yml` : `hosts/${host}.yaml`;
  // Refused before the machine is contacted: nothing to learn if nothing may be written.
  if (lexists(join(dir, file)) && !o.force && !o.dryRun) throw new CliError(`${file} exists already; hearth adopt does not overwrite it (pass --force to replace it, --dry-run to see what it would write)`);

  let facts: MachineFacts;
  let hostKey: string | undefined;
  if (o.facterReport !== undefined) {
    let report;
    try {
      report = parseFacterReport(readFileSync(resolve(o.facterReport), "utf8"));
    } catch (e) {
      throw new CliError(`${o.facterReport}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    facts = { source: "nixos-facter", ...factsFromFacter(report) };
    const { normalizeHostKey } = await import("../node/adopt/gather.js");
    if (o.hostKey !== undefined)
      try {
        hostKey = normalizeHostKey(o.hostKey);
      } catch (e) {
        userError(e);
      }
    out(`read ${o.facterReport} (nixos-facter report version ${report.version}, ${report.system})`);
  } else {
    const port = Number(o.port ?? 22);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`--port ${o.port}: a port number from 1 to 65535`, 2);
    const { gatherOverSsh } = await import("../node/adopt/gather.js");
    const g = await gatherOverSsh({
      alias: host,
      address: o.address!,
      port,
      user: o.user ?? "root",
      ...(o.sshKey ? { identityFile: resolve(o.sshKey) } : {}),
      ...(o.hostKey !== undefined ? { hostKey: o.hostKey } : {}),
      ...(o.acceptNewKey ? { acceptNewKey: true } : {}),
    }).catch(userError);
    facts = g.facts;
    hostKey = g.hostKey;
    out(
      o.hostKey !== undefined
        ? `${o.address}:${port} presented the given host key ${g.fingerprint}`
        : `first contact: ${o.address}:${port} presented ED25519 key ${g.fingerprint}; trusted on first use and pinned as sshHostKey (compare it with the machine's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`,
    );
    out(`read the machine's facts with one read-only command${facts.facterVersion ? " (and its nixos-facter report)" : ""}; nothing on it was changed`);
    if (g.facterProblem) err(`warning: nixos-facter ran on the machine, but its output was not used: ${g.facterProblem}`);
  }

  const draft = mapFacts(facts, { name: host, ...(hostKey ? { sshHostKey: hostKey } : {}), ...(o.user && o.user !== "root" ? { user: o.user } : {}), ...(o.address ? { address: o.address } : {}) });
  out("found:");
  for (const f of draft.found) out(`  ${f}`);
  let text = renderHostDraft(draft);
  let v = validateFleetDir(dir, { [file]: text });
  const errors = v.issues.filter((i) => i.severity === "error");
  // The file loads (schema holds) and only the fleet's rules object to it: what the machine could
  // not tell (a root volume, a boot disk) stays for the admin to decide, as TODOs where they go.
  const ruleFindings = !!v.fleet?.hosts.has(host) && errors.every((i) => i.file === file);
  if (errors.length && ruleFindings) {
    for (const i of errors) {
      draft.todos.push(`hearth validate: ${i.message}${i.hint ? ` (${i.hint})` : ""}`);
      draft.notes.push({ path: i.path.map(String), lines: [`TODO(adopt): hearth validate: ${i.message}${i.hint ? ` (${i.hint})` : ""}`] });
    }
    text = renderHostDraft(draft);
    v = validateFleetDir(dir, { [file]: text });
  }
  if (v.issues.length) {
    err(`the fleet with ${file}:`);
    reportIssues(v.issues);
  }
  if (errors.length && !ruleFindings) {
    if (o.dryRun) out(text);
    throw new CliError(`the fleet is not valid with the adopted ${file}; nothing was written${o.dryRun ? "" : " (--dry-run prints the file)"}`);
  }
  if (o.dryRun) {
    out(text);
    return;
  }
  // As `hearth host add`: the others' mesh addresses are recorded first, so the new host takes a free one.
  recordMeshAddresses(dir, validateFleetDir(dir));
  writeFileAtomic(join(dir, file), text);
  recordMeshAddresses(dir, validateFleetDir(dir));
  out(`wrote ${file}${hostKey ? ` (sshHostKey ${keyFingerprint(hostKey)})` : ""}`);
  if (!v.ok) out(`the fleet is not valid until ${file}'s findings above are resolved (each is a TODO(adopt) in the file)`);
  if (draft.todos.length) {
    out(`to decide (${draft.todos.length}, marked TODO(adopt) in the file):`);
    for (const t of draft.todos) out(`  - ${t}`);
  }
}
