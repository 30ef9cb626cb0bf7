// Systems ethereum.nix builds each client for (its package meta.platforms at the pinned commit,
// see docs/research/flake-inputs.md). Clients not listed are assumed to build everywhere.
export const ETH_PLATFORMS: Record<string, readonly string[]> = {
  erigon: ["x86_64-linux"],
  teku: ["x86_64-linux"],
  nethermind: ["x86_64-linux"],
  besu: ["x86_64-linux"],
  geth: ["x86_64-linux", "aarch64-linux"],
  reth: ["x86_64-linux", "aarch64-linux"],
  prysm: ["x86_64-linux", "aarch64-linux"],
  nimbus: ["x86_64-linux", "aarch64-linux"],
  lodestar: ["x86_64-linux", "aarch64-linux"],
};
