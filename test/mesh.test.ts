// The WireGuard mesh on real WireGuard: hearth's generated configuration of a 5-host fleet and
// of the homestaking example, brought up with wireguard-go in network namespaces joined by
// veth pairs. Every host reaches every other over the mesh; hub-and-spoke routes through the
// hub; a machine whose key is not in the plan gets no handshake. Plus the plan's rules.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { FLEET_YAML, addTestAdmin, hearth, readyExample, writeFleet } from "./support/fleet.js";
import { TestNet, haveNetns } from "./support/netns.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { planFleetDir } from "../src/node/fleet-plan.js";
import { healthScript, parseHealth } from "../src/core/deploy/health.js";

const HOST = (i: number, extra = "") => `ephemeral: true
tags: [${i % 2 ? "odd" : "even"}]
storage:
  volumes:
    secrets: { type: ext4, format: false, devices: [/dev/disk/by-id/ata-d${i}], mountpoint: /var/mnt/secrets }
network:
  interface: eth0
  dhcp: false
  addresses: [192.168.77.${10 + i}/24]
${extra}`;

const run = (args: string[]) => {
  const r = hearth(args);
  assert.equal(r.code, 0, `hearth ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};

function setMesh(dir: string, mesh: Record<string, unknown>) {
  const doc = parseDocument(readFileSync(join(dir, "fleet.yaml"), "utf8"));
  doc.set("mesh", doc.createNode(mesh));
  writeFileSync(join(dir, "fleet.yaml"), doc.toString({ lineWidth: 0 }));
}

/** Generate the flake, then each member's wg-quick file (the same plan the NixOS side renders). */
function confs(dir: string, identity: string, names: string[]): Map<string, string> {
  run(["generate", dir]);
  const out = new Map<string, string>();
  for (const n of names) {
    const f = join(dir, `${n}-${Math.random().toString(36).slice(2)}.conf`);
    run(["mesh", "wg-quick", n, "-f", dir, "-o", f, "-i", identity]);
    out.set(n, readFileSync(f, "utf8"));
  }
  return out;
}

const meshJson = (dir: string) => JSON.parse(run(["mesh", "show", "-f", dir, "--json"])) as { members: { name: string; ipv4: string; peers: { name: string }[] }[] };

describe("WireGuard mesh in network namespaces", { skip: !haveNetns() && "needs root, ip netns and wireguard-go" }, () => {
  let net: TestNet;
  let dir: string;
  let identity: string;
  const names = ["h1", "h2", "h3", "h4", "h5"];
  const ns = new Map<string, string>();
  const ifname = (n: string) => `wgt${net.id}${n.slice(1)}`.slice(0, 15);

  before(async () => {
    const files: Record<string, string> = { "fleet.yaml": FLEET_YAML };
    names.forEach((n, i) => (files[`hosts/${n}.yaml`] = HOST(i + 1)));
    dir = writeFleet(files);
    setMesh(dir, { type: "wireguard", ipv4: "10.100.0.0/24", topology: "full" });
    identity = (await addTestAdmin(dir)).identity;
    run(["secrets", "generate", "-f", dir]);
    net = new TestNet("192.168.77.0/24");
    for (const [i, n] of names.entries()) ns.set(n, net.host(n, `192.168.77.${11 + i}`));
  });
  after(() => net?.destroy());

  test("full mesh: every host reaches every other over its mesh address", async () => {
    const c = confs(dir, identity, names);
    for (const n of names) await net.wireguard(ns.get(n)!, ifname(n), c.get(n)!);
    const addr = new Map(meshJson(dir).members.map((m) => [m.name, m.ipv4]));
    assert.deepEqual([...addr.values()], ["10.100.0.1", "10.100.0.2", "10.100.0.3", "10.100.0.4", "10.100.0.5"]);
    for (const a of names)
      for (const b of names) {
        if (a === b) continue;
        const r = await net.ping(ns.get(a)!, addr.get(b)!);
        assert.ok(r.ok, `${a} → ${b} (${addr.get(b)}): ${r.out}`);
      }
    // The underlay alone does not carry mesh addresses: the traffic really went through wg.
    const hs = net.exec(ns.get("h1")!, "wg", ["show", ifname("h1"), "latest-handshakes"]).out.trim().split("\n");
    assert.equal(hs.length, 4);
    for (const line of hs) assert.notEqual(line.split("\t")[1], "0", `handshake with every peer: ${line}`);
  });

  test("hub-and-spoke: spokes peer with the hub only and reach each other through it", async () => {
    setMesh(dir, { type: "wireguard", ipv4: "10.100.0.0/24", topology: "hub-and-spoke", hubs: ["h1"] });
    const c = confs(dir, identity, names);
    // The hub forwards: hearth's NixOS config says so, and the namespace does what it says.
    assert.match(readFileSync(join(dir, "flake/hosts/h1/default.nix"), "utf8"), /"net\.ipv4\.ip_forward" = 1;/);
    assert.doesNotMatch(readFileSync(join(dir, "flake/hosts/h2/default.nix"), "utf8"), /ip_forward/);
    net.exec(ns.get("h1")!, "sysctl", ["-w", "net.ipv4.ip_forward=1"]);
    for (const n of names) await net.reconfigure(ns.get(n)!, ifname(n), c.get(n)!);
    const peers = net.exec(ns.get("h2")!, "wg", ["show", ifname("h2"), "peers"]).out.trim().split("\n");
    assert.equal(peers.length, 1, "a spoke knows only the hub");
    // The hub's counters for both spokes grow while h2 pings h3: the packets pass through it.
    const transfer = () => {
      const out = net.exec(ns.get("h1")!, "wg", ["show", ifname("h1"), "transfer"]).out.trim().split("\n");
      return out.reduce((sum, line) => sum + Number(line.split("\t")[1]) + Number(line.split("\t")[2]), 0);
    };
    const pub = (n: string) => net.exec(ns.get(n)!, "wg", ["show", ifname(n), "public-key"]).out.trim();
    const peerBytes = (n: string) => {
      const line = net.exec(ns.get("h1")!, "wg", ["show", ifname("h1"), "transfer"]).out.split("\n").find((l) => l.startsWith(pub(n)))!;
      return Number(line.split("\t")[1]) + Number(line.split("\t")[2]);
    };
    assert.ok((await net.ping(ns.get("h2")!, "10.100.0.3")).ok, "spoke h2 → spoke h3");
    const [b2, b3, total] = [peerBytes("h2"), peerBytes("h3"), transfer()];
    const r = net.exec(ns.get("h2")!, "ping", ["-c", "5", "-i", "0.2", "-s", "1000", "10.100.0.3"]);
    assert.ok(r.ok, r.out);
    assert.ok(peerBytes("h2") - b2 >= 5 * 1000 * 2, "the hub carried h2's pings and replies");
    assert.ok(peerBytes("h3") - b3 >= 5 * 1000 * 2, "the hub carried them on to h3 and back");
    assert.ok(transfer() > total);
    assert.ok((await net.ping(ns.get("h5")!, "10.100.0.4")).ok, "spoke h5 → spoke h4");
  });

  test("a machine whose key is not in the plan gets no handshake", async () => {
    assert.ok((await net.ping(ns.get("h3")!, "10.100.0.1")).ok, "control: a planned host reaches the hub");
    const intruder = net.host("x", "192.168.77.99");
    const key = net.exec(intruder, "wg", ["genkey"]).out.trim();
    // It knows everything public: the peers, their keys and endpoints; only its key is not planned.
    const c = confs(dir, identity, ["h2"]).get("h2")!;
    const conf = c.replace(/^PrivateKey = .*$/m, `PrivateKey = ${key}`).replace(/^Address = .*$/m, "Address = 10.100.0.200/24");
    await net.wireguard(intruder, `wgt${net.id}x`.slice(0, 15), conf);
    const r = await net.ping(intruder, "10.100.0.1");
    assert.ok(!r.ok, "the intruder reaches nothing");
    const hs = net.exec(intruder, "wg", ["show", `wgt${net.id}x`.slice(0, 15), "latest-handshakes"]).out.trim().split("\n");
    for (const line of hs) assert.equal(line.split("\t")[1], "0", `no handshake: ${line}`);
    const hub = net.exec(ns.get("h1")!, "wg", ["show", ifname("h1"), "peers"]).out;
    assert.ok(!hub.includes(net.exec(intruder, "wg", ["show", `wgt${net.id}x`.slice(0, 15), "public-key"]).out.trim()));

    // hearth deploy's mesh check, as planned for spoke h4 (ping its hub, then ask for handshakes),
    // passes on h4 and fails on the intruder with the same peers.
    const check = planFleetDir(dir, { requireSecrets: true }).plan.hosts.find((h) => h.name === "h4")!.health.find((c) => c.kind === "wireguard")!;
    assert.deepEqual(check.kind === "wireguard" && check.peers, ["10.100.0.1"], "a spoke checks its hub");
    const runCheck = (where: string, ifn: string) => {
      const c = { ...check, interface: ifn };
      return parseHealth(`state=running\n${net.exec(where, "bash", ["-c", healthScript([c]).split("\n").slice(1).join("\n")]).out}`, [c]);
    };
    assert.deepEqual(runCheck(ns.get("h4")!, ifname("h4")).problems, []);
    assert.deepEqual(runCheck(intruder, `wgt${net.id}x`.slice(0, 15)).problems, [`${check.name}: no handshake with any of 1 peers on ${`wgt${net.id}x`.slice(0, 15)}`]);
    assert.match(runCheck(ns.get("h4")!, "wgnone").problems[0] ?? "", /interface wgnone is missing/);
  });
});

describe("the homestaking example's mesh on real WireGuard", { skip: !haveNetns() && "needs root, ip netns and wireguard-go" }, () => {
  let net: TestNet;
  after(() => net?.destroy());

  test("its hub-and-spoke mesh connects every host (NAT hosts dial the hub)", async () => {
    const { dir, identity } = await readyExample("homestaking");
    const mesh = meshJson(dir);
    const names = mesh.members.map((m) => m.name);
    const c = confs(dir, identity, names);
    // The hub's endpoint in the example is 203.0.113.10: the underlay is that network.
    net = new TestNet("203.0.113.0/24");
    const spaces = new Map<string, string>();
    names.forEach((n, i) => spaces.set(n, net.host(`e${i}`, n === "hetzner-ephemeral-alpha" ? "203.0.113.10" : `203.0.113.${20 + i}`)));
    net.exec(spaces.get("hetzner-ephemeral-alpha")!, "sysctl", ["-w", "net.ipv4.ip_forward=1"]);
    for (const [i, n] of names.entries()) await net.wireguard(spaces.get(n)!, `wge${net.id}${i}`.slice(0, 15), c.get(n)!);
    const addr = new Map(mesh.members.map((m) => [m.name, m.ipv4]));
    // Spokes first reach the hub (which learns where they are), then each other through it.
    for (const n of names) if (n !== "hetzner-ephemeral-alpha") assert.ok((await net.ping(spaces.get(n)!, addr.get("hetzner-ephemeral-alpha")!)).ok, `${n} → hub`);
    for (const a of names)
      for (const b of names) if (a !== b) assert.ok((await net.ping(spaces.get(a)!, addr.get(b)!)).ok, `${a} → ${b}`);
  });
});

describe("mesh plan rules", () => {
  test("addresses are stable: adding a host renumbers nobody; pins are kept; collisions are errors", async () => {
    const files: Record<string, string> = { "fleet.yaml": FLEET_YAML };
    files["hosts/b.yaml"] = HOST(1);
    files["hosts/d.yaml"] = HOST(2);
    const dir = writeFleet(files);
    setMesh(dir, { type: "wireguard" });
    await addTestAdmin(dir);
    run(["secrets", "generate", "-f", dir]);
    run(["generate", dir]);
    const before = Object.fromEntries(meshJson(dir).members.map((m) => [m.name, m.ipv4]));
    assert.deepEqual(before, { b: "10.100.0.1", d: "10.100.0.2" });
    // "a" sorts first, yet takes the next free address instead of renumbering b and d.
    writeFileSync(join(dir, "hosts/a.yaml"), HOST(3));
    writeFileSync(join(dir, "hosts/c.yaml"), HOST(4, "mesh:\n  address: 10.100.0.9\n"));
    run(["secrets", "generate", "-f", dir]);
    const g = run(["generate", dir]);
    assert.match(g, /new: a\)/);
    const afterAdd = Object.fromEntries(meshJson(dir).members.map((m) => [m.name, m.ipv4]));
    assert.deepEqual(afterAdd, { a: "10.100.0.3", b: "10.100.0.1", c: "10.100.0.9", d: "10.100.0.2" });
    writeFileSync(join(dir, "hosts/e.yaml"), HOST(5, "mesh:\n  address: 10.100.0.9\n"));
    const bad = hearth(["validate", dir]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /hosts\/e\.yaml:\d+:\d+: error: mesh\.address: 10\.100\.0\.9 is already pinned by 'c'/);
    writeFileSync(join(dir, "hosts/e.yaml"), HOST(5, "mesh:\n  address: 10.200.0.9\n"));
    assert.match(hearth(["validate", dir]).stderr, /10\.200\.0\.9 is not a usable address of the mesh prefix 10\.100\.0\.0\/24/);
  });

  test("topology findings, mesh-bound ports on the mesh interface only, headscale wiring", async () => {
    const files: Record<string, string> = { "fleet.yaml": FLEET_YAML };
    files["hosts/a.yaml"] = HOST(1);
    files["hosts/b.yaml"] = HOST(2).replace(/addresses: .*\n/, "").replace("dhcp: false", "dhcp: true");
    files["hosts/c.yaml"] = HOST(3).replace(/addresses: .*\n/, "").replace("dhcp: false", "dhcp: true");
    const dir = writeFleet(files);
    setMesh(dir, { type: "wireguard", topology: "hub-and-spoke", hubs: ["b"] });
    const v = hearth(["validate", dir]);
    assert.match(v.stderr, /hosts\/b\.yaml:\d+:\d+: error: mesh\.endpoint: hub 'b' has no endpoint/);
    setMesh(dir, { type: "wireguard", topology: "full" });
    assert.match(hearth(["validate", dir]).stderr, /warning: mesh\.endpoint: neither this member nor 1 of its peers \(c\) has an endpoint/);

    // A beacon API bound to the mesh: its port opens on wg0 only.
    writeFileSync(join(dir, "hosts/a.yaml"), HOST(1).replace("storage:", "storage:") + `services:
  execution: { client: geth, dataDir: /var/mnt/secrets/geth }
  consensus: { client: lighthouse, dataDir: /var/mnt/secrets/lh, address: mesh }
`);
    await addTestAdmin(dir);
    run(["secrets", "generate", "-f", dir]);
    run(["generate", dir]);
    const a = readFileSync(join(dir, "flake/hosts/a/default.nix"), "utf8");
    assert.match(a, /interfaces = \{\n\s+wg0 = \{\n\s+allowedTCPPorts = \[ 5052 5054 \];/);
    assert.match(a, /"--http-address"\n\s+"10\.100\.0\.1"/);
    assert.match(a, /firewall = \{\n\s+enable = true;\n\s+allowedTCPPorts = \[ 9000 30303 \];/, "5052 is not among the global openings");
    writeFileSync(join(dir, "hosts/b.yaml"), HOST(2) + "mesh:\n  enable: false\nservices:\n  consensus: { client: lighthouse, dataDir: /var/mnt/secrets/lh, address: mesh, executionEndpoint: http://10.0.0.1:8551 }\n");
    assert.match(hearth(["validate", dir]).stderr, /services\.consensus\.address: `address: mesh` binds to the mesh address, but this host is not in a mesh/);
  });
});

describe("Headscale preauth registration (SQL against a stand-in of Headscale 0.23's tables)", () => {
  test("registers the key once, idempotently, so Headscale's `key = ?` lookup finds a reusable, non-expiring key", () => {
    const dir = writeFleet({});
    const db = join(dir, "db.sqlite");
    // Stand-in: the columns of Headscale 0.23's users and pre_auth_keys (hscontrol/types), created
    // here because Headscale itself is not packaged in Debian.
    execFileSync("sqlite3", [db], {
      input: `CREATE TABLE users (id integer PRIMARY KEY AUTOINCREMENT, created_at datetime, updated_at datetime, deleted_at datetime, name text UNIQUE);
CREATE TABLE pre_auth_keys (id integer PRIMARY KEY AUTOINCREMENT, key text, user_id integer, reusable numeric, ephemeral numeric DEFAULT false, used numeric DEFAULT false, created_at datetime, expiration datetime);
INSERT INTO users (name, created_at, updated_at) VALUES ('someone-else', datetime('now'), datetime('now'));`,
    });
    const sql = readFileSync(join(REPO_ROOT, "nix/modules/headscale-preauth.sql"), "utf8");
    const module = readFileSync(join(REPO_ROOT, "nix/modules/headscale-preauth.nix"), "utf8");
    // The module feeds the parameters on stdin exactly like this (never on a command line).
    assert.match(module, /printf '\.parameter set :user %s\\n' "'\$\{cfg\.user\}'"/);
    assert.match(module, /printf '\.parameter set :key %s\\n' "'\$key'"/);
    const key = "0123456789abcdef0123456789abcdef0123456789abcdef";
    const register = () => execFileSync("sqlite3", ["-bail", db], { input: `.parameter set :user 'hearth'\n.parameter set :key '${key}'\n${sql}` });
    register();
    register();
    const rows = execFileSync("sqlite3", ["-json", db, `SELECT u.name, k.reusable, k.used, k.expiration FROM pre_auth_keys k JOIN users u ON u.id = k.user_id WHERE k.key = '${key}'`]).toString();
    assert.deepEqual(JSON.parse(rows), [{ name: "hearth", reusable: 1, used: 0, expiration: null }]);
    assert.equal(execFileSync("sqlite3", [db, "SELECT count(*) FROM users"]).toString().trim(), "2", "one user added, none touched");
  });
});

test("pi-cluster's tailnet: clients join the server with the preauth key; ACL owns every advertised tag; pinned hosts get DNS records", async () => {
  const { dir } = await readyExample("pi-cluster");
  run(["generate", dir]);
  const acl = JSON.parse(readFileSync(join(dir, "flake/hosts/pi-alpha/headscale-acl.json"), "utf8").replace(/^\/\/.*\n/, "")) as { tagOwners: Record<string, string[]>; acls: { dst: string[] }[] };
  for (const host of ["pi-alpha", "pi-beta", "pi-gamma"]) {
    const text = readFileSync(join(dir, `flake/hosts/${host}/default.nix`), "utf8");
    assert.match(text, /authKeyFile = "\/run\/agenix\/headscale-preauth";/);
    assert.match(text, /"--login-server"\n\s+"https:\/\/pi-cluster\.example\.org"/);
    const tags = /--advertise-tags=([^"]+)"/.exec(text)![1]!.split(",");
    for (const t of tags) assert.ok(acl.tagOwners[t], `${host} advertises ${t}, which the ACL must own`);
    assert.match(text, /headscale-preauth = \{\n\s+file = \.\.\/\.\.\/secrets\/fleet\/headscale-preauth\.age;/);
  }
  const alpha = readFileSync(join(dir, "flake/hosts/pi-alpha/default.nix"), "utf8");
  for (const [n, ip] of [["pi-alpha", "100.64.1.1"], ["pi-beta", "100.64.1.2"], ["pi-gamma", "100.64.1.3"]] as const)
    assert.match(alpha, new RegExp(`name = "${n}\\.pi";\\n\\s+type = "A";\\n\\s+value = "${ip.replace(/\./g, "\\.")}";`));
  assert.match(alpha, /policy = \{\n\s+mode = "file";\n\s+path = \.\/headscale-acl\.json;/);
  assert.match(alpha, /headscalePreauth = \{\n\s+enable = true;/);
  assert.ok(acl.acls.some((a) => a.dst.includes("tag:hearth:22")));
  // The SQL the server runs ships in the flake beside its module.
  assert.match(readFileSync(join(dir, "flake/modules/headscale-preauth.sql"), "utf8"), /^-- Generated by hearth/);
});
