// The command-line flags each Ethereum client really has, at the version hearth pins (the
// ethereum.nix package), from the client's own source: data/client-flags/<client>.json names the
// repository, tag and files each list was read from. A command line hearth makes, or a user's
// extraArgs, is read here the way the client reads it, so a misspelt flag, a missing value or a
// flag given twice is found before a node fails to start.
import besu from "../../../../data/client-flags/besu.json" with { type: "json" };
import erigon from "../../../../data/client-flags/erigon.json" with { type: "json" };
import geth from "../../../../data/client-flags/geth.json" with { type: "json" };
import lighthouse from "../../../../data/client-flags/lighthouse.json" with { type: "json" };
import lodestar from "../../../../data/client-flags/lodestar.json" with { type: "json" };
import mevBoost from "../../../../data/client-flags/mev-boost.json" with { type: "json" };
import nethermind from "../../../../data/client-flags/nethermind.json" with { type: "json" };
import nimbus from "../../../../data/client-flags/nimbus.json" with { type: "json" };
import prysm from "../../../../data/client-flags/prysm.json" with { type: "json" };
import reth from "../../../../data/client-flags/reth.json" with { type: "json" };
import teku from "../../../../data/client-flags/teku.json" with { type: "json" };

export interface FlagInfo {
  /** required: the flag takes a value; none: a switch; optional: `--x` or `--x=v` (picocli booleans). */
  value: "required" | "none" | "optional";
  values?: string[];
  aliases?: string[];
  multiple?: boolean;
  hidden?: boolean;
  deprecated?: boolean;
}

export interface ClientFlags {
  client: string;
  version: string;
  source: { repo: string; tag?: string; commit?: string | null; files?: string[]; method?: string };
  commands: Record<string, { flags: Record<string, FlagInfo> }>;
  flagPatterns?: { pattern: string; value: FlagInfo["value"] }[];
}

export const CLIENT_FLAGS: Record<string, ClientFlags> = Object.fromEntries(
  [besu, erigon, geth, lighthouse, lodestar, mevBoost, nethermind, nimbus, prysm, reth, teku].map((d) => [d.client, d as unknown as ClientFlags]),
);

/** How each client's parser reads a command line (the notes of its data file say where from). */
interface Syntax {
  /** Go's flag packages: `-x` is `--x`; a bool takes `--x=false`, never `--x false`. */
  go?: boolean;
  /** confutils (Nimbus): a value must be attached, `--x=v`; names compare ignoring case and `_`. */
  attached?: boolean;
}
const SYNTAX: Record<string, Syntax> = {
  geth: { go: true },
  erigon: { go: true },
  prysm: { go: true },
  "mev-boost": { go: true },
  nimbus: { attached: true },
};

export interface ParsedFlag {
  /** Index of the flag's token in argv. */
  index: number;
  token: string;
  /** The flag's name as the data file lists it (aliases resolved). */
  name: string;
  value?: string;
}

export interface FlagProblem {
  index: number;
  token: string;
  kind: "unknown" | "missing-value" | "bad-value" | "repeated" | "detached-value";
  message: string;
  /** A known flag close to an unknown one. */
  suggestion?: string;
}

export interface ParsedArgs {
  command: string;
  flags: ParsedFlag[];
  problems: FlagProblem[];
}

interface Index {
  byName: Map<string, { name: string; info: FlagInfo }>;
  patterns: { prefix: string; info: FlagInfo }[];
  names: string[];
}
const indexes = new Map<string, Index>();
const norm = (s: Syntax, name: string) => (s.attached ? name.toLowerCase().replace(/_/g, "") : name);

function indexOf(client: string, command: string): Index {
  const key = `${client}\0${command}`;
  let ix = indexes.get(key);
  if (ix) return ix;
  const data = CLIENT_FLAGS[client]!;
  const syntax = SYNTAX[client] ?? {};
  const byName = new Map<string, { name: string; info: FlagInfo }>();
  for (const [name, info] of Object.entries(data.commands[command]?.flags ?? {}))
    for (const n of [name, ...(info.aliases ?? [])]) byName.set(norm(syntax, n), { name, info });
  const patterns = (data.flagPatterns ?? []).map((p) => ({ prefix: p.pattern.replace(/<[^>]*>$/, ""), info: { value: p.value } as FlagInfo }));
  ix = { byName, patterns, names: Object.keys(data.commands[command]?.flags ?? {}).filter((n) => !data.commands[command]!.flags[n]!.hidden) };
  indexes.set(key, ix);
  return ix;
}

/** The command a binary and its leading words select: `lighthouse bn` → "bn", `validator` (Prysm) → "validator". */
export function commandOf(client: string, binary: string, argv: string[]): { command: string; words: number } | undefined {
  const data = CLIENT_FLAGS[client];
  if (!data) return undefined;
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith("-")) break;
    words.push(a);
  }
  for (let n = words.length; n >= 0; n--) {
    const w = words.slice(0, n).join(" ");
    for (const key of [`${binary}${w ? " " + w : ""}`, w]) if (key in data.commands) return { command: key, words: n };
  }
  return undefined;
}

