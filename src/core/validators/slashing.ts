// Slashing protection across a move (EIP-3076): how each validator client exports and imports
// its history, and what hearth accepts as an interchange file. Pure: the move executor
// (src/node/validators/move.ts) runs these command lines on the hosts.
//
// The commands, from each client's source at the pinned version (data/client-flags/REPORT-*.md):
//   lighthouse  lighthouse account validator slashing-protection export FILE --datadir D --network N [--pubkeys a,b]
//               (account_manager/src/validator/slashing_protection.rs; the VC's DB is D/validators/slashing_protection.sqlite)
//   lodestar    lodestar validator slashing-protection export --file F --dataDir D --network N --beaconNodes URL
//               (cmds/validator/slashingProtection/{export,import,options}.js; run with the VC stopped)
//   teku        teku slashing-protection export --data-path D --to F / import --from F
//               (teku/.../subcommand/slashingprotection/{Export,Import}Command.java)
//   prysm       validator slashing-protection-history export --datadir D --slashing-protection-export-dir DIR
//               / import --slashing-protection-json-file F (cmd/validator/slashing-protection/slashing-protection.go)
//   nimbus      nimbus_beacon_node slashingdb export FILE --data-dir=D / import FILE
//               (nimbus_beacon_node.nim; acts on <data-dir>/validators/slashing_protection.sqlite3, the VC's DB)

export interface Command {
  binary: string;
  args: string[];
  /** Where the export lands when the client picks the name itself (Prysm writes into a directory). */
  output?: string;
}

export interface ClientCommands {
  exportCmd(o: { dataDir: string; network: string; file: string; pubkeys: string[]; beaconNodes: string[] }): Command;
  importCmd(o: { dataDir: string; network: string; file: string; beaconNodes: string[] }): Command;
}

export const SLASHING: Record<string, ClientCommands> = {
  lighthouse: {
    exportCmd: (o) => ({ binary: "lighthouse", args: ["account", "validator", "slashing-protection", "export", o.file, "--datadir", o.dataDir, "--network", o.network, "--pubkeys", o.pubkeys.join(",")] }),
    importCmd: (o) => ({ binary: "lighthouse", args: ["account", "validator", "slashing-protection", "import", o.file, "--datadir", o.dataDir, "--network", o.network] }),
  },
  lodestar: {
    // Every key's history: 1.5.1 has no --pubkeys (1.40 does); hearth keeps the moved keys' part.
    exportCmd: (o) => ({ binary: "lodestar", args: ["validator", "slashing-protection", "export", "--network", o.network, "--dataDir", o.dataDir, "--beaconNodes", o.beaconNodes.join(","), "--file", o.file] }),
    importCmd: (o) => ({ binary: "lodestar", args: ["validator", "slashing-protection", "import", "--network", o.network, "--dataDir", o.dataDir, "--beaconNodes", o.beaconNodes.join(","), "--file", o.file] }),
  },
  teku: {
    exportCmd: (o) => ({ binary: "teku", args: ["slashing-protection", "export", `--data-path=${o.dataDir}`, `--to=${o.file}`] }),
    importCmd: (o) => ({ binary: "teku", args: ["slashing-protection", "import", `--data-path=${o.dataDir}`, `--from=${o.file}`] }),
  },
  prysm: {
    exportCmd: (o) => {
      const dir = o.file.replace(/\/[^/]*$/, "");
      return { binary: "validator", args: ["slashing-protection-history", "export", "--datadir", o.dataDir, "--slashing-protection-export-dir", dir, "--accept-terms-of-use"], output: `${dir}/slashing_protection.json` };
    },
    importCmd: (o) => ({ binary: "validator", args: ["slashing-protection-history", "import", "--datadir", o.dataDir, "--slashing-protection-json-file", o.file, "--accept-terms-of-use"] }),
  },
  nimbus: {
    exportCmd: (o) => ({ binary: "nimbus_beacon_node", args: ["slashingdb", "export", o.file, `--data-dir=${o.dataDir}`, ...o.pubkeys.map((p) => `--validator=${p}`)] }),
    importCmd: (o) => ({ binary: "nimbus_beacon_node", args: ["slashingdb", "import", o.file, `--data-dir=${o.dataDir}`] }),
  },
};

export interface Interchange {
  metadata: { interchange_format_version: "5"; genesis_validators_root: string };
  data: { pubkey: string; signed_blocks: { slot: string; signing_root?: string }[]; signed_attestations: { source_epoch: string; target_epoch: string; signing_root?: string }[] }[];
}

export class InterchangeError extends Error {}

