// The secrets lifecycle on the example fleets, checked with the real age CLI and Nix: every
// secret a host needs exists, is encrypted to exactly the right keys, is referenced by the
// generated flake, and appears nowhere in plaintext: not in files, output or process arguments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { EXAMPLES, FLEET_YAML, addTestAdmin, hearth, readyExample, tempDir, writeFleet, K3S_HOST } from "./support/fleet.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
/** Everything hearth printed in a test, scanned for secrets at the end. */
const transcript: string[] = [];
const h = (args: string[], opts: { input?: string } = {}): Run => {
  const r = hearth(args, opts);
  transcript.push(r.stdout, r.stderr);
  return r;
};

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}

const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, "secrets/manifest.json"), "utf8")) as { secrets: Record<string, { recipients: string[]; public?: string }> };
const ageDecrypt = (identity: string, file: string) => spawnSync("age", ["-d", "-i", identity, file]);
const shaOfTree = (dir: string) => Object.fromEntries(walk(join(dir, "secrets")).map((f) => [f, createHash("sha256").update(readFileSync(f)).digest("hex")]));

/** The forms a leaked value could take: as is, its long lines, hex and base64. */
function leakForms(plain: Buffer): string[] {
  const forms = new Set<string>([plain.toString("hex"), plain.toString("base64").replace(/=+$/, "")]);
  const text = plain.toString("utf8").trim();
  forms.add(text);
  for (const line of text.split("\n")) if (line.trim().length >= 16 && !line.startsWith("-----")) forms.add(line.trim());
  return [...forms].filter((f) => f.length >= 12);
}

/** Every value of a fleet, decrypted with the real age CLI. */
function plaintexts(dir: string, identity: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const key of Object.keys(manifest(dir).secrets)) {
    const r = ageDecrypt(identity, join(dir, `secrets/${key}.age`));
    assert.equal(r.status, 0, `${key}: ${r.stderr}`);
    out.set(key, r.stdout);
  }
  return out;
}

function assertNoLeak(where: string, haystack: string, values: Map<string, Buffer>) {
  for (const [key, v] of values)
    for (const f of leakForms(v)) assert.ok(!haystack.includes(f), `${where} contains the plaintext of ${key} (form ${f.slice(0, 12)}…)`);
}

for (const name of EXAMPLES) {
  test(`${name}: secrets generated, 0600, referenced by the flake, and nowhere in plaintext`, async () => {
    const { dir, identity } = await readyExample(name);
    const g = h(["generate", dir]);
    assert.equal(g.code, 0, g.stderr);
    const st = h(["secrets", "status", "-f", dir, "--json"]);
    const rows = JSON.parse(st.stdout) as { key: string; state: string; readers: string[] }[];
    assert.ok(rows.length > 0);
    for (const r of rows) assert.equal(r.state, "ok", `${r.key}: ${r.state}`);
    for (const f of walk(join(dir, "secrets")).filter((f) => f.endsWith(".age")))
      assert.equal(statSync(f).mode & 0o777, 0o600, `${f} mode`);

    // Each reader's generated module names the secret, and real Nix finds the copied file.
    for (const r of rows.filter((r) => r.readers.length)) {
      for (const host of r.readers) {
        const id = r.key.split("/").pop()!;
        const expr = `let m = import ${join(dir, "flake/hosts", host, "default.nix")} { config = { }; lib = { }; pkgs = { }; inputs = { }; modulesPath = "/m"; }; ` +
          `in builtins.pathExists m.age.secrets.${JSON.stringify(id)}.file`;
        assert.equal(execFileSync("nix-instantiate", ["--eval", "--strict", "-E", expr]).toString().trim(), "true", `${host} ${r.key}`);
      }
    }
    // Secrets used only at install time (host keys, disk keys) never enter the flake.
    for (const f of walk(join(dir, "flake/secrets"))) assert.ok(!/ssh-host-key|zfs-raw-key|luks-/.test(f), f);

    const values = plaintexts(dir, identity);
    for (const f of walk(dir)) assertNoLeak(f, readFileSync(f, "latin1"), values);
    assertNoLeak("hearth's output", transcript.join("\n"), values);
  });
}