function lookup(client: string, ix: Index, flag: string): { name: string; info: FlagInfo } | undefined {
  const syntax = SYNTAX[client] ?? {};
  const candidates = [flag];
  if (syntax.go) candidates.push(flag.startsWith("--") ? flag.slice(1) : `-${flag}`);
  for (const c of candidates) {
    const hit = ix.byName.get(norm(syntax, c));
    if (hit) return hit;
  }
  for (const p of ix.patterns) if (flag.startsWith(p.prefix) && flag.length > p.prefix.length) return { name: flag, info: p.info };
  return undefined;
}

/** Read `argv` as `client`'s parser would, for the command the binary and its leading words select. */
export function parseArgs(client: string, binary: string, argv: string[]): ParsedArgs {
  const cmd = commandOf(client, binary, argv);
  if (!cmd) return { command: "", flags: [], problems: [{ index: 0, token: argv[0] ?? binary, kind: "unknown", message: `no command of ${client} ${CLIENT_FLAGS[client]?.version ?? ""} matches '${[binary, ...argv.slice(0, 2)].join(" ")}'` }] };
  const syntax = SYNTAX[client] ?? {};
  const ix = indexOf(client, cmd.command);
  const flags: ParsedFlag[] = [];
  const problems: FlagProblem[] = [];
  const seen = new Map<string, ParsedFlag>();
  const version = `${client} ${CLIENT_FLAGS[client]!.version}`;
  // The interchange file of Lighthouse's and Nimbus' slashing-protection import/export is a
  // positional argument (clap, confutils); no other command hearth runs takes one.
  let first = cmd.words;
  if (/\b(slashing-protection|slashingdb) (import|export)$/.test(cmd.command) && client !== "lodestar" && client !== "teku")
    while (first < argv.length && !argv[first]!.startsWith("-")) first++;
  for (let i = first; i < argv.length; i++) {
    const at = i;
    const token = argv[i]!;
    if (!token.startsWith("-") || token === "-" || token === "--") {
      problems.push({ index: i, token, kind: "bad-value", message: `'${token}' is not a flag and follows no flag that takes a value` });
      continue;
    }
    const eq = token.indexOf("=");
    const name = eq > 0 ? token.slice(0, eq) : token;
    let value = eq > 0 ? token.slice(eq + 1) : undefined;
    const hit = lookup(client, ix, name);
    if (!hit) {
      // Lodestar (yargs) takes `--no-x` for a boolean `--x`.
      const negated = client === "lodestar" && name.startsWith("--no-") ? lookup(client, ix, `--${name.slice(5)}`) : undefined;
      if (negated && negated.info.value !== "required") {
        flags.push({ index: at, token, name: negated.name, value: "false" });
        continue;
      }
      const suggestion = closest(name, ix.names);
      problems.push({ index: i, token, kind: "unknown", message: `${version} has no flag ${name}${cmd.command ? ` for '${cmd.command}'` : ""}`, ...(suggestion ? { suggestion } : {}) });
      continue;
    }
    const { info } = hit;
    if (value === undefined && info.value === "required") {
      if (syntax.attached) {
        problems.push({ index: i, token, kind: "detached-value", message: `${version} reads a value only when attached: write ${name}=VALUE` });
        if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("-")) i++;
        continue;
      }
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && !/^-\d/.test(next))) {
        problems.push({ index: i, token, kind: "missing-value", message: `${name} takes a value` });
        continue;
      }
      value = next;
      i++;
    } else if (value === undefined && info.value === "optional" && !syntax.go && !syntax.attached) {
      // picocli/yargs booleans: `--x true` is read as the value when it is one of the values.
      const next = argv[i + 1];
      if (next !== undefined && (info.values ?? ["true", "false"]).includes(next)) {
        value = next;
        i++;
      }
    } else if (value === undefined && info.value === "none" && client === "lodestar") {
      // yargs booleans also take `--x true|false` as two words.
      const next = argv[i + 1];
      if (next === "true" || next === "false") {
        value = next;
        i++;
      }
    } else if (value !== undefined && info.value === "none" && !["true", "false"].includes(value)) {
      problems.push({ index: i, token, kind: "bad-value", message: `${name} is a switch; it takes no value (or =true/=false)` });
      continue;
    }
    if (value !== undefined && info.values?.length && !info.multiple && !matchesValue(info.values, value))
      problems.push({ index: at, token, kind: "bad-value", message: `${name} takes one of ${info.values.join(", ")}, not '${value}'` });
    const parsed: ParsedFlag = { index: at, token, name: hit.name, ...(value !== undefined ? { value } : {}) };
    const before = seen.get(hit.name);
    if (before && !info.multiple)
      problems.push({ index: at, token, kind: "repeated", message: `${hit.name} is given twice (also as '${before.token}'${before.value !== undefined && before.token.indexOf("=") < 0 ? ` ${before.value}` : ""})` });
    seen.set(hit.name, before ?? parsed);
    flags.push(parsed);
  }
  return { command: cmd.command, flags, problems };
}

const matchesValue = (values: string[], v: string) => values.some((x) => x.toLowerCase() === v.toLowerCase());

/** The known flag nearest to a misspelt one (edit distance ≤ 3), for "did you mean". */
function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 4;
  for (const n of names) {
    if (Math.abs(n.length - name.length) >= bestD) continue;
    const d = distance(name, n, bestD);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best;
}

function distance(a: string, b: string, cap: number): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, cur[j]!);
    }
    if (rowMin >= cap) return cap;
    prev = cur;
  }
  return prev[b.length]!;
}