const uint = (x: unknown, what: string): bigint => {
  if (typeof x !== "string" || !/^\d+$/.test(x)) throw new InterchangeError(`${what} is not a decimal string`);
  return BigInt(x);
};

/**
 * An export reduced to the moved keys: EIP-3076 version 5 checked, entries of other keys (and
 * Lodestar's extra non-validator entries, whose pubkey is not 98 characters) dropped, and every
 * moved key required unless it has never signed anything (`fresh`).
 */
export function interchangeFor(text: string, pubkeys: string[], fresh: Set<string> = new Set()): Interchange {
  let j: any;
  try {
    j = JSON.parse(text);
  } catch {
    throw new InterchangeError("the export is not JSON");
  }
  // Version 5 is EIP-3076's final format; Lodestar 1.5.1 still exports the draft's version 4
  // "complete" format, whose data has the same shape (and every client hearth runs imports both).
  const version = j?.metadata?.interchange_format_version;
  if (version !== "5" && !(version === "4" && j?.metadata?.interchange_format === "complete"))
    throw new InterchangeError(`interchange_format_version ${JSON.stringify(version)} is not "5" (EIP-3076), nor the draft's "4" complete format`);
  const root = j.metadata.genesis_validators_root;
  if (typeof root !== "string" || !/^0x[0-9a-f]{64}$/i.test(root)) throw new InterchangeError("genesis_validators_root is missing or not 32 bytes of hex");
  if (!Array.isArray(j.data)) throw new InterchangeError("data is not a list");
  const wanted = new Set(pubkeys.map((p) => p.toLowerCase()));
  const data: Interchange["data"] = [];
  for (const e of j.data) {
    const pk = String(e?.pubkey ?? "").toLowerCase();
    if (pk.length !== 98 || !wanted.has(pk)) continue;
    const blocks = Array.isArray(e.signed_blocks) ? e.signed_blocks : [];
    const atts = Array.isArray(e.signed_attestations) ? e.signed_attestations : [];
    for (const b of blocks) uint(b.slot, `${pk.slice(0, 12)}… block slot`);
    for (const a of atts) {
      if (uint(a.source_epoch, "source_epoch") > uint(a.target_epoch, "target_epoch")) throw new InterchangeError(`${pk.slice(0, 12)}…: an attestation's source is after its target`);
    }
    data.push({ pubkey: pk, signed_blocks: blocks, signed_attestations: atts });
  }
  const missing = [...wanted].filter((pk) => !data.some((d) => d.pubkey === pk) && !fresh.has(pk));
  if (missing.length) throw new InterchangeError(`the export has no history for ${missing.map((p) => p.slice(0, 14) + "…").join(", ")}: the old client may not be the one that signed; nothing was moved`);
  return { metadata: { interchange_format_version: "5", genesis_validators_root: root.toLowerCase() }, data };
}

/** The highest attestation target and block slot each key has signed, per an interchange. */
export function highWater(i: Interchange): Map<string, { target: bigint; slot: bigint }> {
  const out = new Map<string, { target: bigint; slot: bigint }>();
  for (const d of i.data) {
    const prev = out.get(d.pubkey) ?? { target: -1n, slot: -1n };
    for (const a of d.signed_attestations) prev.target = BigInt(a.target_epoch) > prev.target ? BigInt(a.target_epoch) : prev.target;
    for (const b of d.signed_blocks) prev.slot = BigInt(b.slot) > prev.slot ? BigInt(b.slot) : prev.slot;
    out.set(d.pubkey, prev);
  }
  return out;
}

/**
 * After the import: the new client's own export must protect at least up to what the old one
 * had signed (its high-water marks are at or above the old ones), or the move is not safe.
 */
export function coverageProblems(before: Interchange, after: Interchange): string[] {
  const want = highWater(before);
  const have = highWater(after);
  const problems: string[] = [];
  if (before.metadata.genesis_validators_root !== after.metadata.genesis_validators_root)
    problems.push(`the new client is on another chain (genesis_validators_root ${after.metadata.genesis_validators_root.slice(0, 12)}… ≠ ${before.metadata.genesis_validators_root.slice(0, 12)}…)`);
  for (const [pk, w] of want) {
    const h = have.get(pk);
    if (!h) problems.push(`${pk.slice(0, 14)}…: the new client has no history for it`);
    else if (h.target < w.target || h.slot < w.slot) problems.push(`${pk.slice(0, 14)}…: the new client protects up to epoch ${h.target}/slot ${h.slot}, the old one signed up to epoch ${w.target}/slot ${w.slot}`);
  }
  return problems;
}
