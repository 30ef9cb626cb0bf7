// `hearth deploy`: what happens to each host, by kind, as a pure plan of named phases; and the
// order of many hosts (dependencies first: the Headscale server before its clients).
//   kexec   (ephemeral host): build the kexec tree, copy it, kexec into it, wait for the host to
//           come back presenting its hearth-generated host key.
//   install (first time): nixos-anywhere with the host key, initrd key and disk keys.
//   update  (running NixOS): build, copy the closure, activate with a watchdog that rolls back
//           by itself unless confirmed, health-check over a new connection, confirm or roll back.
import type { Host } from "../schema/fleet.js";
import { formatsOf } from "../features/formats.js";
import { DEFAULT_POLICY, planWaves, type RolloutPolicy } from "../pull/rollout.js";

export type DeployKind = "kexec" | "install" | "update";

/** One step of a deploy, as `hearth deploy --json` prints it and the server stores and shows it. */
export interface DeployEvent {
  host: string;
  phase: string;
  status: "start" | "ok" | "fail" | "info";
  message: string;
  at: string;
  /** Bytes sent so far (and in all), for long transfers. */
  progress?: { done: number; total?: number };
}
export const DEPLOY_PHASES = ["build", "copy", "kexec", "wait", "install", "activate", "reboot", "health"] as const;
export type DeployPhase = (typeof DEPLOY_PHASES)[number];

export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";
export const BOOTED_SYSTEM = "/run/booted-system";
export const KEXEC_DIR = "/root/hearth-kexec";

export interface DeployOptions {
  flakeDir: string;
  /** The system profile on the target (NixOS: /nix/var/nix/profiles/system). */
  profile: string;
  /** Seconds the watchdog waits for hearth's confirmation before rolling back on its own. */
  confirmTimeout: number;
  /** The system the host booted (NixOS: /run/booted-system); its kernel decides if a reboot is needed. */
  bootedSystem?: string;
}

export function checkDeployable(name: string, host: Host, kind: DeployKind): string | undefined {
  if (kind === "kexec" && !formatsOf(host).includes("kexec")) return `${name} is ephemeral but does not build the kexec format: add kexec to boot.formats`;
  return undefined;
}

/** The local command that builds what a host deploys; its JSON output names the store path. */
export function buildArgv(name: string, kind: DeployKind, o: DeployOptions): string[] {
  const attr = kind === "kexec" ? `${name}-kexec` : `nixosConfigurations.${name}.config.system.build.toplevel`;
  return ["nix", "build", `path:${o.flakeDir}#${attr}`, "--no-link", "--json", "--extra-experimental-features", "nix-command flakes"];
}

/**
 * Activation with a watchdog (deploy-rs's "magic rollback"): the switch runs, and unless hearth
 * touches the confirmation file within the timeout, the host rolls back to the previous
 * generation by itself. So a new generation that cuts the host off the network undoes itself.
 */
export function activateScript(o: DeployOptions, systemPath: string, token: string, previous: number | string = "<previous>"): string {
  const p = o.profile;
  const confirm = `/run/hearth-confirm-${token}`;
  const rollback = rollbackScript(o, previous);
  return [
    "set -e",
    `nix-env -p '${p}' --set '${systemPath}'`,
    `echo "generation=$(readlink '${p}')"`,
    // The watchdog also removes the confirmation, so none pile up in /run.
    `(setsid sh -c "sleep ${o.confirmTimeout}; if [ -e '${confirm}' ]; then rm -f '${confirm}'; else ${rollback.replace(/"/g, '\\"')}; fi" </dev/null >/dev/null 2>&1 &)`,
    `'${systemPath}'/bin/switch-to-configuration switch`,
  ].join("\n");
}

/** Confirm only if the new generation is still the active one (the watchdog may have been faster). */
export const confirmScript = (token: string, o?: DeployOptions, expected?: string) =>
  o && expected ? `[ "$(readlink '${o.profile}')" = '${expected}' ] && touch /run/hearth-confirm-${token}` : `touch /run/hearth-confirm-${token}`;
/**
 * Back to exactly the generation that ran before (not `--rollback`, which means "the number
 * below", and after an earlier failed update that is the failed one).
 */
