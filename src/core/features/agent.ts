// The pull agent of node classes (issue 14, seed 004): its settings, shared by the class image and
// by every host that boots it, and the paths it reads and writes. One feature for the hosts; the
// image itself is planned in ../plan/image.ts with the same settings.
import { base64 } from "@scure/base";
import type { Feature } from "./types.js";
import type { NixValue } from "../nix/ast.js";
import { intervalSeconds, type Fleet } from "../schema/fleet.js";

/**
 * The agent's file and path contract. nix/modules/hearth-agent.nix writes the first three; the
 * agent (src/agent, built to dist/agent/hearth-agent.mjs) reads them, mounts the identity drive by
 * its filesystem label, and installs the host's SSH host key from it at `sshHostKey` (tmpfs: the
 * key never touches a disk of the node other than the identity drive).
 */
export const AGENT = {
  /** JSON: { server, class, identityLabel, stateDir, intervalSeconds, trustedKeysDir }. */
  configPath: "/etc/hearth/agent.json",
  /** One minisign public key file per trusted key: `<KEYID>.pub` ("untrusted comment: …\nRW…\n"). */
  trustedKeysDir: "/etc/hearth/signing.d",
  stateDir: "/var/lib/hearth-agent",
  /** Filesystem label of the identity drive (FAT labels are at most 11 characters). */
  identityLabel: "HEARTH-ID",
  /** Where the agent puts what it read from the identity drive (0700, root). */
  identityDir: "/run/hearth/identity",
  /** The host's SSH host key (its agenix identity too), installed by the agent from the identity drive. */
  sshHostKey: "/run/hearth/identity/ssh_host_ed25519_key",
  /** The agent script's place in the generated flake (the module's default `hearth.agent.script`). */
  script: "agent/hearth-agent.mjs",
} as const;

/**
 * minisign's key id as it prints it ("minisign public key 30AAE1685842E56"): bytes 2..10 of the key
 * as a little-endian 64-bit number, upper-case hex without leading zeros (minisign 0.11
 * src/minisign.c write_pk_file, `%" PRIX64`). Same as ../signing/minisign.ts keyIdHex, which this
 * module does not import so the planner does not load the curve code.
 */
export function minisignKeyId(line: string): string {
  const raw = base64.decode(line);
  return [...raw.slice(2, 10)].reduceRight((n, b) => (n << 8n) | BigInt(b), 0n).toString(16).toUpperCase();
}

/** A minisign public key file (minisign.pub) for one base64 key line. */
export const minisignPublicKeyFile = (line: string): string => `untrusted comment: minisign public key ${minisignKeyId(line)}\n${line}\n`;

/**
 * `hearth.agent` of nix/modules/hearth-agent.nix for a class: identical for the class image and for
 * each of its hosts, so a node switched to its own configuration keeps pulling as before.
 * @example agentSettings(fleet, "k3s-node") // { enable: true, server: "https://…", class: "k3s-node", … }
 */
export function agentSettings(fleet: Fleet, className: string): NixValue {
  const cls = fleet.images[className]!;
  const keys = fleet.signing?.publicKeys ?? [];
  return {
    enable: true,
    server: cls.server,
    class: className,
    identityLabel: AGENT.identityLabel,
    intervalSeconds: intervalSeconds(cls.checkInterval),
    trustedKeys: Object.fromEntries(keys.map((k) => [minisignKeyId(k), minisignPublicKeyFile(k)])),
  };
}

/** Hosts of a class: the agent keeps running in the configuration published to them. */
export const agent: Feature = {
  id: "agent",
  applies: ({ fleet, host }) => host.image !== undefined && fleet.images[host.image] !== undefined,
  contribute: ({ fleet, host }, out) => {
    out.config.push({ hearth: { agent: agentSettings(fleet, host.image!) } });
  },
};
