// Systems the pinned ethereum.nix (4e6ce0aea380, PINS["ethereum-nix"]) builds each client hearth
// offers for, from its packages/<name>/package.nix `meta.platforms` as listed in
// shared/upstream/ethereum.nix/PACKAGES.txt; test/pins.test.ts checks this table against it.
// A client missing for a host's system is a validation finding, not a build failure.
export const ETH_PLATFORMS: Record<string, readonly string[]> = {
  "besu": ["x86_64-linux"], // packages/besu/package.nix:64:
  "erigon": ["x86_64-linux"], // packages/erigon/package.nix:57:
  "geth": ["aarch64-linux", "x86_64-linux"], // packages/geth/package.nix:86:
  "lighthouse": ["x86_64-linux"], // packages/lighthouse/package.nix:344:
  "lodestar": ["aarch64-linux", "x86_64-linux"], // packages/lodestar/package.nix:38:
  "mev-boost": ["x86_64-linux"], // packages/mev-boost/package.nix:34:
  "nethermind": ["x86_64-linux"], // packages/nethermind/package.nix:58:
  "nimbus": ["aarch64-linux", "x86_64-linux"], // packages/nimbus/package.nix:114:
  "prysm": ["aarch64-linux", "x86_64-linux"], // packages/prysm/package.nix:66:
  "reth": ["aarch64-linux", "x86_64-linux"], // packages/reth/package.nix:97:
  "teku": ["x86_64-linux"], // packages/teku/package.nix:55:
};

/** The systems ethereum.nix builds `attr` for (none when it has no such package). */
export const ethPlatforms = (attr: string): readonly string[] => ETH_PLATFORMS[attr] ?? [];