export const rollbackScript = (o: DeployOptions, previous: number | string = "<previous>") =>
  `nix-env -p '${o.profile}' --switch-generation ${previous} && '${o.profile}'/bin/switch-to-configuration switch`;

/** The generation number in `readlink <profile>` output (`system-42-link`). */
export const generationOf = (link: string): number | undefined => {
  const m = /-(\d+)-link$/.exec(link.trim());
  return m ? Number(m[1]) : undefined;
};
export const currentGenerationScript = (o: DeployOptions) => `readlink '${o.profile}'`;

export interface InstallTarget {
  user: string;
  address: string;
  port: number;
  identityFile?: string;
  jump?: string;
}

/**
 * First installation: nixos-anywhere (kexec into its installer, disko with hearth's disk keys,
 * install, reboot) with the host keys as extra files. Only paths on the command line: the keys
 * sit in a tmpfs directory that is wiped afterwards.
 */
export function installArgv(name: string, t: InstallTarget, o: DeployOptions, boot: { extraFiles: string; diskKeys: { remote: string; local: string }[] }): string[] {
  return [
    "nixos-anywhere",
    "--flake", `path:${o.flakeDir}#${name}`,
    "--extra-files", boot.extraFiles,
    ...boot.diskKeys.flatMap((k) => ["--disk-encryption-keys", k.remote, k.local]),
    "--ssh-port", String(t.port),
    ...(t.identityFile ? ["-i", t.identityFile] : []),
    ...(t.jump ? ["--ssh-option", `ProxyJump=${t.jump}`] : []),
    "--target-host", `${t.user}@${t.address}`,
  ];
}

/**
 * Does the new system need a reboot? The same test NixOS itself uses: its kernel, initrd or
 * kernel modules differ from the booted system's. Prints `reboot=<what>` lines, or nothing.
 */
export const needsRebootScript = (o: DeployOptions, systemPath: string) => {
  const booted = o.bootedSystem ?? BOOTED_SYSTEM;
  return `[ -e '${booted}' ] || exit 0; for f in kernel initrd kernel-modules; do [ "$(readlink -f '${booted}'/$f)" = "$(readlink -f '${systemPath}'/$f)" ] || echo "reboot=$f"; done`;
};

/** `bootctl list` id of a generation's entry (systemd-boot: nixos-generation-N.conf; lanzaboote: nixos-generation-N-<hash>.efi). */
const entryOf = (gen: string) => `$(bootctl list --json=short 2>/dev/null | grep -o '"id":"nixos-generation-'${gen}'[.-][^"]*"' | head -n 1 | cut -d '"' -f 4)`;

/**
 * Boot the new generation once: it becomes the profile's newest generation and gets its boot
 * entry, but the previous generation stays the default and the new one is only the one-shot
 * entry. If it does not come up, the next boot (a power cycle, the hardware watchdog) is the old
 * one. `/run/hearth-boot-<token>` tells hearth the host really rebooted (/run is emptied at boot).
 */
export function bootOnceScript(o: DeployOptions, systemPath: string, token: string, previous: number | string = "<previous>"): string {
  const p = o.profile;
  return [
    "set -e",
    // Only systemd-boot (and lanzaboote, which uses it) has one-shot entries; refuse before any change.
    "bootctl is-installed >/dev/null 2>&1 || { echo 'oneshot=unsupported'; exit 3; }",
    `nix-env -p '${p}' --set '${systemPath}'`,
    `gen=$(readlink '${p}' | grep -o '[0-9]*-link$' | cut -d - -f 1)`,
    `'${systemPath}'/bin/switch-to-configuration boot`,
    `new=${entryOf("$gen")}; old=${entryOf(String(previous))}`,
    `if [ -z "$new" ] || [ -z "$old" ]; then nix-env -p '${p}' --switch-generation ${previous}; '${p}'/bin/switch-to-configuration boot; echo 'oneshot=no-entries'; exit 3; fi`,
    `bootctl set-default "$old"`,
    `bootctl set-oneshot "$new"`,
    `echo "generation=$(readlink '${p}')"; echo "entry=$new"; echo "fallback=$old"`,
    `touch /run/hearth-boot-${token}`,
    `(setsid sh -c 'sleep 1; systemctl reboot' </dev/null >/dev/null 2>&1 &)`,
  ].join("\n");
}

