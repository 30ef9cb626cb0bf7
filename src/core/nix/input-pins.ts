// The one place where hearth pins the flake inputs a fleet gets, with the release and date of
// each. `hearth generate` writes these URLs; `nix flake lock` in the generated flake records
// their hashes. The same revisions are in shared/upstream (PROVENANCE.md), where the tests
// evaluate every example host against them.
export interface Pin {
  url: string;
  /** Release or commit this is, and its date. */
  release: string;
  date: string;
  /** Follows the fleet's nixpkgs (false: the input keeps its own). */
  followsNixpkgs: boolean;
}

/** NixOS stable release a fleet gets unless fleet.yaml names another channel or commit. */
export const NIXOS_RELEASE = "26.05";

export const PINS = {
  // The 26.05 stable branch; its lib at branch-off (20dd424ff28f, 2026-05-21) is what the tests evaluate with.
  nixpkgs: { url: `github:NixOS/nixpkgs/nixos-${NIXOS_RELEASE}`, release: `nixos-${NIXOS_RELEASE}`, date: "2026-05-21", followsNixpkgs: false },
  disko: { url: "github:nix-community/disko/v1.13.0", release: "v1.13.0 (de5708739256)", date: "2026-01-20", followsNixpkgs: true },
  agenix: { url: "github:ryantm/agenix/0.15.0", release: "0.15.0 (564595d0ad4b), the newest tag", date: "2023-12-20", followsNixpkgs: true },
  lanzaboote: { url: "github:nix-community/lanzaboote/v1.1.0", release: "v1.1.0 (7c9a54a7f87b)", date: "2026-06-22", followsNixpkgs: true },
  "nixos-hardware": { url: "github:NixOS/nixos-hardware/0471accf8d0a8210b31d947497d179ecc99e0021", release: "master at 0471accf8d0a (no tags)", date: "2026-08-19", followsNixpkgs: true },
  // ethereum.nix tracks nixpkgs-unstable and builds its clients with newer toolchains, so it keeps its own nixpkgs.
  "ethereum-nix": { url: "github:nix-community/ethereum.nix/4e6ce0aea3801d830244672349e0f2a90ec4c5c2", release: "main at 4e6ce0aea380 (no tags)", date: "2026-08-22", followsNixpkgs: false },
} as const satisfies Record<string, Pin>;

export type InputName = keyof typeof PINS;
