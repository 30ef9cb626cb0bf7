// A new fleet from a bundled example, with the caller as an admin (their age identity, made if
// they have none) and every secret generated: what `hearth init` and a bare `hearth serve` do.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { setInYaml } from "../core/fleet/edit.js";
import { REPO_ROOT, validateFleetDir } from "./fleet-dir.js";
import { loadIdentityFile, newAgeIdentity } from "./secrets/age.js";
import { UserError } from "./errors.js";
import { generate, openStore } from "./secrets/store.js";
import { writeFileAtomic } from "./fs-atomic.js";

export const EXAMPLES_DIR = join(REPO_ROOT, "examples");
export const defaultIdentityFile = () => join(process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "hearth", "identity.txt");

export interface InitResult {
  identityCreated: boolean;
  identity: string;
  secretsCreated: number;
  admins: number;
}

export async function initFleet(dir: string, opts: { example: string; admin: string; identity?: string }): Promise<InitResult> {
  const examples = readdirSync(EXAMPLES_DIR);
  if (!examples.includes(opts.example)) throw new UserError(`no example '${opts.example}'; available: ${examples.join(", ")}`);
  if (existsSync(dir) && readdirSync(dir).length) throw new UserError(`${dir} exists and is not empty; hearth init only creates new fleets`);
  if (!/^[a-z_][a-z0-9_-]*$/.test(opts.admin)) throw new UserError(`admin name '${opts.admin}' must be lower-case letters, digits, '_' or '-' (pass --admin NAME)`);
  const identity = opts.identity ?? defaultIdentityFile();
  let recipient: string;
  let identityCreated = false;
  if (existsSync(identity)) {
    // A plugin identity's file may not name its recipient (only the plugin knows it).
    const found = (await loadIdentityFile(identity)).find((i) => i.recipient);
    if (!found) throw new UserError(`${identity} holds an age plugin identity but names no recipient; add a line \`# Recipient: age1…\` above it (the plugin prints it) and run again`);
    recipient = found.recipient;
  }
  else {
    const id = await newAgeIdentity();
    mkdirSync(dirname(identity), { recursive: true, mode: 0o700 });
    writeFileAtomic(identity, id.text, 0o600);
    recipient = id.recipient;
    identityCreated = true;
  }
  // Copy into a temporary sibling and rename, so a failure leaves no half-made fleet.
  const tmp = `${dir}.init-${process.pid}`;
  mkdirSync(dirname(dir), { recursive: true });
  cpSync(join(EXAMPLES_DIR, opts.example), tmp, { recursive: true });
  try {
    const fleetFile = join(tmp, "fleet.yaml");
    writeFileSync(fleetFile, setInYaml(readFileSync(fleetFile, "utf8"), ["admins", opts.admin, "ageKeys"], [recipient]));
    const v = validateFleetDir(tmp);
    if (!v.ok || !v.fleet) throw new UserError(`examples/${opts.example} is not valid after adding you as an admin: ${v.issues[0]?.message}`);
    const r = await generate(openStore(tmp, v.fleet), []);
    if (existsSync(dir)) rmSync(dir, { recursive: true });
    renameSync(tmp, dir);
    return { identityCreated, identity, secretsCreated: r.created.length, admins: Object.keys(v.fleet.admins).length };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
