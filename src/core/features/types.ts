// The interface host-level features share (hardware, storage, unlock, Secure Boot, formats):
// the same shape as a service kind, minus the configuration block of its own.
import type { NixValue } from "../nix/ast.js";
import type { HealthCheck, SecretNeed, PortSpec } from "../services/types.js";
import type { Fleet, Host } from "../schema/fleet.js";
import type { MeshPlan } from "../mesh/plan.js";

export interface HostContext {
  fleet: Fleet;
  host: Host;
  hostName: string;
  /** The fleet's mesh plan, when the fleet has a mesh and the NixOS config is being built. */
  mesh?: MeshPlan;
}

/** Per-host generated files: the configuration module and its companions. */
export interface HostModules {
  /** hosts/<name>/default.nix body (NixOS options) */
  config: NixValue[];
  /** Entries of the host module's `imports` list. */
  imports: NixValue[];
  /** hosts/<name>/disko.nix body (disko.devices ...) */
  disko: NixValue[];
  /** hosts/<name>/hardware.nix body */
  hardware: NixValue[];
}

export interface Feature {
  id: string;
  applies(ctx: HostContext): boolean;
  contribute(ctx: HostContext, out: HostModules): void;
  secrets?(ctx: HostContext): SecretNeed[];
  ports?(ctx: HostContext): PortSpec[];
  health?(ctx: HostContext): HealthCheck[];
}
