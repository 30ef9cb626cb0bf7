// The fleet description schema: the single source of truth for validation, defaults,
// the JSON Schema export (`hearth schema`) and, later, the web UI's forms.
import { NIXOS_RELEASE } from "../nix/input-pins.js";
import { z } from "zod";
import { parseRecipient } from "../secrets/recipients.js";
import { fleetMesh, hostMesh } from "./mesh.js";
import { alerts, monitoring } from "./monitoring.js";
import { storage, volume } from "./storage.js";
import { absPath, ethNetwork, fleetRelativeNix, hostName, interfaceName, ipv4, ipv4Cidr, sshPublicKey } from "./common.js";
import { kernel, network } from "./network.js";
import { DISCRIMINATOR, KINDS_BY_ROLE, ROLES } from "../services/registry.js";
import type { Role } from "../services/types.js";

export const SYSTEMS = ["x86_64-linux", "aarch64-linux"] as const;
export const HARDWARE = ["generic-x86-uefi", "hetzner-dedicated", "hetzner-cloud", "raspberry-pi-4", "raspberry-pi-5", "qemu-vm"] as const;
export const BOOT_FORMATS = ["kexec", "iso", "sd-image", "disk"] as const;
/** Boot media of a node class's image (fleet.yaml `images:`); see ../features/formats.ts. */
export const IMAGE_FORMATS = ["kexec", "netboot", "iso", "disk"] as const;

const security = z
  .strictObject({
    unlock: z
      .strictObject({
        method: z.enum(["passphrase", "tpm2"]).default("passphrase").describe("How encrypted volumes are unlocked at boot"),
        tpm2Pcrs: z.array(z.number().int().min(0).max(23)).default([1, 7]).describe("PCRs the TPM2 key is bound to (default 1+7)"),
        recoveryKey: z.boolean().default(true).describe("Enrol a recovery key alongside TPM2"),
      })
      .prefault({})
      .describe("Unlocking encrypted storage"),
    secureBoot: z.boolean().default(false).describe("UEFI Secure Boot with Lanzaboote (signed UKIs)"),
    remoteUnlock: z
      .strictObject({
        enable: z.boolean().default(true).describe("Run an SSH server in the initrd to enter the passphrase remotely"),
        port: z.number().int().min(1).max(65535).default(2222).describe("initrd SSH port (default 2222)"),
        authorizedKeys: z.array(sshPublicKey).optional().describe("Keys allowed in; defaults to the fleet admins' keys"),
        networkModule: z.string().optional().describe("Kernel module of the NIC needed in the initrd (e.g. genet on a Pi, igb, r8169)"),
        ip: z
          .union([
            z.literal("dhcp"),
            z.strictObject({
              address: ipv4Cidr.describe("Static address with prefix length"),
              gateway: ipv4.describe("Default gateway"),
              interface: interfaceName.default("eth0").describe("Interface name in the initrd"),
            }),
          ])
          .default("dhcp")
          .describe("initrd network: 'dhcp' or a static address"),
      })
      .optional()
      .describe("Remote unlock over SSH in the initrd (seed 003)"),
  })
  .prefault({})
  .describe("Disk unlock, Secure Boot and remote unlock");

const user = z.strictObject({
  sshKeys: z.array(sshPublicKey).default([]).describe("Authorized SSH keys (login is key-only)"),
  sudo: z.boolean().default(true).describe("Member of wheel, may use sudo"),
});

function servicesSchema() {
  const shape: Record<string, z.ZodType> = {};
  const describe: Record<Role, string> = {
    execution: "Ethereum execution client (geth, erigon, besu, nethermind, reth)",
    consensus: "Ethereum consensus client / beacon node (lighthouse, prysm, teku, nimbus, lodestar)",
    validator: "Ethereum validator client (lighthouse, prysm, teku, nimbus, lodestar)",
    mevBoost: "MEV-boost with a relay list per network",
    headscale: "Headscale coordination server",
    tailscale: "Tailscale client",
    k3s: "k3s Kubernetes server or agent",
    reverseProxy: "Caddy or nginx reverse proxy with ACME",
  };
  for (const role of ROLES) {
    const kinds = KINDS_BY_ROLE[role];
    const field = DISCRIMINATOR[role];
    const s = field
      ? z.discriminatedUnion(field, kinds.map((k) => k.schema) as unknown as [z.ZodObject, ...z.ZodObject[]])
      : kinds[0]!.schema;
    shape[role] = s.optional().describe(describe[role]);
  }
  return z.strictObject(shape).prefault({}).describe("Services on this host, one block per role");
}

