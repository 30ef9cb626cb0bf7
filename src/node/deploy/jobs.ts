// Which deploy jobs a set of host names becomes, and the plan text that --dry-run prints: one
// place for `hearth deploy` and the server's deploys, so the page shows exactly what the CLI runs.
import { resolve } from "node:path";
import type { SecretsStore } from "../secrets/store.js";
import { show } from "../secrets/store.js";
import type { LoadedIdentity } from "../secrets/age.js";
import { planHost } from "../../core/plan/host.js";
import { planMesh } from "../../core/mesh/plan.js";
import { meshState } from "../../core/plan/plan.js";
import { readMeshAddresses } from "../fleet-plan.js";
import {
  activateScript,
  bootOnceScript,
  buildArgv,
  checkDeployable,
  confirmScript,
  installArgv,
  kexecScript,
  KEXEC_FILES,
  needsRebootScript,
  rollbackScript,
  unpackKexecScript,
  type DeployKind,
  type DeployOptions,
} from "../../core/deploy/deploy.js";
import { healthScript } from "../../core/deploy/health.js";
import { escapeShellArg } from "../../core/plan/shell.js";
import { writeBootstrapDir } from "../secrets/bootstrap-dir.js";
import { FACTS_SCRIPT, hostTarget, initrdTarget, type TargetOptions } from "./target.js";
import { SshSession } from "./ssh.js";
import type { HostJob } from "./deploy.js";
import { UserError } from "../errors.js";

export interface JobOptions {
  /** A first installation (nixos-anywhere) instead of an update, for hosts that are not ephemeral. */
  install?: boolean;
  acceptFirstKey?: boolean;
  /** Connection overrides, as the CLI's --address/--port/--user/--jump/--ssh-key. */
  target?: TargetOptions;
  /** Deploy these built systems instead of building (per host). */
  systemFor?: (host: string) => string | undefined;
  /** Health checks not to require, by name. */
  skipChecks?: ReadonlySet<string>;
  /** Hosts whose names the user typed back (--confirm-existing): formatting at install may go on beside their mount-only filesystems. */
  confirmExisting?: ReadonlySet<string>;
  /** The admin's identities, asked only when a secret is needed (install keys, the LUKS passphrase). */
  identities: () => Promise<LoadedIdentity[]>;
}

/** Host names → deploy jobs; throws UserError naming the host for what cannot be deployed. */
export function hostJobs(store: SecretsStore, fleetDir: string, names: string[], o: JobOptions): { jobs: HostJob[]; checkNames: Set<string> } {
  const mesh = planMesh(store.fleet, meshState(store.manifest, readMeshAddresses(resolve(fleetDir))));
  const skip = o.skipChecks ?? new Set<string>();
  const jobs: HostJob[] = [];
  const checkNames = new Set<string>();
  for (const name of names) {
    const host = store.fleet.hosts.get(name);
    if (!host) throw new UserError(`no host '${name}' in the fleet`);
    const kind: DeployKind = host.ephemeral ? "kexec" : o.install ? "install" : "update";
    const problem = checkDeployable(name, host, kind);
    if (problem) throw new UserError(problem);
    const hp = planHost(store.fleet, name, mesh);
    for (const c of hp.health) checkNames.add(c.name);
    const checks = hp.health.filter((c) => !skip.has(c.name));
    const target = { ...hostTarget(store.fleet, store.manifest, name, o.target ?? {}), ...(o.acceptFirstKey && kind !== "update" ? { acceptFirstKey: true } : {}) };
    const bootstrap = kind === "install" ? async () => writeBootstrapDir(store, name, await o.identities()) : undefined;
    // After an install or a new kernel the host may wait in its initrd for the passphrase.
    const passKey = `hosts/${name}/luks-passphrase`;
    const initrd = host.security.remoteUnlock?.enable && host.security.unlock.method === "passphrase" && store.manifest.secrets[passKey] ? initrdTargetOrNone(store, name, o.target ?? {}) : undefined;
    const unlock = initrd ? { target: initrd, passphrase: async () => show(store, passKey, await o.identities()) } : undefined;
    const systemPath = o.systemFor?.(name);
    jobs.push({ name, host, kind, target, dependsOn: hp.dependsOn, checks, ...(bootstrap ? { bootstrap } : {}), ...(unlock ? { unlock } : {}), ...(systemPath ? { systemPath } : {}), ...(o.confirmExisting?.has(name) ? { confirmExisting: name } : {}) });
  }
  return { jobs, checkNames };
}

