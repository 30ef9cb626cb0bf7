// What switching an Ethereum client (lighthouse → teku, geth → reth) does to the machine, said
// before the save: the old client's data directory stays on disk (hearth never deletes chain
// data), and the new client starts from nothing, by checkpoint or from scratch.
import type { Fleet, Host } from "../core/schema/fleet.js";
import { hostServices } from "../core/plan/host.js";
import { DEFAULT_CHECKPOINT } from "../core/services/ethereum/common.js";
import type { EthNetwork } from "../core/schema/common.js";

import type { ClientSwitch } from "../server/wire.js";

/** The wire's shape (what PUT /api/hosts/NAME answers). */
export type ClientSwitchInfo = ClientSwitch;

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const ROLES = ["execution", "consensus", "validator"] as const;

function dataDirOf(fleet: Fleet | undefined, name: string, host: Host | undefined, role: string): string | undefined {
  if (!fleet || !host) return undefined;
  try {
    return hostServices(fleet, name, host).find((s) => s.role === role)?.dataDirs[0]?.path;
  } catch {
    return undefined;
  }
}

/**
 * The client switches between a host as saved (`before`) and as edited (`values`, and `after`
 * when the edited fleet loads), e.g. consensus lighthouse → teku.
 */
export function clientSwitches(name: string, before: { fleet?: Fleet }, values: unknown, after: { fleet?: Fleet }): ClientSwitchInfo[] {
  const b = before.fleet?.hosts.get(name);
  if (!b) return [];
  const a = after.fleet?.hosts.get(name);
  const raw = isObj(values) && isObj(values.services) ? values.services : {};
  const out: ClientSwitchInfo[] = [];
  for (const role of ROLES) {
    const from = (b.services[role] as { client?: string } | undefined)?.client;
    const edited = raw[role];
    const to = isObj(edited) && typeof edited.client === "string" ? edited.client : undefined;
    if (!from || !to || from === to) continue;
    const oldDataDir = dataDirOf(before.fleet, name, b, role);
    const newDataDir = dataDirOf(after.fleet, name, a, role) ?? (isObj(edited) && typeof edited.dataDir === "string" ? edited.dataDir : undefined);
    const sameDir = !!oldDataDir && oldDataDir === newDataDir;
    const details: string[] = [];
    details.push(
      oldDataDir
        ? `${from}'s data directory ${oldDataDir} stays on disk: hearth deletes no chain data. Remove it by hand once ${to} works, to free the space.`
        : `${from}'s data stays on disk: hearth deletes no chain data.`,
    );
    if (sameDir)
      details.push(`${to} would use the same directory, ${oldDataDir}, which holds ${from}'s database in ${from}'s format: give ${to} its own dataDir (on the same volume), or empty the directory by hand before deploying.`);
    if (role === "execution")
      details.push(`${to} starts with an empty database${newDataDir ? ` in ${newDataDir}` : ""} and syncs the chain from scratch, which takes hours to days; the beacon node follows no execution client until then (missed duties if this host validates).`);
    if (role === "consensus") {
      const cfg = (a?.services.consensus ?? (isObj(edited) ? edited : {})) as { checkpointSyncUrl?: string; network?: string };
      const network = (cfg.network ?? after.fleet?.ethereum.network ?? before.fleet?.ethereum.network ?? "mainnet") as EthNetwork;
      const url = cfg.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[network];
      details.push(
        url
          ? `${to} starts with an empty database${newDataDir ? ` in ${newDataDir}` : ""} and syncs from the checkpoint at ${url} (minutes), then backfills history in the background.`
          : `${to} starts with an empty database and syncs from genesis (no checkpoint endpoint for ${network}).`,
      );
    }
    if (role === "validator")
      details.push(
        `${from}'s slashing-protection history stays in ${oldDataDir ?? "its data directory"}; ${to} starts without it. Stop ${from} and carry the history over (\`hearth validator move\` does both) before ${to} signs, or it could sign something slashable.`,
      );
    out.push({ role, from, to, ...(oldDataDir ? { oldDataDir } : {}), ...(newDataDir ? { newDataDir } : {}), sameDir, summary: `${role} client ${from} → ${to}`, details });
  }
  return out;
}