export const hostSchema = z
  .strictObject({
    name: hostName.optional().describe("Host name; defaults to the file name and must match it"),
    system: z.enum(SYSTEMS).default("x86_64-linux").describe("Nix system of the host"),
    hardware: z.enum(HARDWARE).default("generic-x86-uefi").describe("Hardware profile"),
    description: z.string().optional().describe("Free text shown in listings"),
    tags: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/)).default([]).describe("Tags for grouping and mesh topology"),
    ephemeral: z
      .boolean()
      .default(false)
      .describe("RAM-only system: the OS lives in memory, state only on mounted volumes (seeds 000, 001, 004)"),
    image: hostName
      .optional()
      .describe("Node class (a name under images: in fleet.yaml) whose image this host boots: the identical image learns at boot from the host's identity drive that it is this host, then pulls this configuration (seed 004)"),
    boot: z
      .strictObject({
        formats: z.array(z.enum(BOOT_FORMATS)).min(1).optional().describe("Boot media to build; default kexec for ephemeral hosts, disk otherwise"),
      })
      .prefault({})
      .describe("Boot media"),
    sshHostKey: sshPublicKey
      .refine((k) => k.startsWith("ssh-ed25519 "), "must be an ssh-ed25519 key")
      .optional()
      .describe("Public SSH host key of a machine whose key hearth did not generate (ssh-keyscan -t ed25519 HOST); hearth then generates none"),
    stateVersion: z.string().regex(/^\d\d\.\d\d$/).default(NIXOS_RELEASE).describe(`NixOS stateVersion of the first install (default ${NIXOS_RELEASE}, the pinned release)`),
    storage,
    security,
    network,
    kernel,
    users: z.record(z.string().regex(/^[a-z_][a-z0-9_-]*$/), user).default({}).describe("Login users by name; root has no password"),
    mesh: hostMesh,
    services: servicesSchema(),
    extraModules: z
      .array(fleetRelativeNix)
      .default([])
      .describe("Escape hatch: extra NixOS module files (relative to the fleet directory) imported into this host"),
  })
  .describe("One host of the fleet");

// X25519 (`age1…`) or an age plugin recipient (`age1yubikey1…`: a key on a hardware token, which
// hearth encrypts to through the plugin binary). `params.hint` becomes the finding's hint.
const ageRecipient = z.string().superRefine((s, ctx) => {
  const r = parseRecipient(s);
  if (!r.ok) ctx.addIssue({ code: "custom", message: r.reason, params: { hint: r.hint ?? "use the line age-keygen -y (or hearth secrets keygen) prints" } });
  else if (r.recipient.type === "ssh-ed25519") ctx.addIssue({ code: "custom", message: "must be an age1… recipient", params: { hint: "put SSH keys under sshKeys" } });
});

const customSecret = z.strictObject({
  description: z.string().optional().describe("What the secret is for"),
  hosts: z.array(hostName).min(1).describe("Hosts that decrypt it at activation"),
  owner: z.string().regex(/^[a-z_][a-z0-9_-]*$/).default("root").describe("Owner of the decrypted file"),
  group: z.string().regex(/^[a-z_][a-z0-9_-]*$/).default("root").describe("Group of the decrypted file"),
  mode: z.string().regex(/^0?[0-7]{3}$/, "must be an octal mode such as 0400").default("0400").describe("Mode of the decrypted file"),
  path: absPath.optional().describe("Where the host reads it (default /run/agenix/NAME)"),
});

/**
 * A minisign public key as `minisign -G` prints it on the second line of minisign.pub: base64 of
 * "Ed" | key id (8 bytes) | Ed25519 key (32 bytes), so 56 characters starting with RW.
 */
export const minisignPublicKey = z
  .string()
  .regex(/^RW[A-Za-z0-9+/]{54}$/, "must be a minisign public key: the base64 line starting with RW (the second line of minisign.pub), as `hearth signing init` writes it");

/** How often an agent asks for a new configuration: 30s, 5m, 1h. */
export const interval = z.string().regex(/^[1-9][0-9]*(s|m|h)$/, "must be a duration such as 30s, 5m or 1h");

