// secrets/manifest.json: the public record hearth keeps beside the encrypted files: each secret's
// kind, public half, the recipients it is encrypted to, and a checksum that shows when the file
// was changed by something else (agenix -e, a bad merge). It never holds a secret value.
import { z } from "zod";
import { MANIFEST_FILE } from "./kinds.js";
import type { Issue } from "../validate/issues.js";

const entry = z.strictObject({
  kind: z.string(),
  public: z.string().optional(),
  recipients: z.array(z.string()),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.string(),
  updated: z.string(),
  /** Recipients dropped by a rekey since the value was last made: they may still hold old copies. */
  formerRecipients: z.array(z.string()).default([]),
});
export type ManifestEntry = z.infer<typeof entry>;

const schema = z.strictObject({ version: z.literal(1), secrets: z.record(z.string(), entry) });
export type Manifest = z.infer<typeof schema>;

export const emptyManifest = (): Manifest => ({ version: 1, secrets: {} });

export function parseManifest(text: string | undefined): { manifest: Manifest; issues: Issue[] } {
  if (text === undefined) return { manifest: emptyManifest(), issues: [] };
  const hint = "restore it from version control (git checkout secrets/manifest.json); hearth writes this file itself";
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { manifest: emptyManifest(), issues: [{ severity: "error", file: MANIFEST_FILE, path: [], message: `not valid JSON: ${(e as Error).message}`, hint }] };
  }
  const r = schema.safeParse(raw);
  if (!r.success)
    return {
      manifest: emptyManifest(),
      issues: r.error.issues.map((i) => ({ severity: "error" as const, file: MANIFEST_FILE, path: i.path as (string | number)[], message: i.message, hint })),
    };
  return { manifest: r.data, issues: [] };
}

/** Stable output: keys sorted so a change shows as a small diff. */
export function printManifest(m: Manifest): string {
  const secrets: Record<string, ManifestEntry> = {};
  for (const k of Object.keys(m.secrets).sort()) {
    const e = m.secrets[k]!;
    secrets[k] = { ...e, recipients: [...e.recipients].sort(), formerRecipients: [...e.formerRecipients].sort() };
  }
  return JSON.stringify({ version: 1, secrets }, null, 2) + "\n";
}
