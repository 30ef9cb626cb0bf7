// Test helpers: temporary fleet directories and running the real CLI.
import { cpSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { parseDocument, type YAMLMap } from "yaml";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";
import { newAgeIdentity } from "../../src/node/secrets/age.js";

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

// A HOME of its own, so no identity of the person running the tests is ever picked up.
const TEST_HOME = mkdtempSync(join(tmpdir(), "hearth-home-"));

export function hearth(args: string[], opts: { input?: string; env?: Record<string, string>; netns?: string } = {}) {
  // In a test namespace, hearth runs as an admin machine on the test network would.
  const argv = [process.execPath, join(REPO_ROOT, "bin/hearth.js"), ...args];
  const [cmd, ...rest] = opts.netns ? ["ip", "netns", "exec", opts.netns, ...argv] : argv;
  const r = spawnSync(cmd!, rest, {
    encoding: "utf8",
    input: opts.input,
    env: { ...process.env, HOME: TEST_HOME, XDG_CONFIG_HOME: join(TEST_HOME, ".config"), HEARTH_IDENTITY: "", ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Make a test admin identity, list its recipient in fleet.yaml (first admin), return the identity file. */
export async function addTestAdmin(dir: string, admin?: string): Promise<{ identity: string; recipient: string }> {
  const id = await newAgeIdentity();
  const identity = join(dirname(dir), `${admin ?? "admin"}-${Math.random().toString(36).slice(2)}.identity.txt`);
  writeFileSync(identity, id.text, { mode: 0o600 });
  const doc = parseDocument(readFileSync(join(dir, "fleet.yaml"), "utf8"));
  const name = admin ?? String((doc.get("admins") as YAMLMap).items[0]!.key);
  if (!doc.hasIn(["admins", name, "sshKeys"])) doc.setIn(["admins", name, "sshKeys"], [ADMIN_KEY]);
  doc.setIn(["admins", name, "ageKeys"], [id.recipient]);
  writeFileSync(join(dir, "fleet.yaml"), doc.toString({ lineWidth: 0 }));
  return { identity, recipient: id.recipient };
}

/** A copy of an example with a test admin and every secret generated: ready for `hearth generate`. */
export async function readyExample(name: string): Promise<{ dir: string; identity: string }> {
  const dir = copyExample(name);
  const { identity } = await addTestAdmin(dir);
  const r = hearth(["secrets", "generate", "-f", dir]);
  if (r.code !== 0) throw new Error(`secrets generate failed for ${name}: ${r.stderr}`);
  return { dir, identity };
}

export const read = (p: string) => readFileSync(p, "utf8");

export const ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILeL0yNt4ihLjfN2C/jhnpl4w/LYBEHFCGTG8+jYyIrw admin@example";
export const FLEET_YAML = `# a minimal fleet\nname: t\nadmins:\n  ops:\n    sshKeys: ["${ADMIN_KEY}"]\n`;

/** age -d with an identity file (an admin's age identity or a host's OpenSSH key), as text. */
export const ageDecrypt = (identity: string, file: string) => spawnSync("age", ["-d", "-i", identity, file], { encoding: "utf8" });

/** A minimal valid host: a k3s server with one ext4 volume for its secrets (no mesh, no Ethereum). */
export const K3S_HOST = `ephemeral: true
storage:
  volumes:
    state: { type: ext4, format: false, devices: [/dev/disk/by-id/ata-x], mountpoint: /var/lib/rancher }
  secretsDir: /var/lib/rancher/hearth
services:
  k3s: { role: server, clusterInit: true }
`;