/** Seconds in an `interval` (validated) string. */
export const intervalSeconds = (s: string): number => Number(s.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[s.slice(-1) as "s" | "m" | "h"];

const imageFormat = z.enum(IMAGE_FORMATS, {
  error: (iss) =>
    iss.input === "sd-image"
      ? "an SD card image is made per Raspberry Pi host (boot.formats of the host); a class image boots by kexec, netboot, ISO or the A/B disk"
      : undefined,
});

const imageClass = z.strictObject({
  system: z.enum(SYSTEMS).default("x86_64-linux").describe("Nix system of the image; every host of the class must have the same"),
  hardware: z.enum(HARDWARE).default("generic-x86-uefi").describe("Hardware profile of the image; every host of the class must have the same"),
  formats: z
    .array(imageFormat)
    .min(1)
    .default(["kexec"])
    .describe("Boot media of the image: kexec (kexec tree, also served to iPXE), netboot (the iPXE files only), iso, disk (A/B disk image: ESP 'hearth-boot' and sides 'hearth-a'/'hearth-b', systemd-boot with boot counting)"),
  server: z
    .string()
    .regex(/^https?:\/\/[A-Za-z0-9.\-\[\]:]+(\/[^\s]*)?$/, "must be an http(s) URL such as https://hearth.lab.example.org or http://10.100.0.1:7420")
    .describe("Where the nodes' agents pull their configuration from: hearth's server, by name or by a mesh address"),
  checkInterval: interval.default("5m").describe("How often the agent asks the server for a new configuration (default 5m)"),
});

export const fleetSchema = z
  .strictObject({
    name: hostName.describe("Fleet name"),
    domain: z.string().regex(/^[a-z0-9.-]+$/).optional().describe("DNS domain of the fleet"),
    nixpkgs: z
      .strictObject({
        channel: z.string().regex(/^[A-Za-z0-9._-]+$/).default(`nixos-${NIXOS_RELEASE}`).describe(`nixpkgs branch (default nixos-${NIXOS_RELEASE}, hearth's pinned release)`),
        rev: z.string().regex(/^[0-9a-f]{40}$/, "must be a 40-digit commit hash").optional().describe("Pinned nixpkgs commit; without it the flake follows the branch and `nix flake lock` records the commit"),
      })
      .prefault({})
      .describe("nixpkgs source"),
    timeZone: z.string().regex(/^[A-Za-z0-9_+\/-]+$/).default("UTC").describe("Default time zone"),
    locale: z.string().default("en_US.UTF-8").describe("Default locale"),
    admins: z
      .record(
        z.string().regex(/^[a-z_][a-z0-9_-]*$/),
        z.strictObject({
          sshKeys: z.array(sshPublicKey).default([]).describe("SSH public keys for root logins (ssh-ed25519 keys are also secret recipients)"),
          ageKeys: z.array(ageRecipient).default([]).describe("age recipients that can decrypt every secret: age1… (from `hearth secrets keygen` or age-keygen) or a plugin recipient such as age1yubikey1… (a key on a hardware token; encrypting to it needs age-plugin-yubikey on PATH)"),
        })
        .refine((a) => a.sshKeys.length + a.ageKeys.length > 0, "an admin needs at least one key: sshKeys (to log in) or ageKeys (to read secrets)"),
      )
      .default({})
      .describe("Fleet administrators: login to every host, recipients of every secret"),
    ethereum: z
      .strictObject({ network: ethNetwork.default("mainnet").describe("Default Ethereum network") })
      .prefault({})
      .describe("Ethereum defaults"),
    mesh: fleetMesh.optional(),
    secrets: z
      .strictObject({
        backend: z.enum(["agenix"]).default("agenix").describe("Secret backend used by generated hosts"),
        custom: z
          .record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "secret names: lower-case letters, digits, '.', '_' and '-'"), customSecret)
          .default({})
          .describe("Your own secrets (API keys, passwords); values are set with `hearth secrets set NAME`, never in these files"),
      })
      .prefault({})
      .describe("Secret management"),
    signing: z
      .strictObject({
        publicKeys: z
          .array(minisignPublicKey)
          .default([])
          .refine((keys) => new Set(keys).size === keys.length, "a key is listed twice")
          .describe("minisign public keys (the base64 line, RW…), written by `hearth signing init`; nodes booted from a class image trust only these"),
      })
      .optional()
      .describe("Keys that sign what nodes pull (seed 004's minisign key)"),
    monitoring: monitoring.optional(),
    alerts: alerts.optional(),
    images: z
      .record(hostName, imageClass)
      .default({})
      .describe("Node classes: one image per class, identical on every machine, that learns which host it is from an identity drive at boot and pulls that host's configuration (seed 004); hosts name their class with image:"),
  })
  .describe("Fleet-wide settings (fleet.yaml)");

export type HostInput = z.input<typeof hostSchema>;
export type Host = z.infer<typeof hostSchema> & { services: Services };
export type FleetSettings = z.infer<typeof fleetSchema>;
export type Volume = z.infer<typeof volume>;
export { volume };
export type ImageClass = z.infer<typeof imageClass>;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

import type { ExecutionCfg, ConsensusCfg, ValidatorCfg } from "../services/ethereum/common.js";
import type { MevBoostCfg } from "../services/ethereum/mev-boost.js";
import type { HeadscaleCfg } from "../services/headscale.js";
import type { TailscaleCfg } from "../services/tailscale.js";
import type { K3sCfg } from "../services/k3s.js";
export interface Services {
  execution?: ExecutionCfg;
  consensus?: ConsensusCfg;
  validator?: ValidatorCfg;
  mevBoost?: MevBoostCfg;
  headscale?: HeadscaleCfg;
  tailscale?: TailscaleCfg;
  k3s?: K3sCfg;
  reverseProxy?: { kind: "caddy" | "nginx"; acmeEmail: string; sites: Record<string, { upstream: string; websockets: boolean }> };
}

/** A loaded fleet: settings plus hosts by name (in file-name order). */
export interface Fleet extends FleetSettings {
  hosts: Map<string, Host>;
}
