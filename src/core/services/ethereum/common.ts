// What all Ethereum clients share: networks, role schemas, default relays, and the
// translation of a process description into options of the static hearth-service module.
import { z } from "zod";
import { absPath, ethNetwork, extraArgs, hostName, port, type EthNetwork } from "../../schema/common.js";
import { nix, type NixValue } from "../../nix/ast.js";
import type { ProcessSpec, ServiceContext } from "../types.js";

export const DEFAULT_JWT_PATH = "/run/agenix/ethereum-jwt";
export const JWT_GROUP = "ethereum-jwt";

/** Flashbots relays per network, as eth-docker and the Flashbots docs list them; override with `relays`. */
export const DEFAULT_RELAYS: Record<EthNetwork, string[]> = {
  mainnet: [
    "https://0xac6e77dfe25ecd6110b8e780608cce0dab71fdd5ebea22a16c0205200f2f8e2e3ad3b71d3499c54ad14d6c21b41a37ae@boost-relay.flashbots.net",
  ],
  holesky: [
    "https://0xafa4c6985aa049fb79dd37010438cfebeb0f2bd42b115b89dd678dab0670c1de38da0c4e9138c9290a398ecd9a0b3110@boost-relay-holesky.flashbots.net",
  ],
  hoodi: [
    "https://0xafa4c6985aa049fb79dd37010438cfebeb0f2bd42b115b89dd678dab0670c1de38da0c4e9138c9290a398ecd9a0b3110@boost-relay-hoodi.flashbots.net",
  ],
  sepolia: [
    "https://0x845bd072b7cd566f02faeb0a4033ce9399e42839ced64e8b2adcfc859ed1e8e1a5a293336a49feac6d9a5edb779be53a@boost-relay-sepolia.flashbots.net",
  ],
};

export const DEFAULT_CHECKPOINT: Record<EthNetwork, string> = {
  mainnet: "https://mainnet.checkpoint.sigp.io",
  holesky: "https://holesky.checkpoint.sigp.io",
  hoodi: "https://hoodi.checkpoint.sigp.io",
  sepolia: "https://sepolia.checkpoint.sigp.io",
};

const network = ethNetwork.optional().describe("Ethereum network; defaults to the fleet's ethereum.network");
const jwt = absPath
  .optional()
  .describe(`JWT secret file shared by the execution and consensus client (default ${DEFAULT_JWT_PATH}, a hearth-managed secret)`);
const bind = z
  .string()
  .optional()
  .describe("Address the client's APIs listen on; defaults to the host's own address (127.0.0.1 when it has none); `mesh` binds to the host's mesh address and opens the ports on the mesh interface only");

/** Fields every execution client accepts; `client` is added by each client file. */
export const executionFields = (defaults: { dataDir: string; p2p: number; authrpc: number; http: number; metrics: number }) => ({
  network,
  dataDir: absPath.default(defaults.dataDir).describe(`Data directory; must lie on one of the host's volumes (default ${defaults.dataDir})`),
  jwtSecretFile: jwt,
  address: bind,
  ports: z
    .strictObject({
      p2p: port(defaults.p2p, "Peer-to-peer port, TCP and UDP, opened in the firewall"),
      authrpc: port(defaults.authrpc, "Engine API port used by the consensus client"),
      http: port(defaults.http, "JSON-RPC HTTP port"),
      metrics: port(defaults.metrics, "Prometheus metrics port"),
    })
    .prefault({})
    .describe("Listening ports"),
  http: z.boolean().default(true).describe("Serve the JSON-RPC HTTP API"),
  metrics: z.boolean().default(true).describe("Serve Prometheus metrics"),
  extraArgs,
});

export const consensusFields = (defaults: { dataDir: string; p2p: number; http: number; metrics: number }) => ({
  network,
  dataDir: absPath.default(defaults.dataDir).describe(`Data directory; must lie on one of the host's volumes (default ${defaults.dataDir})`),
  jwtSecretFile: jwt,
  address: bind,
  executionEndpoint: z
    .string()
    .url()
    .optional()
    .describe("Engine API URL of the execution client; required when the host runs no execution client and no executionHost is set"),
  executionHost: hostName
    .optional()
    .describe("Fleet host whose execution client this beacon node uses: hearth shares that host's JWT secret and derives the engine URL from its address"),
  checkpointSyncUrl: z
    .string()
    .url()
    .optional()
    .describe("Checkpoint sync URL; defaults to a public endpoint of the network"),
  feeRecipient: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, "must be an Ethereum address, 0x and 40 hex digits")
    .optional()
    .describe("Suggested fee recipient address"),
  ports: z
    .strictObject({
      p2p: port(defaults.p2p, "Peer-to-peer port, TCP and UDP, opened in the firewall"),
      http: port(defaults.http, "Beacon REST API port"),
      metrics: port(defaults.metrics, "Prometheus metrics port"),
    })
    .prefault({})
    .describe("Listening ports"),
  metrics: z.boolean().default(true).describe("Serve Prometheus metrics"),
  extraArgs,
});

