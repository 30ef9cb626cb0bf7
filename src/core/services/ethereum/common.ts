// What all Ethereum clients share: networks, role schemas, default relays, and the
// translation of a process description into options of the static hearth-service module.
import { z } from "zod";
import { absPath, ethNetwork, ethNetworks, extraArgs, hostName, port, type EthNetwork } from "../../schema/common.js";
import relayList from "../../../../data/mev-relays.json" with { type: "json" };
import checkpointList from "../../../../data/checkpoint-sync.json" with { type: "json" };
import { nix, type NixValue } from "../../nix/ast.js";
import type { ProcessSpec, ServiceContext } from "../types.js";
import { scrapedOverMesh } from "../../schema/monitoring.js";

/**
 * Fixed uids (and gids) of the service users. NixOS hands out system uids from 999 down in the
 * order users appear, so on a RAM-only host a new or removed service would give the chain data
 * on the persistent volume another owner at the next boot; these never move. 810–849 is outside
 * nixpkgs' static ids (nixos/modules/misc/ids.nix stops below 400) and below the dynamic range's
 * usual fill.
 */
export const SERVICE_UIDS: Record<string, number> = {
  geth: 810, erigon: 811, besu: 812, nethermind: 813, reth: 814,
  lighthouse: 820, prysm: 821, teku: 822, nimbus: 823, lodestar: 824,
  "lighthouse-validator": 830, "prysm-validator": 831, "teku-validator": 832, "nimbus-validator": 833, "lodestar-validator": 834,
  "mev-boost": 840,
};
export const DEFAULT_JWT_PATH = "/run/agenix/ethereum-jwt";
/** JSON-RPC namespaces hearth serves over WebSocket where the client takes a list: eth (eth_subscribe), net, web3. */
export const WS_API = "eth,net,web3";
export const JWT_GROUP = "ethereum-jwt";

/**
 * MEV-Boost relays per network: every relay of EthStaker's maintained list (data/mev-relays.json
 * names the commit), so a proposal sees the best bid; `relays` overrides it, e.g. to keep only
 * the non-censoring ones (the data file gives each relay's filtering).
 */
export const DEFAULT_RELAYS: Record<EthNetwork, string[]> = Object.fromEntries(
  ethNetworks.map((n) => [n, (relayList.networks as Record<string, { url: string }[]>)[n]?.map((r) => r.url) ?? []]),
) as Record<EthNetwork, string[]>;

/**
 * Checkpoint sync per network from eth-clients/checkpoint-sync-endpoints (data/checkpoint-sync.json):
 * the first endpoint run by a client team over https that the list marks as verified, else the
 * first https one. Base URLs: each client appends the state path itself.
 */
export const DEFAULT_CHECKPOINT: Record<EthNetwork, string> = Object.fromEntries(
  ethNetworks.map((n) => {
    const list = (checkpointList.networks as Record<string, { url: string; operatorKind?: string; verification?: boolean }[]>)[n] ?? [];
    const https = list.filter((e) => e.url.startsWith("https://"));
    const pick = https.find((e) => e.operatorKind === "client-team" && e.verification !== false) ?? https[0];
    return [n, pick?.url ?? ""];
  }),
) as Record<EthNetwork, string>;

const network = ethNetwork.optional().describe("Ethereum network; defaults to the fleet's ethereum.network");
const jwt = absPath
  .optional()
  .describe(`JWT secret file shared by the execution and consensus client (default ${DEFAULT_JWT_PATH}, a hearth-managed secret)`);
const bind = z
  .string()
  .optional()
  .describe("Address the client's APIs listen on; defaults to the host's own address (127.0.0.1 when it has none); `mesh` binds to the host's mesh address and opens the ports on the mesh interface only");

