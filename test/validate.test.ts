// Each validation rule: the documented finding (file, path, line, hint), and nothing written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { FLEET_YAML, hearth, writeFleet } from "./support/fleet.js";

const ETH_HOST = (services: string, extra = "") => `ephemeral: true
${extra}storage:
  volumes:
    data:
      type: btrfs
      format: false
      devices: [/dev/disk/by-id/nvme-a]
      subvolumes:
        secrets: { mountpoint: /var/mnt/secrets }
        geth: { mountpoint: /var/mnt/geth }
        lighthouse: { mountpoint: /var/mnt/lighthouse }
services:
${services}`;

const GETH = `  execution:\n    client: geth\n    dataDir: /var/mnt/geth\n`;
const LH = `  consensus:\n    client: lighthouse\n    dataDir: /var/mnt/lighthouse\n`;

function findings(hosts: Record<string, string>, fleet = FLEET_YAML) {
  const files: Record<string, string> = { "fleet.yaml": fleet };
  for (const [n, t] of Object.entries(hosts)) files[`hosts/${n}.yaml`] = t;
  const dir = writeFleet(files);
  const v = validateFleetDir(dir);
  // The CLI refuses as well and writes nothing.
  const r = hearth(["generate", dir]);
  if (!v.ok) {
    assert.notEqual(r.code, 0);
    assert.ok(!existsSync(join(dir, "flake")), "nothing may be written for an invalid fleet");
  }
  return v.issues;
}

const one = (issues: ReturnType<typeof findings>, re: RegExp) => {
  const hit = issues.find((i) => re.test(i.message));
  assert.ok(hit, `no finding matching ${re}: ${JSON.stringify(issues.map((i) => i.message))}`);
  return hit!;
};

test("a valid Ethereum host has no findings", () => {
  assert.deepEqual(findings({ a: ETH_HOST(GETH + LH) }), []);
});

test("unknown client: file, path, line:column and a did-you-mean hint", () => {
  const issues = findings({ a: ETH_HOST(GETH + LH.replace("lighthouse\n", "lighthous\n")) });
  const i = one(issues, /unknown client 'lighthous'/);
  assert.equal(i.file, "hosts/a.yaml");
  assert.deepEqual(i.path, ["services", "consensus", "client"]);
  assert.equal(i.line, 17);
  assert.equal(i.hint, "did you mean 'lighthouse'?");
});

test("unknown key gets a hint and points at the key", () => {
  const issues = findings({ a: ETH_HOST(GETH.replace("dataDir", "dataDri") + LH) });
  const i = one(issues, /unknown key 'dataDri'/);
  assert.equal(i.hint, "did you mean 'dataDir'?");
  assert.equal(i.line, 15);
  assert.equal(i.column, 5);
});

test("every problem is reported at once", () => {
  const issues = findings({ a: "system: x86_64-linx\nhardwar: qemu-vm\n", b: "ephemeral: maybe\n" });
  assert.ok(issues.length >= 3, JSON.stringify(issues));
  assert.ok(issues.some((i) => i.file === "hosts/b.yaml"));
});

test("two services on one port", () => {
  const i = one(findings({ a: ETH_HOST(GETH + LH + "  mevBoost:\n    port: 8545\n") }), /port 8545\/tcp .* already used by geth/);
  assert.deepEqual(i.path, ["services", "mevBoost", "port"]);
});

test("consensus client without execution client or endpoint", () => {
  one(findings({ a: ETH_HOST(LH) }), /lighthouse has no execution client on this host and no executionEndpoint/);
  assert.deepEqual(findings({ a: ETH_HOST(LH + "    executionEndpoint: http://10.0.0.2:8551\n") }), []);
});

test("two hosts with one address, and one host defined twice", () => {
  const net = "network:\n  dhcp: false\n  addresses: [10.0.0.5/24]\n";
  one(findings({ a: ETH_HOST(GETH + LH, net), b: ETH_HOST(GETH + LH, net) }), /address 10.0.0.5 is already used by host 'a'/);
  const files = { "fleet.yaml": FLEET_YAML, "hosts/a.yaml": "{}\n", "hosts/a.yml": "{}\n" };
  const v = validateFleetDir(writeFleet(files));
  one(v.issues, /host 'a' is defined twice/);
});

test("raidz with too few disks", () => {
  const host = `storage:\n  bootDisk: /dev/disk/by-id/a\n  volumes:\n    tank:\n      type: zfs\n      mode: raidz2\n      devices: [/dev/disk/by-id/a, /dev/disk/by-id/b, /dev/disk/by-id/c]\n      datasets: { root: { mountpoint: / } }\n`;
  const i = one(findings({ a: host }), /raidz2 needs at least 4 disks, but 3 given/);
  assert.deepEqual(i.path, ["storage", "volumes", "tank", "devices"]);
});

