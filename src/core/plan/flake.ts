// flake.nix of a fleet: pinned inputs and the host table handed to the static lib/outputs.nix.
import { nix, type NixValue } from "../nix/ast.js";
import type { Fleet } from "../schema/fleet.js";
import { FORMATS, IMAGE_FORMAT_INFO, formatsOf } from "../features/formats.js";
import type { HostPlan } from "./host.js";
import type { ImagePlan } from "./image.js";
import { NIXOS_RELEASE, PINS, type InputName } from "../nix/input-pins.js";

/** Inputs the fleet needs, each pinned in ../nix/input-pins.ts (nixpkgs: fleet.yaml may name another). */
export function flakeInputs(fleet: Fleet, plans: HostPlan[]): Record<string, NixValue> {
  const nixpkgsUrl = fleet.nixpkgs.rev
    ? `github:NixOS/nixpkgs/${fleet.nixpkgs.rev}`
    : fleet.nixpkgs.channel === `nixos-${NIXOS_RELEASE}`
      ? PINS.nixpkgs.url
      : `github:NixOS/nixpkgs/${fleet.nixpkgs.channel}`;
  const input = (name: InputName): NixValue =>
    PINS[name].followsNixpkgs ? { url: PINS[name].url, inputs: { nixpkgs: { follows: "nixpkgs" } } } : { url: PINS[name].url };
  const inputs: Record<string, NixValue> = { nixpkgs: { url: nixpkgsUrl }, agenix: input("agenix") };
  const hosts = plans.map((p) => p.host);
  if (plans.some((p) => p.disko)) inputs["disko"] = input("disko");
  const classes = Object.values(fleet.images);
  if (hosts.some((h) => h.hardware.startsWith("raspberry-pi")) || classes.some((c) => c.hardware.startsWith("raspberry-pi")))
    inputs["nixos-hardware"] = input("nixos-hardware");
  if (hosts.some((h) => h.security.secureBoot)) inputs["lanzaboote"] = input("lanzaboote");
  if (hosts.some((h) => h.services.execution || h.services.consensus || h.services.validator || h.services.mevBoost))
    inputs["ethereum-nix"] = input("ethereum-nix");
  return inputs;
}

export function flakeNix(fleet: Fleet, plans: HostPlan[], images: ImagePlan[] = []): NixValue {
  const used = new Set(plans.flatMap((p) => formatsOf(p.host)));
  const usedByImages = new Set(images.flatMap((i) => i.cls.formats));
  const formatTable = <F extends string>(names: Iterable<F>, info: Record<F, (typeof FORMATS)[keyof typeof FORMATS]>) =>
    Object.fromEntries(
      [...names].sort().map((f) => {
        const i = info[f];
        return [f, { suffix: i.suffix, build: i.build, ...(i.module ? { module: i.module } : {}) }];
      }),
    );
  return {
    description: `hearth fleet ${fleet.name}`,
    inputs: flakeInputs(fleet, plans),
    outputs: nix.lambda(
      "inputs",
      nix.apply(nix.apply(nix.v("import"), nix.path("./lib/outputs.nix")), nix.v("inputs"), {
        hosts: Object.fromEntries(plans.map((p) => [p.name, { system: p.host.system, formats: formatsOf(p.host) }])),
        formats: formatTable(used, FORMATS),
        // Node classes: nixosConfigurations."image-<class>" and packages image-<class>-<suffix>.
        ...(images.length
          ? {
              images: Object.fromEntries(images.map((i) => [i.name, { system: i.cls.system, formats: [...i.cls.formats] }])),
              imageFormats: formatTable(usedByImages, IMAGE_FORMAT_INFO),
            }
          : {}),
      }),
    ),
  };
}