/** After the reboot: gone marker = rebooted; then which system came up. */
export const afterRebootScript = (o: DeployOptions, token: string) =>
  `[ ! -e /run/hearth-boot-${token} ] && readlink -f '${o.bootedSystem ?? BOOTED_SYSTEM}'`;

/** Healthy on the new generation: make it the default entry. */
export const keepBootedScript = (entry: string) => `bootctl set-default '${entry}'`;

/** Back to the previous generation for good: profile, boot entries, default entry. */
export const bootPreviousScript = (o: DeployOptions, previous: number | string, fallbackEntry: string) =>
  `nix-env -p '${o.profile}' --switch-generation ${previous} && '${o.profile}'/bin/switch-to-configuration boot && bootctl set-default '${fallbackEntry}'`;

/**
 * The files of the kexec tree that kexec-boot loads: nixpkgs' kexecScript
 * (nixos/modules/installer/netboot/netboot.nix) runs `kexec --load ${SCRIPT_DIR}/bzImage
 * --initrd=${SCRIPT_DIR}/initrd.gz`. The tree's `initrd` and netboot.ipxe are for iPXE only,
 * and sending them too would double the bytes and the RAM the target needs.
 */
export const KEXEC_FILES = ["kexec-boot", "bzImage", "initrd.gz"] as const;

/** After starting kexec-boot: if it has already exited (kexec refused), print its log. */
export const kexecFailedScript = `sleep 3; if ! pgrep -f '[k]exec-boot' >/dev/null; then cat ${KEXEC_DIR}/kexec.log; fi`;

/** kexec: unpack the tree, then start kexec-boot detached so the SSH session can end first. */
export const unpackKexecScript = `rm -rf ${KEXEC_DIR} && mkdir -p ${KEXEC_DIR} && tar -x -C ${KEXEC_DIR}`;
export const kexecScript = `cd ${KEXEC_DIR} && (setsid ./kexec-boot </dev/null >${KEXEC_DIR}/kexec.log 2>&1 &) && echo started`;

/**
 * Waves of hosts: each host after the hosts it depends on (that are deployed in this run).
 * A cycle is reported rather than deadlocking.
 */
export function deployOrder(names: string[], dependsOn: (name: string) => string[]): { waves: string[][]; cycle?: string[] } {
  const todo = new Set(names);
  const waves: string[][] = [];
  while (todo.size) {
    const wave = [...todo].filter((n) => dependsOn(n).every((d) => !todo.has(d))).sort();
    if (wave.length === 0) return { waves, cycle: [...todo].sort() };
    for (const n of wave) todo.delete(n);
    waves.push(wave);
  }
  return { waves };
}

/**
 * Push deploys roll out like pull nodes (core/pull/rollout.ts, the same policy): dependencies
 * first, then the canary, then batches. Hosts keep dependency order across batches, so a
 * Headscale server lands in an earlier batch than its clients.
 */
export function planDeployBatches(names: string[], dependsOn: (name: string) => string[], policy: Pick<RolloutPolicy, "canary" | "batchSize">): string[][] {
  const { waves, cycle } = deployOrder(names, dependsOn);
  const order = [...waves.flat(), ...(cycle ?? [])];
  return planWaves(order, { ...DEFAULT_POLICY, ...policy });
}

/** After a batch: go on, or pause with the reason (any canary failure; `pauseAtFailures` in a later batch). */
export function batchVerdict(batch: number, outcomes: string[], policy: Pick<RolloutPolicy, "canary" | "pauseAtFailures">): { pause: false } | { pause: true; reason: string } {
  const failed = outcomes.filter((o) => o === "failed" || o === "rolled back").length;
  if (batch === 0 && policy.canary > 0 && failed > 0) return { pause: true, reason: `the canary failed (${failed} of ${outcomes.length})` };
  if (failed >= Math.max(1, policy.pauseAtFailures)) return { pause: true, reason: `${failed} of ${outcomes.length} hosts in batch ${batch + 1} failed (pause at ${policy.pauseAtFailures})` };
  return { pause: false };
}
