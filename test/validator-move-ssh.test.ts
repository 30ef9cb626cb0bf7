// `hearth validator move` over SSH, as it runs against real hosts: two test hosts (network
// namespaces with Debian's sshd presenting the host keys hearth generated), the CLI run from an
// admin namespace. What cannot run here stands in, named so: systemctl (no systemd) and the
// validator client's binary (a script keeping its history as a file; the real client's side of
// the same sequence is test/lodestar.test.ts). Real: ssh with pinned keys, the unit's ExecStart
// path lookup, runuser as the service user, install -o, the scratch directory, the removal of
// the old client's keys, the order of the steps, the coverage check and the fleet's update.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { addTestAdmin, ageDecrypt, FLEET_YAML, hearth, writeFleet } from "./support/fleet.js";
import { keystore } from "./support/keystore.js";
import { TestNet, haveSshd, startSshd } from "./support/netns.js";

const USER = "lodestar-validator";
const root = mkdtempSync(join(tmpdir(), "hearth-vmove-"));
// The service user runs the client's binary from here.
chmodSync(root, 0o755);
const interchange = (pk: string, target: number) =>
  JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: "0x" + "ab".repeat(32) }, data: [{ pubkey: pk, signed_blocks: [], signed_attestations: [{ source_epoch: String(target - 1), target_epoch: String(target) }] }] });