/** Fields every execution client accepts; `client` is added by each client file. */
export const executionFields = (defaults: { dataDir: string; p2p: number; authrpc: number; http: number; metrics: number; ws?: number }) => ({
  network,
  dataDir: absPath.default(defaults.dataDir).describe(`Data directory; must lie on one of the host's volumes (default ${defaults.dataDir})`),
  jwtSecretFile: jwt,
  address: bind,
  ports: z
    .strictObject({
      p2p: port(defaults.p2p, "Peer-to-peer port, TCP and UDP, opened in the firewall"),
      authrpc: port(defaults.authrpc, "Engine API port used by the consensus client"),
      http: port(defaults.http, "JSON-RPC HTTP port"),
      ws: port(defaults.ws ?? 8546, "JSON-RPC WebSocket port, with ws: true"),
      metrics: port(defaults.metrics, "Prometheus metrics port"),
    })
    .prefault({})
    .describe("Listening ports"),
  http: z.boolean().default(true).describe("Serve the JSON-RPC HTTP API"),
  ws: z
    .boolean()
    .default(false)
    .describe("Serve JSON-RPC over WebSocket (eth_subscribe; SSV nodes and other tools need it), on the same address as HTTP and opened where HTTP is"),
  metrics: z.boolean().default(true).describe("Serve Prometheus metrics (on 127.0.0.1, or on the mesh address with `address: mesh`)"),
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
  metrics: z.boolean().default(true).describe("Serve Prometheus metrics (on 127.0.0.1, or on the mesh address with `address: mesh`)"),
  keepPayloads: z
    .boolean()
    .default(false)
    .describe("Keep full execution payloads and history (an archive for block explorers and analytics; several hundred GB more). Off: the client prunes, as it does by default"),
  extraArgs,
});

/** A BLS12-381 public key as the deposit CLI and the keystores print it. */
export const blsPubkey = z
  .string()
  .regex(/^0x[0-9a-f]{96}$/, "must be a validator public key: 0x and 96 lower-case hex digits (as in the keystore's `pubkey`, with 0x)");

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
  keys: z
    .array(blsPubkey)
    .default([])
    .describe("Validator public keys this client signs for; `hearth validator import` adds them with their keystores (age-encrypted to this host)"),
  doppelganger: z
    .boolean()
    .default(true)
    .describe("Doppelganger protection: watch the network for 2-3 epochs after a start and refuse to sign if the keys are already live elsewhere (on by default: a few missed attestations cost far less than a slashing)"),
  address: bind,
  ports: z.strictObject({ metrics: port(defaults.metrics, "Prometheus metrics port") }).prefault({}).describe("Listening ports"),
  metrics: z.boolean().default(true).describe("Serve Prometheus metrics (on 127.0.0.1, or on the mesh address with `address: mesh`)"),
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

/**
 * Metrics listen on loopback, or on the mesh address when the service is bound to the mesh or the
 * fleet's Prometheus scrapes this host (over the mesh): never on a LAN or public address.
 */
export const metricsAddressOf = (cfg: { address?: string }, ctx: ServiceContext): string =>
  (cfg.address === "mesh" || scrapedOverMesh(ctx.fleet, ctx.host)) && ctx.meshAddress ? ctx.meshAddress : "127.0.0.1";

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

/** The beacon nodes a validator uses: the configured ones, or this host's. */
export const beaconUrls = (cfg: { beaconNodes?: string[] }, ctx: ServiceContext): string[] => cfg.beaconNodes ?? [beaconUrl(ctx)];

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
          ...(SERVICE_UIDS[p.user] !== undefined ? { uid: SERVICE_UIDS[p.user]! } : {}),
          ...(p.preStart?.length
            ? { preStart: p.preStart.map((x) => ({ args: x.args, ...(x.binary ? { binary: x.binary } : {}), ...(x.unless ? { unless: x.unless } : {}), ...(x.creates ? { creates: x.creates } : {}), ...(x.removeStale ? { removeStale: x.removeStale } : {}) })) }
            : {}),
        },
      },
    },
  };
}