export const validatorFields = (defaults: { dataDir: string; metrics: number }) => ({
  network,
  dataDir: absPath.default(defaults.dataDir).describe(`Validator data directory (default ${defaults.dataDir})`),
  beaconNodes: z
    .array(z.string().url())
    .optional()
    .describe("Beacon node URLs; defaults to the consensus client on this host"),
  feeRecipient: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, "must be an Ethereum address, 0x and 40 hex digits")
    .describe("Fee recipient address for proposed blocks"),
  graffiti: z.string().max(32).optional().describe("Graffiti written into proposed blocks (at most 32 bytes)"),
  ports: z.strictObject({ metrics: port(defaults.metrics, "Prometheus metrics port") }).prefault({}).describe("Listening ports"),
  extraArgs,
});

export type ExecutionCfg = z.infer<z.ZodObject<ReturnType<typeof executionFields>>> & { client: string };
export type ConsensusCfg = z.infer<z.ZodObject<ReturnType<typeof consensusFields>>> & { client: string };
export type ValidatorCfg = z.infer<z.ZodObject<ReturnType<typeof validatorFields>>> & { client: string };

export const networkOf = (cfg: { network?: EthNetwork }, ctx: ServiceContext): EthNetwork =>
  cfg.network ?? ctx.fleet.ethereum.network;

export const jwtOf = (cfg: { jwtSecretFile?: string }): string => cfg.jwtSecretFile ?? DEFAULT_JWT_PATH;

/** A bind address as configured: `mesh` means the host's mesh address (only the mesh reaches it). */
export const resolveBind = (addr: string | undefined, ctx: ServiceContext, fallback = ctx.localAddress): string =>
  addr === "mesh" ? (ctx.meshAddress ?? fallback) : (addr ?? fallback);

export const addressOf = (cfg: { address?: string }, ctx: ServiceContext): string => resolveBind(cfg.address, ctx);

/** Engine API URL of this host's execution client, or the configured endpoint. */
export function engineUrl(cfg: ConsensusCfg, ctx: ServiceContext): string {
  if (cfg.executionEndpoint) return cfg.executionEndpoint;
  const remote = cfg.executionHost ? ctx.hosts.get(cfg.executionHost) : undefined;
  if (remote) {
    const ex = remote.services.execution;
    const static4 = remote.network.addresses[0]?.split("/")[0];
    const name = ctx.fleet.domain ? `${cfg.executionHost}.${ctx.fleet.domain}` : cfg.executionHost!;
    const addr = ex?.address && !["0.0.0.0", "127.0.0.1", "mesh"].includes(ex.address) ? ex.address : (static4 ?? name);
    return `http://${addr}:${ex?.ports.authrpc ?? 8551}`;
  }
  const ex = ctx.host.services.execution;
  const addr = resolveBind(ex?.address, ctx);
  return `http://${addr}:${ex?.ports.authrpc ?? 8551}`;
}

/** MEV-boost URL when the host runs MEV-boost. */
export function builderUrl(ctx: ServiceContext): string | undefined {
  const mb = ctx.host.services.mevBoost;
  return mb ? `http://${resolveBind(mb.address, ctx, "127.0.0.1")}:${mb.port}` : undefined;
}

export function beaconUrl(ctx: ServiceContext): string {
  const cl = ctx.host.services.consensus;
  return `http://${resolveBind(cl?.address, ctx)}:${cl?.ports.http ?? 5052}`;
}

/** `inputs.ethereum-nix.packages.${pkgs.system}.<attr>` */
export const ethPackage = (attr: string): NixValue =>
  nix.sel(nix.selDyn(nix.sel(nix.v("inputs"), "ethereum-nix", "packages"), nix.sel(nix.v("pkgs"), "stdenv", "hostPlatform", "system")), attr);

/** Options of the static hearth-service module (nix/modules/hearth-service.nix) for one process. */
export function serviceOptions(p: ProcessSpec, opts: { jwt?: boolean } = {}): NixValue {
  return {
    hearth: {
      services: {
        [p.unit]: {
          enable: true,
          description: p.description,
          package: p.package,
          binary: p.binary,
          args: p.args,
          user: p.user,
          dataDirs: p.dataDirs,
          after: p.after,
          supplementaryGroups: opts.jwt ? [JWT_GROUP] : [],
        },
      },
    },
  };
}
