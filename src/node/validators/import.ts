// `hearth validator import`: EIP-2335 keystores and their password into the fleet, for the host
// that runs them. Each keystore is checked (the password opens it, the key inside is the one it
// names) before anything is written; the keystore and the password are age-encrypted to that
// host and the admins (validators/0x…/keystore, …/password), and the public keys are added to
// the host's services.validator.keys, keeping the file's comments. Secrets first, then the host
// file: a crash in between leaves encrypted files no host lists yet, and a rerun finishes.
import { join } from "node:path";
import { setInYaml } from "../../core/fleet/edit.js";
import { formatIssue } from "../../core/validate/issues.js";
import { validateFleetDir } from "../fleet-dir.js";
import { writeFileAtomic } from "../fs-atomic.js";
import { openStore, storeProvided, writeRules } from "../secrets/store.js";
import { KeystoreError, parseKeystore, verifyKeystore } from "./keystore.js";

export interface ImportRequest {
  dir: string;
  host: string;
  keystores: { name: string; text: string }[];
  /** One password for all the keystores (staking-deposit-cli uses one); wiped after use. */
  password: Buffer;
}

export interface ImportResult {
  imported: string[];
  /** Already listed by this host with their secrets stored: left as they were. */
  unchanged: string[];
  file: string;
}

export async function importValidators(req: ImportRequest): Promise<ImportResult> {
  try {
    const v = validateFleetDir(req.dir);
    if (!v.fleet || !v.ok) throw new KeystoreError(`the fleet is not valid; fix it first (hearth validate):\n${v.issues.filter((i) => i.severity === "error").map(formatIssue).join("\n")}`);
    const host = v.fleet.hosts.get(req.host);
    const file = v.hostFiles.get(req.host);
    if (!host || !file) throw new KeystoreError(`no host '${req.host}' in the fleet`);
    const vc = host.services.validator;
    if (!vc) throw new KeystoreError(`${file}: ${req.host} runs no validator client; add services.validator (client, feeRecipient) first`);
    if (!req.keystores.length) throw new KeystoreError("name at least one keystore file");

    const parsed = req.keystores.map((k) => ({ ...parseKeystore(k.text, k.name), name: k.name }));
    const seen = new Set<string>();
    for (const k of parsed) {
      if (seen.has(k.pubkey)) throw new KeystoreError(`${k.name}: validator ${k.pubkey.slice(0, 14)}… is given twice`);
      seen.add(k.pubkey);
      for (const [other, h] of v.fleet.hosts)
        if (other !== req.host && h.services.validator?.keys.includes(k.pubkey))
          throw new KeystoreError(`${k.name}: validator ${k.pubkey.slice(0, 14)}… already runs on ${other}; two clients signing with one key get it slashed. Move it with \`hearth validator move ${k.pubkey} --to ${req.host}\` instead; nothing was imported`);
    }
    // Every password check before any write: one wrong keystore imports nothing.
    for (const k of parsed) verifyKeystore(k, req.password, k.name);

    const keys = [...vc.keys, ...parsed.map((k) => k.pubkey).filter((pk) => !vc.keys.includes(pk))];
    const before = v.files[file]!;
    const after = keys.length === vc.keys.length ? before : setInYaml(before, ["services", "validator", "keys"], keys);
    const next = validateFleetDir(req.dir, { [file]: after });
    if (!next.fleet || !next.ok) throw new KeystoreError(`${file} would not be valid with these keys:\n${next.issues.filter((i) => i.severity === "error").map(formatIssue).join("\n")}`);

    const store = openStore(req.dir, next.fleet);
    const result: ImportResult = { imported: [], unchanged: [], file };
    for (const k of parsed) {
      const stored = [`validators/${k.pubkey}/keystore`, `validators/${k.pubkey}/password`].every((key) => store.manifest.secrets[key] && store.files.has(`secrets/${key}.age`));
      if (stored && vc.keys.includes(k.pubkey)) {
        result.unchanged.push(k.pubkey);
        continue;
      }
      await storeProvided(store, `validators/${k.pubkey}/keystore`, Buffer.from(k.text, "utf8"));
      await storeProvided(store, `validators/${k.pubkey}/password`, Buffer.from(req.password));
      result.imported.push(k.pubkey);
    }
    writeRules(store);
    if (after !== before) writeFileAtomic(join(req.dir, file), after);
    return result;
  } finally {
    req.password.fill(0);
  }
}