/** A test host's stand-ins: systemctl keeping unit states in files, and the client's binary. */
function standIns(host: string) {
  const dir = join(root, host);
  const bin = join(dir, "bin");
  const state = join(dir, "state");
  mkdirSync(bin, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(
    join(bin, "systemctl"),
    `#!/bin/sh
# stand-in for systemctl on a test host (no systemd here): unit states in ${state}
case "$1" in
  stop) echo inactive > ${state}/"$2"; echo "stop $2" >> ${state}/calls;;
  start) echo active > ${state}/"$2"; echo "start $2" >> ${state}/calls;;
  is-active) s=$(cat ${state}/"$2" 2>/dev/null || echo active); echo "$s"; [ "$s" = active ];;
  show) echo "{ path=${join(dir, "pkg/bin/lodestar")} ; argv[]=${join(dir, "pkg/bin/lodestar")} validator ; ignore_errors=no }";;
esac
`,
    { mode: 0o755 },
  );
  mkdirSync(join(dir, "pkg/bin"), { recursive: true });
  writeFileSync(
    join(dir, "pkg/bin/lodestar"),
    `#!/bin/sh
# stand-in for a validator client's slashing-protection commands: its history is <dataDir>/history.json
op=$3; shift 3
while [ $# -gt 0 ]; do case "$1" in --dataDir) d=$2; shift 2;; --file) f=$2; shift 2;; *) shift;; esac; done
echo "$(id -un) $op" >> "$d/calls"
case $op in
  export) cp "$d/history.json" "$f";;
  import) [ -e "$d/ignore-imports" ] || cp "$f" "$d/history.json";;
esac
`,
    { mode: 0o755 },
  );
  return { dir, bin, state };
}

describe("validator move over SSH", { skip: !haveSshd() && "needs root, ip netns and openssh-server" }, () => {
  let net: TestNet;
  let admin: string;
  const stops: (() => void)[] = [];
  let createdUser = false;
  before(() => {
    net = new TestNet("192.168.80.0/24");
    admin = net.host("admin", "192.168.80.2");
    // runuser and install -o need the service user to exist on the "host" (this machine).
    if (spawnSync("id", [USER]).status !== 0) {
      execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]);
      createdUser = true;
    }
  });
  after(() => {
    stops.forEach((s) => s());
    net?.destroy();
    if (createdUser) spawnSync("userdel", [USER]);
    rmSync(root, { recursive: true, force: true });
  });

  test("stop, export, keys off the old client, import and check on the new one, then the fleet; refusals change nothing", async () => {
    const dataDir = (h: string) => join(root, h, "data/lodestar-validator");
    const host = (name: string, addr: string) => `ephemeral: true
storage:
  volumes:
    data:
      type: btrfs
      format: false
      devices: [/dev/disk/by-id/nvme-${name}]
      subvolumes:
        secrets: { mountpoint: ${join(root, name, "secrets")} }
        data: { mountpoint: ${join(root, name, "data")} }
network:
  interface: eth0
  dhcp: false
  addresses: [${addr}/24]
services:
  validator:
    client: lodestar
    dataDir: ${dataDir(name)}
    beaconNodes: ["http://192.168.80.9:9596"]
    feeRecipient: "0x00000000219ab540356cBB839Cbe05303d7705Fa"
`;
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/sigma.yaml": "# sigma\n" + host("sigma", "192.168.80.11"), "hosts/beta.yaml": host("beta", "192.168.80.12") });
    // An admin SSH key to log in with.
    const kdir = mkdtempSync(join(tmpdir(), "hearth-key-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(kdir, "id")]);
    const pub = readFileSync(join(kdir, "id.pub"), "utf8").trim();
    const doc = parseDocument(readFileSync(join(dir, "fleet.yaml"), "utf8"));
    const adminName = String((doc.get("admins") as any).items[0].key);
    doc.setIn(["admins", adminName, "sshKeys"], [...((doc.getIn(["admins", adminName, "sshKeys"]) as any)?.toJSON?.() ?? []), pub]);
    writeFileSync(join(dir, "fleet.yaml"), doc.toString({ lineWidth: 0 }));
    const { identity } = await addTestAdmin(dir);
    assert.equal(hearth(["secrets", "generate", "-f", dir]).code, 0);
    const k = keystore("pw");
    writeFileSync(join(kdir, "k.json"), k.json);
    assert.equal(hearth(["validator", "import", join(kdir, "k.json"), "--host", "sigma", "-f", dir], { input: "pw\n" }).code, 0);

    const hosts: Record<string, ReturnType<typeof standIns>> = {};
    for (const [name, addr] of [["sigma", "192.168.80.11"], ["beta", "192.168.80.12"]] as const) {
      hosts[name] = standIns(name);
      mkdirSync(dataDir(name), { recursive: true });
      execFileSync("chown", [USER, dataDir(name)]);
      const hostKey = execFileSync("age", ["-d", "-i", identity, join(dir, `secrets/hosts/${name}/ssh-host-key.age`)]);
      const ns = net.host(name, addr);
      stops.push((await startSshd(net, ns, { address: addr, port: 22, hostKey, authorizedKey: pub, path: `${hosts[name]!.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin` })).stop);
    }
    // sigma's client has signed up to epoch 9; its key files are where agenix put them.
    writeFileSync(join(dataDir("sigma"), "history.json"), interchange(k.pubkey, 9));
    const keyFiles = [join(dataDir("sigma"), `keystores/${k.pubkey}/voting-keystore.json`), join(dataDir("sigma"), `secrets/${k.pubkey}`)];
    for (const f of keyFiles) {
      mkdirSync(join(f, ".."), { recursive: true });
      symlinkSync("/run/agenix/none", f);
    }
    const move = (extra: string[] = []) => hearth(["validator", "move", k.pubkey, "--to", "beta", "-f", dir, "--ssh-key", join(kdir, "id"), "-i", identity, ...extra], { netns: admin });
    const fleetState = () => ["hosts/sigma.yaml", "hosts/beta.yaml", `secrets/validators/${k.pubkey}/keystore.age`].map((f) => readFileSync(join(dir, f), "utf8")).join("\0");

    // Without the typed confirmation: nothing happens anywhere.
    const before = fleetState();
    const unconfirmed = move(["--confirm", "sigma"]);
    assert.equal(unconfirmed.code, 1);
    assert.match(unconfirmed.stderr, /confirm by passing --confirm beta/);
    assert.ok(!existsSync(join(hosts.sigma!.state, "calls")), "no unit was touched");

    // A new client that does not keep what it imports: the move stops before the fleet changes.
    writeFileSync(join(dataDir("beta"), "ignore-imports"), "");
    writeFileSync(join(dataDir("beta"), "history.json"), interchange(k.pubkey, 3));
    execFileSync("chown", ["-R", USER, dataDir("sigma"), dataDir("beta")]);
    const uncovered = move(["--confirm", "beta"]);
    assert.equal(uncovered.code, 1);
    assert.match(uncovered.stderr, /does not cover the old history.*protects up to epoch 3.*signed up to epoch 9/s);
    assert.equal(fleetState(), before, "the fleet is unchanged");
    rmSync(join(dataDir("beta"), "ignore-imports"));
    for (const f of keyFiles) if (!existsSync(f)) {
      mkdirSync(join(f, ".."), { recursive: true });
      symlinkSync("/run/agenix/none", f);
    }
    writeFileSync(join(hosts.sigma!.state, "lodestar-validator"), "active\n");

    const r = move(["--confirm", "beta"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /moved 1 key\(s\) from sigma to beta/);
    // The order on each host, and as whom the client's commands ran.
    assert.deepEqual(readFileSync(join(hosts.sigma!.state, "calls"), "utf8").trim().split("\n").slice(-1), ["stop lodestar-validator"]);
    assert.equal(readFileSync(join(hosts.sigma!.state, "lodestar-validator"), "utf8").trim(), "inactive", "sigma has no keys left: its client stays stopped");
    assert.match(readFileSync(join(dataDir("sigma"), "calls"), "utf8"), new RegExp(`^${USER} export$`, "m"));
    assert.deepEqual(readFileSync(join(dataDir("beta"), "calls"), "utf8").trim().split("\n").slice(-2), [`${USER} import`, `${USER} export`]);
    assert.equal(JSON.parse(readFileSync(join(dataDir("beta"), "history.json"), "utf8")).data[0].signed_attestations[0].target_epoch, "9");
    for (const f of keyFiles) assert.ok(!existsSync(f), `${f} is still on the old client`);
    // The fleet: beta lists the key (sigma's comment kept), and only beta's host key opens it now.
    assert.ok(readFileSync(join(dir, "hosts/beta.yaml"), "utf8").includes(k.pubkey));
    assert.ok(!readFileSync(join(dir, "hosts/sigma.yaml"), "utf8").includes(k.pubkey));
    assert.match(readFileSync(join(dir, "hosts/sigma.yaml"), "utf8"), /^# sigma/);
    const betaKey = join(kdir, "beta");
    writeFileSync(betaKey, ageDecrypt(identity, join(dir, "secrets/hosts/beta/ssh-host-key.age")).stdout, { mode: 0o600 });
    assert.equal(ageDecrypt(betaKey, join(dir, `secrets/validators/${k.pubkey}/password.age`)).stdout, "pw");
    assert.equal(hearth(["validate", dir]).code, 0);
  });
});
