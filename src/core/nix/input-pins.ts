// Pinned flake inputs (tags or commits), as researched in docs/research/flake-inputs.md.
// `nix flake lock` in the generated flake records their hashes.
const pins = {
  "disko": "github:nix-community/disko/v1.11.0",
  "lanzaboote": "github:nix-community/lanzaboote/v0.4.2",
  "agenix": "github:ryantm/agenix/0.15.0",
  "sops-nix": "github:Mic92/sops-nix/6ade8292ba534cd4d596df59304f5eb0213dec45",
  "nixos-hardware": "github:NixOS/nixos-hardware/003318603fdc3b712a80a5f77292ff2c2b7007d6",
  "ethereum-nix": "github:nix-community/ethereum.nix/00894ee8c83de1299776aa2b7257de47ddaa1d0a",
  "nixpkgs": "github:NixOS/nixpkgs/50ab793786d9de88ee30ec4e4c24fb4236fc2674"
} as const;
export default pins;
