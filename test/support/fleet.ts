// Test helpers: temporary fleet directories and running the real CLI.
import { cpSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";

export const EXAMPLES = ["homestaking", "pi-cluster", "keystone", "ram-nodes"];

export function tempDir(prefix = "hearth-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh copy of an example fleet, safe to modify. */
export function copyExample(name: string): string {
  const d = join(tempDir(), name);
  cpSync(join(REPO_ROOT, "examples", name), d, { recursive: true });
  return d;
}

/** A fleet directory from a map of relative path → text. */
export function writeFleet(files: Record<string, string>): string {
  const d = tempDir();
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(dirname(join(d, p)), { recursive: true });
    writeFileSync(join(d, p), t);
  }
  return d;
}

export function hearth(args: string[], opts: { input?: string } = {}) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, "bin/hearth.js"), ...args], { encoding: "utf8", input: opts.input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const read = (p: string) => readFileSync(p, "utf8");

export const ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ3c2h0b3N0aW5nZXhhbXBsZWtleTAwMDAwMDAwMDAw admin@example";
export const FLEET_YAML = `# a minimal fleet\nname: t\nadmins:\n  ops:\n    sshKeys: ["${ADMIN_KEY}"]\n`;
