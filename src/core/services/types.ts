// The one interface every service kind implements: adding a client is adding a file.
import type { z } from "zod";
import type { NixValue } from "../nix/ast.js";
import type { Fleet, Host } from "../schema/fleet.js";
import type { Delivery, SecretKind } from "../secrets/kinds.js";

export type Role =
  | "execution"
  | "consensus"
  | "validator"
  | "mevBoost"
  | "headscale"
  | "tailscale"
  | "k3s"
  | "reverseProxy";

/** A listening socket a service opens; `expose` decides the firewall opening. */
export interface PortSpec {
  name: string;
  port: number;
  protocol: "tcp" | "udp";
  /**
   * public: opened in the firewall; mesh: opened on the mesh interface only; lan: opened on the
   * host's primary interface (network.interface) only; local: not opened.
   */
  expose: "public" | "mesh" | "lan" | "local";
  /** YAML path (under the service) of the field that sets this port, for error messages. */
  field: (string | number)[];
}

/** A secret a host needs; src/core/secrets plans, and hearth's executor creates and encrypts, them. */
export interface SecretNeed {
  /** Stable id, e.g. `ethereum-jwt`; also the agenix attribute and the file name under /run/agenix. */
  id: string;
  kind: SecretKind;
  /** Absolute path the running system (or the install step) reads it from. */
  path: string;
  owner?: string;
  group?: string;
  /** Octal mode of the decrypted file (agenix default 0400). */
  mode?: string;
  /** One value for the whole fleet (e.g. the k3s token), encrypted to every host that needs it. */
  shared?: boolean;
  /** Use this other host's secret of the same id (a beacon node sharing a remote execution client's JWT). */
  fromHost?: string;
  /**
   * The secret's key in the store when it belongs to neither a host nor the fleet: a validator's
   * keystore is `validators/0x…/keystore` wherever it runs, so moving it re-encrypts, never re-imports.
   */
  key?: string;
  /** How the value reaches its reader (default: the kind's). */
  delivery?: Delivery;
}

export interface DataDir {
  path: string;
  /** YAML path (under the service) of the field that set it. */
  field: (string | number)[];
}

/** What a service sees while it is planned: its host, the fleet, and the other services on the host. */
export interface ServiceContext {
  fleet: Fleet;
  host: Host;
  hostName: string;
  /** All hosts by name, for services that point at another host (k3s server, headscale). */
  hosts: ReadonlyMap<string, Host>;
  /** The address other local services use to reach this host's APIs. */
  localAddress: string;
  /** The host's address in the fleet's mesh, when it is a member (for `address: mesh`). */
  meshAddress?: string;
}

/** A systemd-level description of a long-running process, used by `hearth eval` and the hearth-service module. */
export interface ProcessSpec {
  unit: string;
  package: NixValue;
  /** Human-readable form of the package for `hearth eval` output, e.g. `ethereum-nix#lighthouse`. */
  packageLabel: string;
  binary: string;
  args: string[];
  user: string;
  dataDirs: string[];
  after: string[];
  description: string;
  /** Steps before every start (e.g. a Prysm wallet made once), each skipped when `unless` exists. */
  preStart?: PreStartStep[];
}

/**
 * One command before a service starts: `test -e unless || { binary args && touch creates; }`;
 * or, with `removeStale`, `rm -f` of files named `<name>` one level below `<dir>` that only a crashed run of
 * this same unit can have left (systemd runs one instance of a unit at a time).
 */
export interface PreStartStep {
  removeStale?: { dir: string; name: string };
  /** Binary of the service's package (default: the service's own). */
  binary?: string;
  args: string[];
  /** Skip the step when this path exists (it ran before). */
  unless?: string;
  /** Create this (empty) file after the step succeeded, so `unless` skips it next time. */
  creates?: string;
}

/**
 * A check that a deployed service really works, run on the host itself after an update (so
 * services bound to localhost count). Any failing check rolls the update back.
 */
export type HealthCheck =
  | { name: string; kind: "unit"; unit: string }
  | { name: string; kind: "http"; url: string; okStatus: number[] }
  | { name: string; kind: "tcp"; host: string; port: number }
  /** At least one peer completes a handshake once pinged over the mesh. */
  | { name: string; kind: "wireguard"; interface: string; peers: string[] }
  | { name: string; kind: "tailscale" };

/** Where a check on the host itself reaches a socket bound to `bind` (0.0.0.0 is reached on loopback). */
export const probeHost = (bind: string): string => (bind === "0.0.0.0" || bind === "" ? "127.0.0.1" : bind === "::" ? "::1" : bind);
/** The same, as the host part of a URL (IPv6 in brackets). */
export const probeUrlHost = (bind: string): string => {
  const h = probeHost(bind);
  return h.includes(":") ? `[${h}]` : h;
};

export interface ServiceKind<C = any> {
  /** Value of the discriminator field (`client` or `kind`), e.g. `lighthouse`. */
  id: string;
  role: Role;
  /** Zod schema of this kind's configuration block; `client`/`kind` literal included. */
  schema: z.ZodType<C>;
  ports(cfg: C, ctx: ServiceContext): PortSpec[];
  dataDirs(cfg: C, ctx: ServiceContext): DataDir[];
  secrets(cfg: C, ctx: ServiceContext): SecretNeed[];
  /** NixOS configuration fragment for the host (merged with the other fragments). */
  nixos(cfg: C, ctx: ServiceContext): NixValue;
  /** Processes this service runs, for `hearth eval`. */
  processes?(cfg: C, ctx: ServiceContext): ProcessSpec[];
  /** Hosts this service must be deployed after (e.g. tailscale clients after the headscale server). */
  dependsOn?(cfg: C, ctx: ServiceContext): string[];
  /** How `hearth deploy` sees that the service works (its units are checked from `processes`). */
  health?(cfg: C, ctx: ServiceContext): HealthCheck[];
  /** The Prometheus endpoint the service serves while its metrics are on; the fleet's Prometheus scrapes it. */
  metrics?(cfg: C, ctx: ServiceContext): MetricsEndpoint | undefined;
}

/** Where a service serves Prometheus metrics: its port (on metricsAddressOf) and HTTP path. */
export interface MetricsEndpoint {
  port: number;
  path: string;
}
