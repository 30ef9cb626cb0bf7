// hearth-agent: the node agent's program (dist/agent/hearth-agent.mjs, run by the class image's
// hearth-agent service). `--config FILE` names /etc/hearth/agent.json:
//   { "server": URL, "class": NAME, "identityLabel": "HEARTH-ID", "stateDir": "/var/lib/hearth-agent",
//     "intervalSeconds": 300, "trustedKeysDir": "/etc/hearth/signing.d" }
// `--once` checks in once and exits 0 when the node is healthy or up to date, 1 otherwise.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "./agent.js";
import { AbImage, decryptWithKey, DriveIdentity, FetchHttp, FileState, installIdentity, NixosSystem, nodeSign } from "./ports.js";
import { newEd25519Key, readEd25519Key } from "../node/secrets/openssh.js";
import { parsePublicKey, publicKeyLine } from "../core/signing/minisign.js";

export interface AgentConfig {
  server: string;
  class?: string;
  identityLabel?: string;
  /** Tests and odd hardware: the identity drive's device or image file. */
  identityDevice?: string;
  stateDir: string;
  runDir?: string;
  intervalSeconds?: number;
  trustedKeysDir: string;
  /** Where the A/B disk's boot partition is mounted (default /boot). */
  espDir?: string;
}

/** The minisign public keys in the image (one `.pub` file each). */
export function imageKeys(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pub"))
    .sort()
    .map((f) => publicKeyLine(parsePublicKey(readFileSync(join(dir, f), "utf8"))));
}

export function agentFor(c: AgentConfig): Agent {
  const keys = imageKeys(c.trustedKeysDir);
  if (!keys.length) throw new Error(`no signing keys in ${c.trustedKeysDir}: this image trusts nobody, so it will apply nothing`);
  return new Agent({
    imageKeys: keys,
    identity: new DriveIdentity({ runDir: c.runDir ?? "/run/hearth/identity", ...(c.identityDevice ? { device: c.identityDevice } : c.identityLabel ? { device: `/dev/disk/by-label/${c.identityLabel}` } : {}) }),
    http: new FetchHttp(c.server),
    system: new NixosSystem(),
    state: new FileState(c.stateDir),
    newKey: () => {
      const k = newEd25519Key("hearth pending node");
      return { privateKey: k.privateFile.toString("utf8"), publicKey: k.publicLine };
    },
    seedOf: (text) => readEd25519Key(text).seed,
    sign: nodeSign,
    decryptWithKey,
    install: async (id) => installIdentity(c.runDir ?? "/run/hearth/identity", id),
    // Image updates only where the node booted from the class's A/B disk (hearth.slot= on its command line).
    ...(c.class && /(^|\s)hearth\.slot=[ab](\s|$)/.test(readFileSync("/proc/cmdline", "utf8"))
      ? { image: new AbImage({ image: c.class, espDir: c.espDir ?? "/boot", scratchDir: join(c.stateDir, "image-scratch") }) }
      : {}),
  });
}

async function main(argv: string[]): Promise<number> {
  const at = argv.indexOf("--config");
  const config = JSON.parse(readFileSync(at >= 0 ? argv[at + 1]! : "/etc/hearth/agent.json", "utf8")) as AgentConfig;
  const agent = agentFor(config);
  const once = argv.includes("--once");
  for (;;) {
    const r = await agent.checkIn();
    console.log(JSON.stringify({ at: new Date().toISOString(), ...r }));
    if (once) return r.phase === "healthy" || r.phase === "up-to-date" ? 0 : 1;
    // Jitter spreads a fleet that booted together over the interval.
    const base = (config.intervalSeconds ?? 300) * 1000;
    await new Promise((res) => setTimeout(res, base * (0.8 + Math.random() * 0.4)));
  }
}

if (process.argv[1] && /hearth-agent(\.mjs|\.ts)?$|agent[\\/]main\.ts$/.test(process.argv[1]))
  main(process.argv).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`hearth-agent: ${(e as Error).message}`);
      process.exit(2);
    },
  );
