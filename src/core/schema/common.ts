// Small schema pieces shared by the fleet, host and service schemas.
import { z } from "zod";

export const port = (def: number, what: string) =>
  z.number().int().min(1).max(65535).default(def).describe(`${what} (default ${def})`);

export const absPath = z
  .string()
  .regex(/^\/[^\0]*$/, "must be an absolute path starting with /")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");

export const ipv4 = z.string().regex(
  /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/,
  "must be an IPv4 address such as 192.168.1.10",
);
export const ipv4Cidr = z.string().regex(
  /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([12]?\d|3[0-2])$/,
  "must be an IPv4 address with prefix length, such as 192.168.1.10/24",
);

export const sshPublicKey = z
  .string()
  .regex(
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/,
    "must be an OpenSSH public key line such as 'ssh-ed25519 AAAA... user@host'",
  );

/** The rule host names follow everywhere: schema, file names, `hearth host add`, `hearth set`. */
export const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const isHostName = (s: string): boolean => HOST_NAME.test(s);

export const hostName = z
  .string()
  .regex(HOST_NAME, "must be a DNS label: lower-case letters, digits and '-', at most 63 characters");

/**
 * A Linux network interface name as the kernel accepts it (1-15 bytes, not '.' or '..', no
 * '/', ':' or whitespace), further kept to printable ASCII without quotes or backslash: the
 * name goes into the kernel's `ip=` parameter (':'-separated) and into Nix attribute names.
 */
export const interfaceName = z
  .string()
  .regex(
    // Printable ASCII (0x21-0x7e) except " ' / : \ ; a regex, so the JSON Schema carries it too.
    /^(?!\.\.?$)[!#-&(-.0-9;-[\]-~]{1,15}$/,
    "must be a Linux interface name such as eth0, enp3s0 or end0: 1-15 characters, no '/', ':', quotes or whitespace (`ip link` lists them)",
  );

/**
 * A .nix file inside the fleet directory, as a relative path: no '..', '.' or empty segments,
 * not absolute, so the file (and its copy under the flake's extra/) stays inside.
 */
export const fleetRelativeNix = z
  .string()
  .regex(/^[A-Za-z0-9._/-]+\.nix$/, "must be a relative path to a .nix file inside the fleet directory")
  .refine(
    (p) => !p.startsWith("/") && p.split("/").every((s) => s !== "" && s !== "." && s !== ".."),
    "must be a relative path inside the fleet directory, without '..', '.' or '//', e.g. extra/tweaks.nix",
  );

export const extraArgs = z
  .array(z.string())
  .default([])
  .describe("Extra command-line arguments appended to the client's command line");

// Holesky was shut down in 2025 and the pinned clients dropped it (Besu 26.8.0 refuses
// --network=holesky, Nethermind 1.39 ships no holesky config, Lodestar 1.40 has no holesky:
// data/client-flags/REPORT-*.md); hoodi replaced it for staking tests.
export const ethNetworks = ["mainnet", "hoodi", "sepolia"] as const;
export const ethNetwork = z.enum(ethNetworks, {
  error: (iss) => (iss.input === "holesky" ? "holesky was shut down in 2025 and the pinned clients no longer run it; use hoodi (the staking testnet that replaced it)" : undefined),
});
export type EthNetwork = z.infer<typeof ethNetwork>;

/** Byte size as disko writes it: 512M, 1G, 100%. */
export const size = z.string().regex(/^(\d+(\.\d+)?[KMGT]?|100%|\d{1,2}%)$/, "must be a size such as 512M, 8G or 100%");
