// Every service kind hearth knows, by role. The host schema and the planner read this list.
import type { Role, ServiceKind } from "./types.js";
import geth from "./ethereum/geth.js";
import erigon from "./ethereum/erigon.js";
import besu from "./ethereum/besu.js";
import nethermind from "./ethereum/nethermind.js";
import reth from "./ethereum/reth.js";
import * as lighthouse from "./ethereum/lighthouse.js";
import * as prysm from "./ethereum/prysm.js";
import * as teku from "./ethereum/teku.js";
import * as nimbus from "./ethereum/nimbus.js";
import * as lodestar from "./ethereum/lodestar.js";
import mevBoost from "./ethereum/mev-boost.js";
import headscale from "./headscale.js";
import tailscale from "./tailscale.js";
import k3s from "./k3s.js";
import { caddy, nginx } from "./reverse-proxy.js";

export const EXECUTION_CLIENTS = [geth, erigon, besu, nethermind, reth] as const;
export const CONSENSUS_CLIENTS = [lighthouse.beacon, prysm.beacon, teku.beacon, nimbus.beacon, lodestar.beacon] as const;
export const VALIDATOR_CLIENTS = [lighthouse.validator, prysm.validator, teku.validator, nimbus.validator, lodestar.validator] as const;
export const REVERSE_PROXIES = [caddy, nginx] as const;

/** Roles with several interchangeable kinds are chosen by this field. */
export const DISCRIMINATOR: Partial<Record<Role, "client" | "kind">> = {
  execution: "client",
  consensus: "client",
  validator: "client",
  reverseProxy: "kind",
};

export const KINDS_BY_ROLE: Record<Role, readonly ServiceKind[]> = {
  execution: EXECUTION_CLIENTS,
  consensus: CONSENSUS_CLIENTS,
  validator: VALIDATOR_CLIENTS,
  mevBoost: [mevBoost],
  headscale: [headscale],
  tailscale: [tailscale],
  k3s: [k3s],
  reverseProxy: REVERSE_PROXIES,
};

export const ROLES = Object.keys(KINDS_BY_ROLE) as Role[];

/** The kind that handles a role's configuration block. */
export function kindFor(role: Role, cfg: Record<string, unknown>): ServiceKind {
  const kinds = KINDS_BY_ROLE[role];
  const field = DISCRIMINATOR[role];
  const kind = field ? kinds.find((k) => k.id === cfg[field]) : kinds[0];
  if (!kind) throw new Error(`internal: no ${role} kind for ${JSON.stringify(cfg)}`);
  return kind;
}