/** The initrd's SSH target (its own port, not --port), or none when its address is unknown (DHCP). */
function initrdTargetOrNone(store: SecretsStore, name: string, t: TargetOptions) {
  const { port: _mainPort, ...conn } = t;
  try {
    return initrdTarget(store.fleet, store.manifest, name, conn);
  } catch {
    return undefined;
  }
}

/** What `hearth deploy --dry-run` prints for one host: every command, in order. */
export function deployPlanText(j: HostJob, o: DeployOptions, store: SecretsStore): string[] {
  const out: string[] = [];
  const ssh = new SshSession(j.target);
  try {
    const via = ssh.argv("").slice(0, -1).map(escapeShellArg).join(" ");
    out.push(`${j.name} (${j.kind}) via ${via} COMMAND`);
    out.push(`  facts:    ${FACTS_SCRIPT}   (read-only; checked before any change${j.kind === "install" ? ", against the rescue system's own key" : ""})`);
    if (!j.systemPath) out.push(`  build:    ${buildArgv(j.name, j.kind, o).map(escapeShellArg).join(" ")}`);
    else out.push(`  system:   ${j.systemPath}   (already built)`);
    if (j.kind === "kexec") {
      out.push(`  copy:     tar -c -h -C <kexec tree> ${KEXEC_FILES.join(" ")} | ssh … ${escapeShellArg(unpackKexecScript)}`);
      out.push(`  kexec:    ${kexecScript}`);
      out.push(`  wait:     until ${j.target.address} answers with the pinned host key and a new boot id`);
    } else if (j.kind === "install") {
      const disk = store.planned.filter((s) => s.uses.some((u) => u.host === j.name && u.delivery === "disk"));
      const remotes = disk.map((s) => s.uses.find((u) => u.host === j.name)!.path);
      const boot = { extraFiles: "<tmpfs>/extra-files", diskKeys: remotes.map((remote) => ({ remote, local: `<tmpfs>/disk-keys/${remote.split("/").pop()}` })) };
      out.push(`  install:  ${installArgv(j.name, j.target, o, boot).map(escapeShellArg).join(" ")}`);
      out.push(`            (<tmpfs>: a fresh directory on a tmpfs holding the decrypted host keys; wiped afterwards)`);
      out.push(`  wait:     until ${j.target.address} answers with the pinned host key (the installed system)`);
    } else {
      out.push(`  copy:     NIX_SSHOPTS=… nix copy --to ssh://${j.target.user}@${j.target.address} <system>`);
      out.push(`  activate: ${activateScript(o, "<system>", "<token>").split("\n").join(" ; ")}`);
      out.push(`  health:   systemd running, no failed units${j.checks.map((c) => `; ${c.name}`).join("")}`);
      for (const line of healthScript(j.checks).split("\n")) out.push(`            ${line}`);
      out.push(`  confirm:  ${confirmScript("<token>")}   (or, on failure: ${rollbackScript(o)})`);
      out.push(`  reboot:   only if ${needsRebootScript(o, "<system>")} prints anything (a new kernel, initrd or modules):`);
      out.push(`            ${bootOnceScript(o, "<system>", "<token>").split("\n").join(" ; ")}`);
      out.push(`            then wait for the host, health-check it, and keep the new entry as default, or boot the previous generation again`);
    }
  } finally {
    ssh.close();
  }
  return out;
}
