// Builders that turn a client's few particulars (package, binary, default ports, argv)
// into a full ServiceKind, so each client file holds only what is specific to it.
import { z } from "zod";
import { probeHost, probeUrlHost, type DataDir, type MetricsEndpoint, type PortSpec, type PreStartStep, type ProcessSpec, type SecretNeed, type ServiceContext, type ServiceKind } from "../types.js";
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
  /** Steps before every start (a wallet made once, checkpoint sync into an empty database). */
  preStart?(cfg: C, ctx: ServiceContext, net: EthNetwork): PreStartStep[];
  /** HTTP path of the client's Prometheus endpoint (default /metrics). */
  metricsPath?: string;
}

const metricsOf = (def: { metricsPath?: string }) => (c: { metrics: boolean; ports: { metrics: number } }): MetricsEndpoint | undefined =>
  c.metrics ? { port: c.ports.metrics, path: def.metricsPath ?? "/metrics" } : undefined;

/**
 * Where a validator client reads each key without a prompt: the keystore and its password file
 * for a public key (0x…), as the client's own import would lay them out, and the directories it
 * writes in (lock files, definitions), which belong to the service user.
 */
export interface KeyLayout {
  keystore(dataDir: string, pubkey: string): string;
  password(dataDir: string, pubkey: string): string;
  dirs(dataDir: string, pubkeys: string[]): string[];
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
  extraDirs: string[] = [],
): ProcessSpec {
  const net = networkOf(cfg as { network?: EthNetwork }, ctx);
  const preStart = def.preStart?.(cfg, ctx, net) ?? [];
  return {
    // Beacon node and validator of one client on one host are two units (`lighthouse`,
    // `lighthouse-validator`), whatever their binary is called.
    unit: unitName(def.id, role),
    package: ethPackage(def.packageAttr),
    packageLabel: `ethereum-nix#${def.packageAttr}`,
    binary: def.binary,
    args: [...def.args(cfg, ctx, net), ...cfg.extraArgs],
    user: unitName(def.id, role),
    dataDirs: [cfg.dataDir, ...extraDirs],
    after,
    description: `${def.id} ${role} client (${net})`,
    ...(preStart.length ? { preStart } : {}),
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
      // The WebSocket endpoint binds where HTTP does, so it is opened where HTTP is.
      ...(c.ws ? [{ name: "ws", port: c.ports.ws, protocol: "tcp", expose: "local", field: ["ports", "ws"] } as PortSpec] : []),
      ...(c.metrics ? [{ name: "metrics", port: c.ports.metrics, protocol: "tcp", expose: "local", field: ["ports", "metrics"] } as PortSpec] : []),
    ],
    dataDirs: (c): DataDir[] => [{ path: c.dataDir, field: ["dataDir"] }],
    metrics: metricsOf(def),
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
    metrics: metricsOf(def),
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
  def: ClientBase<ValidatorCfg> & { defaults: Parameters<typeof validatorFields>[0]; keys: KeyLayout; secrets?: (c: ValidatorCfg) => SecretNeed[] },
): ServiceKind<ValidatorCfg> {
  const schema = z.strictObject({ client: z.literal(def.id), ...validatorFields(def.defaults) }) as unknown as z.ZodType<ValidatorCfg>;
  const after = (ctx: ServiceContext) => {
    const cl = ctx.host.services.consensus;
    return cl ? [`${cl.client}.service`] : [];
  };
  const user = unitName(def.id, "validator");
  const keyDirs = (c: ValidatorCfg) => (c.keys.length ? def.keys.dirs(c.dataDir, c.keys) : []);
  return {
    id: def.id,
    role: "validator",
    schema,
    ports: (c): PortSpec[] => (c.metrics ? [{ name: "metrics", port: c.ports.metrics, protocol: "tcp", expose: "local", field: ["ports", "metrics"] }] : []),
    dataDirs: (c): DataDir[] => [{ path: c.dataDir, field: ["dataDir"] }],
    metrics: metricsOf(def),
    // Each key's keystore and password, age-encrypted in the fleet under validators/0x…, land
    // (as agenix symlinks into /run/agenix, so never in clear on disk) where the client reads them.
    secrets: (c) => [
      ...(def.secrets?.(c) ?? []),
      ...c.keys.flatMap((pk): SecretNeed[] => [
        { id: `validator-${pk}-keystore`, key: `validators/${pk}/keystore`, kind: "validator-keystore", path: def.keys.keystore(c.dataDir, pk), owner: user, group: user, mode: "0400" },
        { id: `validator-${pk}-password`, key: `validators/${pk}/password`, kind: "validator-password", path: def.keys.password(c.dataDir, pk), owner: user, group: user, mode: "0400" },
      ]),
    ],
    processes: (c, ctx) => [process(def, "validator", c, ctx, after(ctx), keyDirs(c))],
    nixos: (c, ctx) => serviceOptions(process(def, "validator", c, ctx, after(ctx), keyDirs(c))),
  };
}

/** The key directories of the common `<dir>/0x…/<file>` layouts, plus the secrets directory. */
export const perKeyDirs = (keysDir: string, secretsDir: string, pubkeys: string[]) => [keysDir, ...pubkeys.map((pk) => `${keysDir}/${pk}`), secretsDir];