test("TPM unlock without Secure Boot is a warning, not an error", () => {
  const host = `storage:\n  bootDisk: /dev/disk/by-id/a\n  volumes:\n    rpool:\n      type: zfs\n      devices: [/dev/disk/by-id/a]\nsecurity:\n  unlock: { method: tpm2 }\n`;
  const issues = findings({ a: host });
  const i = one(issues, /TPM2 unlock without Secure Boot/);
  assert.equal(i.severity, "warning");
  assert.ok(!issues.some((x) => x.severity === "error"), JSON.stringify(issues));
});

test("a Raspberry Pi profile with x86_64", () => {
  const i = one(findings({ a: "hardware: raspberry-pi-4\nsystem: x86_64-linux\nephemeral: true\n" }), /raspberry-pi-4' is aarch64-linux, but system is x86_64-linux/);
  assert.equal(i.hint, "set system: aarch64-linux");
});

test("a data directory on no declared volume", () => {
  const i = one(findings({ a: ETH_HOST(GETH.replace("/var/mnt/geth", "/srv/geth") + LH) }), /data directory \/srv\/geth is on no declared volume/);
  assert.deepEqual(i.path, ["services", "execution", "dataDir"]);
});

test("JWT paths that differ between the paired clients", () => {
  const i = one(findings({ a: ETH_HOST(GETH + "    jwtSecretFile: /var/mnt/geth/jwt.hex\n" + LH) }), /JWT secret file .* differs/);
  assert.deepEqual(i.path, ["services", "consensus", "jwtSecretFile"]);
});

test("a client ethereum.nix does not build for the host's system", () => {
  one(findings({ a: "hardware: raspberry-pi-4\nsystem: aarch64-linux\nephemeral: true\nstorage:\n  volumes:\n    d: { type: ext4, format: false, devices: [/dev/disk/by-id/x], mountpoint: /var/lib }\nservices:\n  execution: { client: erigon }\n" }), /builds erigon only for x86_64-linux/);
});

test("YAML syntax errors carry a position", () => {
  const i = one(findings({ a: "services:\n  execution: { client: geth\n" }), /^YAML/);
  assert.ok(i.line && i.line >= 2);
});

test("a RAM-only host that decrypts secrets needs a persistent place for its host key", () => {
  const noSecrets = ETH_HOST(GETH + LH).replace("        secrets: { mountpoint: /var/mnt/secrets }\n", "");
  const i = one(findings({ a: noSecrets }), /no persistent place to keep that key/);
  assert.deepEqual(i.path, ["storage"]);
  assert.match(i.hint!, /named 'secrets'|storage.secretsDir/);
  // storage.secretsDir on a volume is enough.
  assert.deepEqual(findings({ a: noSecrets.replace("services:", "  secretsDir: /var/mnt/geth/hearth\nservices:") }), []);
  const inRam = one(findings({ a: noSecrets.replace("services:", "  secretsDir: /etc/hearth\nservices:") }), /\/etc\/hearth is on none of the host's volumes/);
  assert.deepEqual(inRam.path, ["storage", "secretsDir"]);
});

test("executionHost must name a fleet host with an execution client", () => {
  const beacon = ETH_HOST(LH + "    executionHost: bta\n");
  const i = one(findings({ a: beacon, beta: ETH_HOST(GETH) }), /no host 'bta' in the fleet/);
  assert.deepEqual(i.path, ["services", "consensus", "executionHost"]);
  assert.equal(i.hint, "did you mean 'beta'?");
  one(findings({ a: ETH_HOST(LH + "    executionHost: beta\n"), beta: ETH_HOST("  mevBoost: {}\n") }), /host 'beta' runs no execution client/);
  assert.deepEqual(findings({ a: ETH_HOST(LH + "    executionHost: beta\n    executionEndpoint: http://10.0.0.2:8551\n"), beta: ETH_HOST(GETH) }), []);
});

test("custom secrets name existing hosts; admins' ed25519 keys must be real keys", () => {
  const fleet = FLEET_YAML + "secrets:\n  custom:\n    api-key:\n      hosts: [b]\n";
  const i = one(findings({ a: ETH_HOST(GETH + LH) }, fleet), /no host 'b' in the fleet/);
  assert.equal(i.file, "fleet.yaml");
  assert.deepEqual(i.path, ["secrets", "custom", "api-key", "hosts", 0]);
  const fake = FLEET_YAML.replace(/AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+/, "AAAAC3NzaC1lZDI1NTE5AAAAIGhvbWVzdGFraW5nZXhhbXBsZWthcmlrZXkwMDAwMDAw");
  const k = one(findings({ a: ETH_HOST(GETH + LH) }, fake), /not a point on the ed25519 curve/);
  assert.deepEqual(k.path, ["admins", "ops", "sshKeys", 0]);
});