test("generate is idempotent and replaces a secret only when asked (--rotate)", async () => {
  const { dir } = await readyExample("pi-cluster");
  const before = shaOfTree(dir);
  const again = h(["secrets", "generate", "-f", dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^0 created, 0 rotated/m);
  assert.deepEqual(shaOfTree(dir), before, "a second run changes nothing");
  const r = h(["secrets", "generate", "-f", dir, "--rotate", "hosts/pi-alpha/luks-passphrase"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^rotated secrets\/hosts\/pi-alpha\/luks-passphrase.age/m);
  const after = shaOfTree(dir);
  const changed = Object.keys(after).filter((f) => after[f] !== before[f]).map((f) => f.slice(dir.length + 1)).sort();
  assert.deepEqual(changed, ["secrets/hosts/pi-alpha/luks-passphrase.age", "secrets/manifest.json"]);
  const bad = h(["secrets", "generate", "-f", dir, "--rotate", "no/such"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /no secret 'no\/such'/);
});

test("rekey after removing a host: its key can no longer decrypt any current file", async () => {
  // ram-nodes: every node reads the fleet's k3s join token.
  const { dir, identity } = await readyExample("ram-nodes");
  const gone = "node3";
  const token = join(dir, "secrets/fleet/k3s-token.age");
  // node3's host key, as the machine would hold it.
  const goneKey = join(tempDir(), "node3_host_key");
  writeFileSync(goneKey, ageDecrypt(identity, join(dir, `secrets/hosts/${gone}/ssh-host-key.age`)).stdout, { mode: 0o600 });
  assert.equal(ageDecrypt(goneKey, token).status, 0, "control: node3 reads the join token while it is in the fleet");

  unlinkSync(join(dir, `hosts/${gone}.yaml`));
  const st = h(["secrets", "status", "-f", dir]);
  assert.match(st.stdout, /stale\s+fleet\/k3s-token .*\n.*still readable by removed host node3 → hearth secrets rekey/);
  assert.match(st.stdout, /orphaned\s+hosts\/node3\/ssh-host-key/);
  const refused = h(["generate", dir]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /k3s-token.*is stale: still readable by removed host node3\n\s+hint: run `hearth secrets rekey`/);

  const r = h(["secrets", "rekey", "-f", dir, "-i", identity]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /re-encrypted secrets\/fleet\/k3s-token.age/);
  assert.equal(h(["generate", dir]).code, 0);
  const files = [...walk(join(dir, "secrets")), ...walk(join(dir, "flake/secrets"))].filter((f) => f.endsWith(".age"));
  assert.ok(files.length >= 4);
  for (const f of files) assert.notEqual(ageDecrypt(goneKey, f).status, 0, `${f} still opens with the removed host's key`);
  // The old value may sit in node3's RAM or git history: status says to rotate it.
  assert.match(h(["secrets", "status", "-f", dir]).stdout, /was readable by removed host node3: rotate it \(hearth secrets generate --rotate fleet\/k3s-token\)/);
  assert.equal(h(["secrets", "generate", "-f", dir, "--rotate", "fleet/k3s-token"]).code, 0);
  assert.doesNotMatch(h(["secrets", "status", "-f", dir]).stdout, /was readable by/);
  const pruned = h(["secrets", "rekey", "-f", dir, "-i", identity, "--prune"]);
  assert.match(pruned.stdout, /deleted secrets\/hosts\/node3\/ssh-host-key.age/);
  assert.ok(!existsSync(join(dir, `secrets/hosts/${gone}/ssh-host-key.age`)));
});

test("rekey after adding an admin; a wrong identity or a corrupted file changes nothing", async () => {
  const { dir, identity } = await readyExample("ram-nodes");
  const second = await addTestAdmin(dir, "second");
  const token = join(dir, "secrets/fleet/k3s-token.age");
  assert.notEqual(ageDecrypt(second.identity, token).status, 0, "control: the new admin cannot read before the rekey");
  assert.match(h(["secrets", "status", "-f", dir]).stdout, /stale .*\n.*not readable by admin second/);

  const before = shaOfTree(dir);
  const wrong = h(["secrets", "rekey", "-f", dir, "-i", second.identity]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /secrets\/[^:]+\.age: none of your identities .* can decrypt it/);
  assert.deepEqual(shaOfTree(dir), before, "a failed rekey writes nothing");

  const node3Key = join(dir, "secrets/hosts/node3/ssh-host-key.age");
  const original = readFileSync(node3Key, "utf8");
  writeFileSync(node3Key, original.slice(0, original.length - 80) + "\n-----END AGE ENCRYPTED FILE-----\n", { mode: 0o600 });
  const snapshot = shaOfTree(dir);
  const corrupt = h(["secrets", "rekey", "-f", dir, "-i", identity, "--all"]);
  assert.notEqual(corrupt.code, 0);
  assert.match(corrupt.stderr, /secrets\/hosts\/node3\/ssh-host-key\.age: .*(restore|version control)/);
  assert.deepEqual(shaOfTree(dir), snapshot, "nothing else touched");
  assert.match(h(["secrets", "status", "-f", dir]).stdout, /modified\s+hosts\/node3\/ssh-host-key .*\n.*changed outside hearth/);
  writeFileSync(node3Key, original, { mode: 0o600 });

  const ok = h(["secrets", "rekey", "-f", dir, "-i", identity]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ageDecrypt(second.identity, token).status, 0, "the new admin reads after the rekey");
  assert.equal(h(["secrets", "status", "-f", dir, "--check"]).code, 0);
});

test("user secrets: set from stdin (never argv), shown to an admin, decrypted by the listed hosts only", async () => {
  const { dir, identity } = await readyExample("pi-cluster");
  const fleet = readFileSync(join(dir, "fleet.yaml"), "utf8");
  writeFileSync(join(dir, "fleet.yaml"), fleet.replace(/^secrets:\n/m, "secrets:\n  custom:\n    grafana-password:\n      hosts: [pi-beta]\n      owner: grafana\n"));
  assert.match(readFileSync(join(dir, "fleet.yaml"), "utf8"), /grafana-password/);
  assert.match(h(["generate", dir]).stderr, /custom\/grafana-password.*is missing.*\n\s+hint: run `hearth secrets set grafana-password`/);
  const value = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const set = h(["secrets", "set", "grafana-password", "-f", dir], { input: value });
  assert.equal(set.code, 0, set.stderr);
  const shown = hearth(["secrets", "show", "grafana-password", "-f", dir, "-i", identity]);
  assert.equal(shown.stdout, value);
  assert.equal(h(["generate", dir]).code, 0);
  assert.match(readFileSync(join(dir, "flake/hosts/pi-beta/default.nix"), "utf8"), /grafana-password = \{\n\s+file = \.\.\/\.\.\/secrets\/custom\/grafana-password\.age;\n\s+owner = "grafana";/);
  assert.doesNotMatch(readFileSync(join(dir, "flake/hosts/pi-alpha/default.nix"), "utf8"), /grafana-password/);
  const m = manifest(dir).secrets["custom/grafana-password"]!;
  assert.equal(m.recipients.length, 1 + 1 + 1, "admin ssh key + test age key + pi-beta");
  for (const f of walk(dir)) assert.ok(!readFileSync(f, "latin1").includes(value), `${f} holds the plaintext`);
  assert.match(h(["secrets", "set", "nope", "-f", dir], { input: "x" }).stderr, /no custom secret 'nope' in fleet.yaml; declare it under secrets.custom.nope/);
  assert.match(h(["secrets", "set", "grafana-password", "-f", dir], { input: "" }).stderr, /empty value; nothing was stored/);
});

test("no secret in the arguments of hearth or any process it starts", async () => {
  const { dir, identity } = await readyExample("keystone");
  const seen = new Set<string>();
  const watch = (args: string[], input?: string) =>
    new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, "bin/hearth.js"), ...args], { stdio: ["pipe", "pipe", "pipe"] });
      child.stdin.end(input ?? "");
      let done = false;
      child.on("exit", () => ((done = true), resolve()));
      // Poll /proc for hearth and its descendants until it exits (bounded by the child's life).
      const poll = () => {
        const pids = new Set([child.pid!]);
        for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
          try {
            const stat = readFileSync(`/proc/${p}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            if (pids.has(ppid)) pids.add(Number(p));
          } catch {}
        }
        for (const p of pids) {
          try {
            seen.add(readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " "));
          } catch {}
        }
        if (!done) setTimeout(poll, 2);
      };
      poll();
    });
  await watch(["secrets", "generate", "-f", dir, "--rotate", "hosts/server/luks-passphrase"]);
  await watch(["secrets", "show", "server/luks-passphrase", "-f", dir, "-i", identity]);
  await watch(["secrets", "rekey", "-f", dir, "-i", identity, "--all"]);
  assert.ok([...seen].some((c) => c.includes("bin/hearth.js secrets")), "the watcher saw hearth");
  const values = plaintexts(dir, identity);
  assertNoLeak("process arguments", [...seen].join("\n"), values);
});

test("extra-files: host keys and disk keys for the install, on tmpfs only, 0600", async (t) => {
  if (!existsSync("/dev/shm") || statfsSync("/dev/shm").type !== 0x01021994) return t.skip("no tmpfs at /dev/shm");
  const { dir, identity } = await readyExample("pi-cluster");
  const out = join(mkdtempSync("/dev/shm/hearth-test-"), "alpha");
  const r = h(["secrets", "extra-files", "pi-alpha", "-f", dir, "-i", identity, "-o", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /nixos-anywhere --flake \.#pi-alpha --extra-files \S+\/extra-files .*--disk-encryption-keys \/tmp\/hearth-keys\/zfs-raw-key \S+\/disk-keys\/zfs-raw-key /);
  const key = join(out, "extra-files/etc/ssh/ssh_host_ed25519_key");
  assert.equal(statSync(key).mode & 0o777, 0o600);
  // A Pi's extlinux cannot take initrd secrets: the initrd key goes onto the firmware partition.
  assert.equal(statSync(join(out, "extra-files/boot/firmware/hearth/initrd_ssh_host_ed25519_key")).mode & 0o777, 0o600);
  const pub = execFileSync("ssh-keygen", ["-y", "-f", key]).toString().trim().split(" ").slice(0, 2).join(" ");
  assert.equal(pub, manifest(dir).secrets["hosts/pi-alpha/ssh-host-key"]!.public, "the key the secrets are encrypted to");
  assert.equal(readFileSync(join(out, "disk-keys/zfs-raw-key")).length, 32);
  rmSync(dirname(out), { recursive: true });
  const disk = mkdtempSync(join(REPO_ROOT, ".test-extra-"));
  try {
    if (statfsSync(disk).type !== 0x01021994) {
      const refused = h(["secrets", "extra-files", "pi-alpha", "-f", dir, "-i", identity, "-o", join(disk, "x")]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /is not on a tmpfs, so the plaintext keys would reach a disk/);
      assert.ok(!existsSync(join(disk, "x/extra-files")));
    }
  } finally {
    rmSync(disk, { recursive: true, force: true });
  }
});

test("bad fleet input for secrets: invalid age recipient, no admin key; nothing written", () => {
  const host = K3S_HOST;
  assert.equal(h(["validate", writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/a.yaml": host })]).code, 0, "control: the fleet is valid as given");
  const bad = writeFleet({ "fleet.yaml": FLEET_YAML.replace("    sshKeys:", '    ageKeys: ["age1qqqqqqqqqqqqqqqq"]\n    sshKeys:'), "hosts/a.yaml": host });
  const r = h(["secrets", "generate", "-f", bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /fleet.yaml:\d+:\d+: error: admins\.ops\.ageKeys\[0\]: is not a valid age recipient/);
  assert.ok(!existsSync(join(bad, "secrets")));
  const rsaOnly = writeFleet({
    "fleet.yaml": "name: t\nadmins:\n  ops:\n    sshKeys: [\"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ops@rsa\"]\n",
    "hosts/a.yaml": host,
  });
  const r2 = h(["secrets", "generate", "-f", rsaOnly]);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /fleet.yaml:\d+:\d+: error: admins: no admin has an age or ssh-ed25519 key.*\n\s+hint: add admins.<you>.ageKeys/);
  assert.ok(!existsSync(join(rsaOnly, "secrets")));
  const manifestBroken = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/a.yaml": host, "secrets/manifest.json": "{ not json" });
  const r3 = h(["secrets", "status", "-f", manifestBroken]);
  assert.notEqual(r3.code, 0);
  assert.match(r3.stderr, /secrets\/manifest.json: error: \(top level\): not valid JSON.*\n\s+hint: restore it from version control/);
});

test("hearth init: a fleet from an example, the caller as admin, secrets ready; the file's lines kept", () => {
  const home = tempDir("hearth-init-home-");
  const dir = join(tempDir(), "fleet");
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, ".config") };
  const r = hearth(["init", dir, "--example", "pi-cluster", "--admin", "newcomer"], { env });
  assert.equal(r.code, 0, r.stderr);
  const identity = join(home, ".config/hearth/identity.txt");
  assert.equal(statSync(identity).mode & 0o777, 0o600);
  const original = readFileSync(join(REPO_ROOT, "examples/pi-cluster/fleet.yaml"), "utf8");
  const now = readFileSync(join(dir, "fleet.yaml"), "utf8");
  for (const line of original.split("\n")) assert.ok(now.includes(line), `line lost or refolded: ${line}`);
  assert.match(now, /newcomer:\n\s+ageKeys:\n\s+- age1/);
  assert.equal(hearth(["secrets", "status", "-f", dir, "--check"], { env }).code, 0);
  assert.equal(hearth(["generate", dir], { env }).code, 0);
  // The newcomer's own identity (found by default) opens the fleet's secrets.
  assert.equal(hearth(["secrets", "show", "pi-alpha/luks-passphrase", "-f", dir], { env }).stdout.length, 35);
  const again = hearth(["init", dir], { env });
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /exists and is not empty/);
});

test("a host whose key was not made by hearth (sshHostKey) is a recipient by that key", async () => {
  const keyDir = tempDir();
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keyDir, "k")]);
  const pub = readFileSync(join(keyDir, "k.pub"), "utf8").trim();
  const host = `sshHostKey: "${pub}"
services:
  k3s: { role: server, clusterInit: true }
storage:
  bootDisk: /dev/disk/by-id/nvme-a
  volumes:
    root: { type: ext4, devices: [/dev/disk/by-id/nvme-a], mountpoint: / }
`;
  const dir = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/old.yaml": host });
  const { identity } = await addTestAdmin(dir);
  const r = h(["secrets", "generate", "-f", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(join(dir, "secrets/hosts/old/ssh-host-key.age")), "hearth makes no key for it");
  const token = join(dir, "secrets/fleet/k3s-token.age");
  assert.equal(ageDecrypt(join(keyDir, "k"), token).status, 0, "the machine's own key opens its secret");
  assert.equal(ageDecrypt(join(keyDir, "k"), token).stdout.toString(), ageDecrypt(identity, token).stdout.toString());
});
