// Builders that turn a client's few particulars (package, binary, default ports, argv)
// into a full ServiceKind, so each client file holds only what is specific to it.
import { z } from "zod";
import { probeHost, probeUrlHost, type DataDir, type PortSpec, type ProcessSpec, type SecretNeed, type ServiceContext, type ServiceKind } from "../types.js";
import {
  consensusFields,
  executionFields,
  validatorFields,
  ethPackage,
  serviceOptions,
  networkOf,
  addressOf,
  DEFAULT_JWT_PATH,
  JWT_GROUP,
  type ConsensusCfg,
  type ExecutionCfg,
  type ValidatorCfg,
} from "./common.js";
import type { EthNetwork } from "../../schema/common.js";

interface ClientBase<C> {
  id: string;
  /** Attribute of ethereum.nix's `packages.<system>` */
  packageAttr: string;
  binary: string;
  args(cfg: C, ctx: ServiceContext, net: EthNetwork): string[];
}

// The JWT is hearth-managed unless the user points at a file of their own; a beacon node that
// uses another fleet host's execution client reads that host's JWT.
const jwtSecret = (cfg: { jwtSecretFile?: string; executionHost?: string }, ctx: ServiceContext): SecretNeed[] =>
  cfg.jwtSecretFile === undefined || cfg.jwtSecretFile === DEFAULT_JWT_PATH
    ? [
        {
          id: "ethereum-jwt",
          kind: "jwt-hex",
          path: DEFAULT_JWT_PATH,
          owner: "root",
          group: JWT_GROUP,
          mode: "0440",
          ...(cfg.executionHost && !ctx.host.services.execution ? { fromHost: cfg.executionHost } : {}),
        },
      ]
    : [];

function process<C extends { dataDir: string; extraArgs: string[] }>(
  def: ClientBase<C>,
  role: string,
  cfg: C,
  ctx: ServiceContext,
  after: string[],
): ProcessSpec {
  const net = networkOf(cfg as { network?: EthNetwork }, ctx);
  return {
    unit: def.id === def.binary ? def.id : unitName(def.id, role),
    package: ethPackage(def.packageAttr),
    packageLabel: `ethereum-nix#${def.packageAttr}`,
    binary: def.binary,
    args: [...def.args(cfg, ctx, net), ...cfg.extraArgs],
    user: unitName(def.id, role),
    dataDirs: [cfg.dataDir],
    after,
    description: `${def.id} ${role} client (${net})`,
  };
}

// Units are named after the client (`lighthouse`, as seed 001's nix eval path expects);
// validators get a suffix so a host can run a beacon and validator of the same client.
const unitName = (id: string, role: string) => (role === "validator" ? `${id}-validator` : id);

export function executionClient(
  def: ClientBase<ExecutionCfg> & { defaults: Parameters<typeof executionFields>[0] },
): ServiceKind<ExecutionCfg> {
  const schema = z.strictObject({ client: z.literal(def.id), ...executionFields(def.defaults) }) as unknown as z.ZodType<ExecutionCfg>;
  return {
    id: def.id,
    role: "execution",
    schema,
    ports: (c): PortSpec[] => [
      { name: "p2p", port: c.ports.p2p, protocol: "tcp", expose: "public", field: ["ports", "p2p"] },
      { name: "p2p", port: c.ports.p2p, protocol: "udp", expose: "public", field: ["ports", "p2p"] },
      { name: "authrpc", port: c.ports.authrpc, protocol: "tcp", expose: "local", field: ["ports", "authrpc"] },
      ...(c.http ? [{ name: "http", port: c.ports.http, protocol: "tcp", expose: "local", field: ["ports", "http"] } as PortSpec] : []),
      ...(c.metrics ? [{ name: "metrics", port: c.ports.metrics, protocol: "tcp", expose: "local", field: ["ports", "metrics"] } as PortSpec] : []),
    ],
    dataDirs: (c): DataDir[] => [{ path: c.dataDir, field: ["dataDir"] }],
    secrets: jwtSecret,
    processes: (c, ctx) => [process(def, "execution", c, ctx, [])],
    // The Engine API answers as soon as the client runs, synced or not.
    health: (c, ctx) => [{ name: `${def.id} engine API`, kind: "tcp", host: probeHost(addressOf(c, ctx)), port: c.ports.authrpc }],
    nixos: (c, ctx) => serviceOptions(process(def, "execution", c, ctx, []), { jwt: true }),
  };
}

export function consensusClient(
  def: ClientBase<ConsensusCfg> & { defaults: Parameters<typeof consensusFields>[0]; extraPorts?: (c: ConsensusCfg) => PortSpec[] },
): ServiceKind<ConsensusCfg> {
  const schema = z.strictObject({ client: z.literal(def.id), ...consensusFields(def.defaults) }) as unknown as z.ZodType<ConsensusCfg>;
  const after = (ctx: ServiceContext) => {
    const ex = ctx.host.services.execution;
    return ex ? [`${ex.client}.service`] : [];
  };
  return {
    id: def.id,
    role: "consensus",
    schema,
    ports: (c): PortSpec[] => [
      { name: "p2p", port: c.ports.p2p, protocol: "tcp", expose: "public", field: ["ports", "p2p"] },
      { name: "p2p", port: c.ports.p2p, protocol: "udp", expose: "public", field: ["ports", "p2p"] },
      ...(def.extraPorts?.(c) ?? []),
      { name: "http", port: c.ports.http, protocol: "tcp", expose: "local", field: ["ports", "http"] },
      ...(c.metrics ? [{ name: "metrics", port: c.ports.metrics, protocol: "tcp", expose: "local", field: ["ports", "metrics"] } as PortSpec] : []),
    ],
    dataDirs: (c): DataDir[] => [{ path: c.dataDir, field: ["dataDir"] }],
    secrets: jwtSecret,
    processes: (c, ctx) => [process(def, "consensus", c, ctx, after(ctx))],
    // The standard beacon API health: 200 ready, 206 syncing (normal after an update), 503 broken.
    health: (c, ctx) => [
      { name: `${def.id} beacon API`, kind: "http", url: `http://${probeUrlHost(addressOf(c, ctx))}:${c.ports.http}/eth/v1/node/health`, okStatus: [200, 206] },
    ],
    nixos: (c, ctx) => serviceOptions(process(def, "consensus", c, ctx, after(ctx)), { jwt: true }),
  };
}

export function validatorClient(
  def: ClientBase<ValidatorCfg> & { defaults: Parameters<typeof validatorFields>[0] },
): ServiceKind<ValidatorCfg> {
  const schema = z.strictObject({ client: z.literal(def.id), ...validatorFields(def.defaults) }) as unknown as z.ZodType<ValidatorCfg>;
  const after = (ctx: ServiceContext) => {
    const cl = ctx.host.services.consensus;
    return cl ? [`${cl.client}.service`] : [];
  };
  return {
    id: def.id,
    role: "validator",
    schema,
    ports: (c): PortSpec[] => [
      { name: "metrics", port: c.ports.metrics, protocol: "tcp", expose: "local", field: ["ports", "metrics"] },
    ],
    dataDirs: (c): DataDir[] => [{ path: c.dataDir, field: ["dataDir"] }],
    secrets: () => [],
    processes: (c, ctx) => [process(def, "validator", c, ctx, after(ctx))],
    nixos: (c, ctx) => serviceOptions(process(def, "validator", c, ctx, after(ctx))),
  };
}

