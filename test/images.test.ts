// Node classes (issue 14, seed 004): one image per class, identical on every machine, that learns
// which host it is from an identity drive and pulls that host's configuration. The schema and its
// findings (file, line, hint); the class image as the real evaluator sees it, in every format; that
// it is the same image whatever hosts the fleet lists; the A/B disk's partitions; `hearth image`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { ADMIN_KEY, FLEET_YAML, addTestAdmin, copyExample, hearth, tempDir, writeFleet } from "./support/fleet.js";
import { evalHost, evalValue, evalWith, problems, SHARED_DIR } from "./support/nixos-eval.js";
import { REPO_ROOT, readStaticNix, validateFleetDir } from "../src/node/fleet-dir.js";
import { plan, AGENT_PLACEHOLDER } from "../src/core/plan/plan.js";
import { loadFleet } from "../src/core/fleet/load.js";
import { AGENT, minisignKeyId } from "../src/core/features/agent.js";
import { AB_DISK_LABELS, IMAGE_FORMAT_INFO } from "../src/core/features/formats.js";
import type { Issue } from "../src/core/validate/issues.js";
// The A/B layout as hearth's agent reads and writes it: the image must be what the agent expects.
import { ESP_PATHS, PARTLABEL, defaultFor, entryText, loaderConf, parseEntryName, bootedSlot } from "../src/agent/ab.js";

// ---------------------------------------------------------------------------------------------
// A real minisign key (Debian's minisign 0.11), so the key files the image carries are checked
// by minisign itself.
const KEYS = (() => {
  const d = tempDir("hearth-minisign-");
  const r = spawnSync("minisign", ["-G", "-W", "-p", join(d, "k.pub"), "-s", join(d, "k.sec")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const line = readFileSync(join(d, "k.pub"), "utf8").split("\n")[1]!;
  return { dir: d, line, sec: join(d, "k.sec") };
})();

const CLASS_FLEET = (images: string, signing = `signing:\n  publicKeys: ["${KEYS.line}"]\n`) => `${FLEET_YAML}${signing}images:\n${images}`;
const K3S_CLASS = `  k3s-node:\n    system: x86_64-linux\n    hardware: generic-x86-uefi\n    formats: [kexec, netboot, iso, disk]\n    server: https://hearth.lab.example.org\n`;
const NODE = (extra = "") => `${extra}ephemeral: true\nimage: k3s-node\n`;

function findings(files: Record<string, string>): Issue[] {
  return validateFleetDir(writeFleet(files)).issues;
}
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split("\n").length;
function one(issues: Issue[], re: RegExp): Issue {
  const hit = issues.find((i) => re.test(i.message));
  assert.ok(hit, `no finding matching ${re}: ${JSON.stringify(issues.map((i) => `${i.file}: ${i.message}`))}`);
  return hit!;
}

// ---------------------------------------------------------------------------------------------
// Schema and validation

test("a fleet with classes and class hosts is valid; fleets without them stay valid", () => {
  assert.deepEqual(findings({ "fleet.yaml": CLASS_FLEET(K3S_CLASS), "hosts/a.yaml": NODE(), "hosts/b.yaml": NODE() }), []);
  assert.deepEqual(findings({ "fleet.yaml": FLEET_YAML, "hosts/a.yaml": "ephemeral: true\n" }), []);
  // Defaults: kexec, 5m, the generic x86 profile.
  const l = loadFleet({ "fleet.yaml": CLASS_FLEET("  c:\n    server: http://10.100.0.1:7420\n") });
  assert.deepEqual(l.fleet!.images["c"], { system: "x86_64-linux", hardware: "generic-x86-uefi", formats: ["kexec"], server: "http://10.100.0.1:7420", checkInterval: "5m" });
});

test("a host naming an unknown class: its file, the image: line, a did-you-mean hint", () => {
  const host = `description: worker\nephemeral: true\nimage: k3s-nod\n`;
  const i = one(findings({ "fleet.yaml": CLASS_FLEET(K3S_CLASS), "hosts/a.yaml": host }), /no class 'k3s-nod'/);
  assert.equal(i.file, "hosts/a.yaml");
  assert.deepEqual(i.path, ["image"]);
  assert.equal(i.line, lineOf(host, "image:"));
  assert.equal(i.hint, "did you mean 'k3s-node'?");
  // With no classes at all, the hint says where to define one.
  const none = one(findings({ "fleet.yaml": FLEET_YAML, "hosts/a.yaml": host }), /no class 'k3s-nod'/);
  assert.match(none.hint!, /define the class under images: in fleet\.yaml/);
});

test("a class with no signing key to trust: fleet.yaml, the class's line, the command that makes one", () => {
  for (const signing of ["", "signing:\n  publicKeys: []\n"]) {
    const fleet = CLASS_FLEET(K3S_CLASS, signing);
    const i = one(findings({ "fleet.yaml": fleet }), /class 'k3s-node' has no key to trust/);
    assert.equal(i.file, "fleet.yaml");
    assert.deepEqual(i.path, ["images", "k3s-node"]);
    assert.equal(i.line, lineOf(fleet, "    system: x86_64-linux"), "at the class's mapping");
    assert.match(i.hint!, /hearth signing init/);
  }
  // A key that is not a minisign public key is a schema finding at its line.
  const fleet = CLASS_FLEET(K3S_CLASS, `signing:\n  publicKeys: ["ssh-ed25519 AAAA"]\n`);
  const bad = one(findings({ "fleet.yaml": fleet }), /must be a minisign public key/);
  assert.deepEqual(bad.path, ["signing", "publicKeys", 0]);
  assert.equal(bad.line, lineOf(fleet, "publicKeys"));
});

test("a class host whose system or hardware differs from the class's: at the field, or at image: when the file leaves it to the default", () => {
  const fleet = CLASS_FLEET(K3S_CLASS.replace("generic-x86-uefi", "qemu-vm"));
  const host = `hardware: generic-x86-uefi\nsystem: x86_64-linux\n${NODE()}`;
  const hw = one(findings({ "fleet.yaml": fleet, "hosts/a.yaml": host }), /built for hardware 'qemu-vm', but this host is 'generic-x86-uefi'/);
  assert.equal(hw.file, "hosts/a.yaml");
  assert.deepEqual(hw.path, ["hardware"]);
  assert.equal(hw.line, 1);
  assert.equal(hw.hint, "set hardware: qemu-vm, or use a class for generic-x86-uefi");
  // An aarch64 class (Raspberry Pi 4) and a host that leaves system and hardware to their x86 defaults.
  const pi = CLASS_FLEET(`  pis:\n    system: aarch64-linux\n    hardware: raspberry-pi-4\n    server: https://h.example.org\n`);
  const host2 = `description: a pi\n${NODE().replace("k3s-node", "pis")}`;
  const issues = findings({ "fleet.yaml": pi, "hosts/a.yaml": host2 });
  const sys = one(issues, /class 'pis' is built for aarch64-linux, but this host is x86_64-linux/);
  assert.deepEqual(sys.path, ["image"]);
  assert.equal(sys.line, lineOf(host2, "image:"));
  assert.equal(sys.hint, "set system: aarch64-linux, or use a class built for x86_64-linux");
  assert.deepEqual(one(issues, /built for hardware 'raspberry-pi-4'/).path, ["image"]);
});

test("formats a class cannot have: sd-image (schema), disk without UEFI systemd-boot, iso on a Raspberry Pi", () => {
  const sd = CLASS_FLEET(K3S_CLASS.replace("[kexec, netboot, iso, disk]", "[kexec, sd-image]"));
  const s = one(findings({ "fleet.yaml": sd }), /SD card image is made per Raspberry Pi host/);
  assert.deepEqual(s.path, ["images", "k3s-node", "formats", 1]);
  assert.equal(s.line, lineOf(sd, "formats:"));
  assert.equal(s.hint, "one of: kexec, netboot, iso, disk");

  const pi = CLASS_FLEET(`  pis:\n    system: aarch64-linux\n    hardware: raspberry-pi-5\n    formats: [netboot, iso, disk]\n    server: https://h.example.org\n`);
  const issues = findings({ "fleet.yaml": pi });
  const disk = one(issues, /A\/B disk image boots with systemd-boot from UEFI, and hardware 'raspberry-pi-5' boots with its firmware and U-Boot/);
  assert.deepEqual(disk.path, ["images", "pis", "formats", 2]);
  assert.equal(disk.file, "fleet.yaml");
  assert.equal(disk.line, lineOf(pi, "formats:"));
  assert.match(disk.hint!, /use kexec, netboot or iso for this class/);
  const iso = one(issues, /firmware does not boot an ISO image/);
  assert.deepEqual(iso.path, ["images", "pis", "formats", 1]);
  // A GRUB/BIOS profile cannot take the A/B disk either; a class's own system must fit its hardware.
  const cloud = CLASS_FLEET(`  c:\n    hardware: hetzner-cloud\n    system: aarch64-linux\n    formats: [disk]\n    server: https://h.example.org\n`);
  const ci = findings({ "fleet.yaml": cloud });
  assert.match(one(ci, /hardware 'hetzner-cloud' boots with GRUB/).hint!, /UEFI hardware profile/);
  const sys = one(ci, /hardware 'hetzner-cloud' is x86_64-linux, but the class's system is aarch64-linux/);
  assert.deepEqual(sys.path, ["images", "c", "system"]);
  assert.equal(sys.hint, "set system: x86_64-linux");
});

test("a class host runs from RAM with the key hearth made; a class cannot share its flake name with a host", () => {
  const host = `image: k3s-node\nsshHostKey: "${ADMIN_KEY}"\nstorage:\n  secretsDir: /var/lib/x\n  volumes:\n    x: { type: ext4, format: false, devices: [/dev/disk/by-id/d], mountpoint: /var/lib/x }\n`;
  const issues = findings({ "fleet.yaml": CLASS_FLEET(K3S_CLASS), "hosts/a.yaml": host, "hosts/image-k3s-node.yaml": NODE() });
  const ram = one(issues, /a host that boots a class image runs from RAM/);
  assert.deepEqual(ram.path, ["image"]);
  assert.equal(ram.hint, "set ephemeral: true, or remove image: to install the host from its own media");
  const key = one(issues, /gets its SSH host key from its identity drive/);
  assert.deepEqual(key.path, ["sshHostKey"]);
  assert.equal(key.line, 2);
  const dir = one(issues, /ignored: a class node reads its SSH host key from its identity drive/);
  assert.equal(dir.severity, "warning");
  assert.deepEqual(dir.path, ["storage", "secretsDir"]);
  const clash = one(issues, /nixosConfigurations\.image-k3s-node, which is also the name of a host/);
  assert.equal(clash.file, "fleet.yaml");
  // A RAM-only class node decrypts with the key from its identity drive: no persistent place needed.
  assert.ok(!issues.some((i) => /no persistent place to keep that key/.test(i.message)));
});

test("a class server on the mesh is a warning: the image holds no mesh key, so its first pull cannot use the mesh", () => {
  const fleet = `${CLASS_FLEET(K3S_CLASS.replace("https://hearth.lab.example.org", "http://10.100.0.1:7420"))}mesh:\n  type: wireguard\n`;
  const i = one(findings({ "fleet.yaml": fleet, "hosts/a.yaml": NODE() }), /10\.100\.0\.1 is a mesh address, but the class image has no mesh key/);
  assert.equal(i.severity, "warning");
  assert.deepEqual(i.path, ["images", "k3s-node", "server"]);
  assert.equal(i.line, lineOf(fleet, "server:"));
  // A LAN address outside the mesh is fine.
  assert.deepEqual(findings({ "fleet.yaml": fleet.replace("10.100.0.1", "192.168.1.5"), "hosts/a.yaml": NODE() }).filter((x) => /mesh address/.test(x.message)), []);
});

// ---------------------------------------------------------------------------------------------
// Generation, evaluated with the real evaluator (test/nixos-eval/harness.nix)

const IMAGE = "image-k3s-node";
const IMAGE_FILES = ["images/k3s-node/default.nix", "images/k3s-node/hardware.nix"];
const evalImage = (flake: string, attr: string, format?: string) => evalValue(flake, IMAGE, attr, format, { files: IMAGE_FILES });
/** Attribute names of an attribute set of the image's configuration (forcing no values). */
const namesIn = (flake: string, attr: string, format?: string) => evalWith(flake, IMAGE, `builtins.attrNames h.${attr}`, format, { files: IMAGE_FILES }) as string[];

/** examples/ram-nodes with a test admin, the real signing key above, its secrets, generated. */
async function ramNodes(edit?: (dir: string) => void): Promise<{ dir: string; flake: string }> {
  const dir = copyExample("ram-nodes");
  await addTestAdmin(dir);
  const doc = parseDocument(readFileSync(join(dir, "fleet.yaml"), "utf8"));
  doc.setIn(["signing", "publicKeys"], [KEYS.line]);
  writeFileSync(join(dir, "fleet.yaml"), doc.toString({ lineWidth: 0 }));
  edit?.(dir);
  const s = hearth(["secrets", "generate", "-f", dir]);
  assert.equal(s.code, 0, s.stderr);
  const flake = join(tempDir(), "flake");
  const g = hearth(["generate", dir, "-o", flake]);
  assert.equal(g.code, 0, g.stderr);
  return { dir, flake };
}
const generated = ramNodes();

test("ram-nodes: the class image evaluates with zero problems in every format it lists, and each is a flake package", async () => {
  const { flake } = await generated;
  const formats = [undefined, ...(["kexec", "netboot", "iso", "disk"] as const).map((f) => IMAGE_FORMAT_INFO[f].module!)];
  const all: string[] = [];
  for (const fm of formats) {
    const r = evalHost(flake, IMAGE, fm, { files: IMAGE_FILES });
    assert.ok(r.checkedPaths > 30, `only ${r.checkedPaths} values checked`);
    for (const w of r.warnings) console.log(`warning: ${IMAGE} (${fm}): ${w}`);
    all.push(...problems(r));
  }
  assert.deepEqual(all, [], all.join("\n\n"));
  const names = evalHost(flake, IMAGE, undefined, { files: IMAGE_FILES }).packageNames;
  for (const p of ["image-k3s-node", "image-k3s-node-kexec", "image-k3s-node-netboot", "image-k3s-node-iso", "image-k3s-node-disk", "node1", "node1-kexec"])
    assert.ok(names.includes(p), `flake packages name ${p}: ${names.join(", ")}`);
  // The harness sees the image's own files and the format's: a misspelt option in either fails.
  const typo = join(tempDir(), "flake");
  cpSync(flake, typo, { recursive: true });
  writeFileSync(join(typo, IMAGE_FILES[0]!), readFileSync(join(typo, IMAGE_FILES[0]!), "utf8").replace("useDHCP = true;", "useDHPC = true;"));
  assert.match(problems(evalHost(typo, IMAGE, undefined, { files: IMAGE_FILES })).join("\n"), /The option `networking\.useDHPC' does not exist/);
  cpSync(join(flake, IMAGE_FILES[0]!), join(typo, IMAGE_FILES[0]!));
  writeFileSync(join(typo, "formats/ab-disk.nix"), readFileSync(join(typo, "formats/ab-disk.nix"), "utf8").replace("stripNixStorePrefix = true;", "stripNixStorePrefx = true;"));
  assert.match(problems(evalHost(typo, IMAGE, "ab-disk.nix", { files: IMAGE_FILES })).join("\n"), /stripNixStorePrefx' does not exist/);
  // The class's VM test boots the image's own modules.
  const t = evalImage(flake, "vmTest") as { name: string; imports: string[] };
  assert.equal(t.name, "image-k3s-node-boots");
  assert.ok(t.imports.some((i) => i.endsWith("/images/k3s-node")) && t.imports.some((i) => i.endsWith("/modules/hearth-agent.nix")));
});

test("the class image runs the agent: Node.js on the flake's agent script with /etc/hearth/agent.json, restarted always, after the network", async () => {
  const { flake } = await generated;
  const svc = Object.fromEntries(["serviceConfig", "after", "wants", "wantedBy", "restartIfChanged"].map((k) => [k, evalImage(flake, `config.systemd.services.hearth-agent.${k}`)])) as Record<string, any>;
  // nodejs_24: nixos-26.05 marks nodejs_20 insecure, refusing to evaluate it (NixOS/nixpkgs#511784,
  // 2026-04-20, before the 26.05 freeze; removed after the release in #541445). Node 24 is the LTS.
  assert.match(svc.serviceConfig.ExecStart, /^\/nix\/store\/[0-9a-z]{32}-nodejs_24\/bin\/node \/nix\/store\/[0-9a-z]{32}-hearth-agent\.mjs --config \/etc\/hearth\/agent\.json$/);
  assert.equal(svc.serviceConfig.Restart, "always");
  assert.deepEqual(svc.after, ["network-online.target"]);
  assert.deepEqual(svc.wants, ["network-online.target"]);
  assert.deepEqual(svc.wantedBy, ["multi-user.target"]);
  // A switch must not restart the agent that runs it (systemd.services.<name>.restartIfChanged, nixos-options.json).
  assert.equal(svc.restartIfChanged, false);
  assert.equal(svc.serviceConfig.StateDirectory, "hearth-agent");
  // The script in the store is the flake's agent/hearth-agent.mjs: the built agent, or the placeholder that says how to build it.
  const script = readFileSync(join(flake, AGENT.script), "utf8");
  const built = join(REPO_ROOT, "dist/agent/hearth-agent.mjs");
  const body = existsSync(built) ? readFileSync(built, "utf8") : AGENT_PLACEHOLDER;
  assert.equal(script.replace(/^(#![^\n]*\n)?\/\/ Generated by hearth[^\n]*\n/, "$1"), body);
  const storeName = svc.serviceConfig.ExecStart.split(" ")[1];
  const expectedHash = spawnSync("nix-store", ["--add", join(flake, AGENT.script)], { encoding: "utf8" }).stdout.trim();
  assert.equal(storeName, expectedHash, "ExecStart runs exactly the flake's agent/hearth-agent.mjs");
});

test("the class image's /etc/hearth/agent.json and its trusted keys, which minisign itself accepts", async () => {
  const { flake } = await generated;
  const etc = (name: string) => evalImage(flake, `config.environment.etc."${name}".text`) as string;
  assert.deepEqual(JSON.parse(etc("hearth/agent.json")), {
    server: "https://hearth.lab.example.org",
    class: "k3s-node",
    identityLabel: AGENT.identityLabel,
    stateDir: AGENT.stateDir,
    intervalSeconds: 300,
    trustedKeysDir: AGENT.trustedKeysDir,
  });
  assert.equal(`/etc/hearth/agent.json`, AGENT.configPath);
  const id = minisignKeyId(KEYS.line);
  assert.deepEqual(namesIn(flake, "config.environment.etc").filter((n) => n.startsWith("hearth/")).sort(), ["hearth/agent.json", `hearth/signing.d/${id}.pub`]);
  const pub = etc(`hearth/signing.d/${id}.pub`);
  assert.equal(pub, readFileSync(join(KEYS.dir, "k.pub"), "utf8"), "byte for byte the minisign.pub that minisign -G wrote");
  // minisign verifies a file signed with the fleet's key against the image's key file.
  const d = tempDir();
  writeFileSync(join(d, "release.json"), '{"system":"/nix/store/x"}\n');
  writeFileSync(join(d, `${id}.pub`), pub);
  assert.equal(spawnSync("minisign", ["-S", "-s", KEYS.sec, "-m", join(d, "release.json")], { encoding: "utf8", input: "" }).status, 0);
  const v = spawnSync("minisign", ["-V", "-p", join(d, `${id}.pub`), "-m", join(d, "release.json")], { encoding: "utf8" });
  assert.equal(v.status, 0, v.stderr);
});

test("the class image has no host identity: a generic name, no baked SSH host key, no agenix, no host's services", async () => {
  const { flake } = await generated;
  assert.equal(evalImage(flake, "config.networking.hostName"), "k3s-node");
  // sshd's key is made at boot under /etc on the tmpfs root: nothing in the image, nothing from a disk.
  assert.deepEqual(evalImage(flake, "config.services.openssh.hostKeys"), [{ path: "/etc/ssh/ssh_host_ed25519_key", type: "ed25519" }]);
  for (const fm of [undefined, "kexec-tree.nix", "netboot-tree.nix", "iso.nix", "ab-disk.nix"])
    if (fm !== "iso.nix") assert.equal(evalImage(flake, `config.fileSystems."/".fsType`, fm), "tmpfs", `${fm}: / is in RAM`);
  const etcNames = namesIn(flake, "config.environment.etc");
  assert.ok(!etcNames.some((n) => n.startsWith("ssh/")), `no key file is placed: ${etcNames.join(", ")}`);
  // agenix is not among the image's modules, so nothing could be decrypted; the host's configuration has it.
  assert.equal(evalImage(flake, "config ? age"), false);
  assert.equal(evalValue(flake, "node1", "config ? age"), true);
  assert.equal(evalImage(flake, "config.hearth ? services"), false, "no hearth-service units");
  assert.deepEqual(namesIn(flake, "config.systemd.services"), ["hearth-agent"]);
  assert.ok((evalWith(flake, "node1", "builtins.attrNames h.config.systemd.services") as string[]).includes("hearth-agent"));
  assert.equal(evalImage(flake, "config.services.k3s.enable"), false);
  const text = IMAGE_FILES.map((f) => readFileSync(join(flake, f), "utf8")).join("\n");
  for (const host of ["node1", "node2", "node3", "10.10.0.11", "enp1s0", "k3s-state", ".age", "secrets/", "agenix"]) assert.ok(!text.includes(host), `the image's files mention ${host}`);
});

test("the class's hosts keep their configuration, with the same agent and the SSH host key from the identity drive", async () => {
  const { flake } = await generated;
  for (const host of ["node1", "node2", "node3"]) {
    assert.deepEqual(problems(evalHost(flake, host)), [], host);
    assert.equal(evalValue(flake, host, "config.networking.hostName"), host);
    assert.equal(evalValue(flake, host, `config.environment.etc."hearth/agent.json".text`), evalImage(flake, `config.environment.etc."hearth/agent.json".text`));
    assert.equal(evalValue(flake, host, "config.systemd.services.hearth-agent.serviceConfig.ExecStart"), evalImage(flake, "config.systemd.services.hearth-agent.serviceConfig.ExecStart"));
    assert.deepEqual(evalValue(flake, host, "config.services.openssh.hostKeys"), [{ path: AGENT.sshHostKey, type: "ed25519" }]);
    assert.deepEqual(evalValue(flake, host, "config.age.identityPaths"), [AGENT.sshHostKey]);
    assert.equal(AGENT.sshHostKey, "/run/hearth/identity/ssh_host_ed25519_key");
  }
  assert.equal(evalValue(flake, "node1", "config.services.k3s.role"), "server");
  // The agent's runtime directory for the identity is made 0700 before it runs.
  assert.ok((evalImage(flake, "config.systemd.tmpfiles.rules") as string[]).includes("d /run/hearth/identity 0700 root root - -"));
});

/** Option values of the class image that make it what it is, in one evaluation. */
function imageFingerprint(flake: string): unknown {
  const paths = [
    "config.networking.hostName",
    `config.environment.etc."hearth/agent.json".text`,
    "config.systemd.services.hearth-agent.serviceConfig",
    "config.systemd.services.hearth-agent.after",
    "config.services.openssh.hostKeys",
    "config.services.openssh.settings",
    "config.users.users.root.openssh.authorizedKeys.keys",
    "config.boot.initrd.availableKernelModules",
    "config.nixpkgs.hostPlatform",
    "config.system.stateVersion",
  ];
  const base = Object.fromEntries(paths.map((p) => [p, evalImage(flake, p)]));
  const etc = namesIn(flake, "config.environment.etc");
  return { ...base, etc, disk: abDisk(flake) };
}

test("one image for the class whatever hosts the fleet lists: the same files, byte for byte, and the same evaluated system", async () => {
  const { flake: a } = await generated;
  // Another fleet, identical but for its hosts: node2 renamed so that another host comes first, node3 gone.
  const { flake: b } = await ramNodes((dir) => {
    renameSync(join(dir, "hosts/node2.yaml"), join(dir, "hosts/aaa-first.yaml"));
    rmSync(join(dir, "hosts/node3.yaml"));
  });
  assert.notEqual(readFileSync(join(a, "flake.nix"), "utf8"), readFileSync(join(b, "flake.nix"), "utf8"), "the fleets differ (their hosts)");
  const imageFiles = (f: string) =>
    ["agent", "images", "formats", "modules"].flatMap((d) => readdirSync(join(f, d), { recursive: true }).map((e) => join(d, String(e)))).concat(["lib/outputs.nix", "lib/image-modules.nix"]).filter((p) => statSync(join(f, p)).isFile() && !p.endsWith("ab-disk-probe.nix")).sort();
  assert.deepEqual(imageFiles(a), imageFiles(b));
  for (const f of imageFiles(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
  // The class's entry of flake.nix (what outputs.nix builds it from) is the same text.
  const classEntry = (f: string) => readFileSync(join(f, "flake.nix"), "utf8").replace(/^[\s\S]*?\n    images = \{/, "");
  assert.equal(classEntry(a), classEntry(b));
  const fa = imageFingerprint(a);
  assert.deepEqual(imageFingerprint(b), fa);
  // And it reads nothing of any host: without hosts/ at all, the image evaluates to the same.
  const c = join(tempDir(), "flake");
  cpSync(b, c, { recursive: true });
  rmSync(join(c, "hosts"), { recursive: true });
  assert.deepEqual(problems(evalHost(c, IMAGE, "ab-disk.nix", { files: IMAGE_FILES })), []);
  assert.deepEqual(imageFingerprint(c), fa);
});

// ---------------------------------------------------------------------------------------------
// The A/B disk (nix/formats/ab-disk.nix through nixpkgs' image.repart)

/**
 * The disk's partitions and boot files. The format is applied with test/nixos-eval/stubs/system-build.nix,
 * which stands in for the system's toplevel, kernel and initrd that the partitions name.
 */
function abDisk(flake: string) {
  writeFileSync(join(flake, "formats/ab-disk-probe.nix"), `{ imports = [ ./ab-disk.nix ${join(REPO_ROOT, "test/nixos-eval/stubs/system-build.nix")} ]; }\n`);
  const parts = evalImage(flake, "config.image.repart.partitions", "ab-disk-probe.nix") as Record<string, { repartConfig: Record<string, string>; contents: Record<string, { source: string }>; storePaths: string[]; stripNixStorePrefix: boolean }>;
  const text = (f: string) => evalImage(flake, `config.image.repart.partitions."10-hearth-boot".contents."${f}".source.text`, "ab-disk-probe.nix") as string;
  const ro = evalWith(flake, IMAGE, `{ inherit (h.config.fileSystems."/nix/.ro-store") device fsType options neededForBoot; }`, "ab-disk-probe.nix", { files: IMAGE_FILES });
  return {
    parts,
    entry: text("/loader/entries/hearth-a.conf"),
    loader: text("/loader/loader.conf"),
    roStore: ro,
    boot: evalImage(flake, `config.fileSystems."/boot".device`, "ab-disk-probe.nix"),
    initrd: evalImage(flake, "config.boot.initrd.postDeviceCommands", "ab-disk-probe.nix"),
    systemdInitrd: evalImage(flake, "config.boot.initrd.systemd.enable", "ab-disk-probe.nix"),
    units: evalImage(flake, "config.systemd.additionalUpstreamSystemUnits", "ab-disk-probe.nix"),
    image: evalImage(flake, "config.system.build.image.name", "ab-disk-probe.nix"),
  };
}

test("the A/B disk: partitions labelled hearth-boot, hearth-a, hearth-b; systemd-boot on the ESP; side A's store as squashfs; side B empty", async () => {
  const { flake } = await generated;
  const d = abDisk(flake);
  // image.repart.partitions.<name>.{repartConfig,contents,storePaths,stripNixStorePrefix}: nixos-options.json
  // and nixpkgs nixos/modules/image/repart.nix (stub: test/nixos-eval/stubs/modules/image/repart.nix).
  const labels = Object.entries(d.parts).map(([n, p]) => [n, p.repartConfig["Label"]]);
  assert.deepEqual(labels, [["10-hearth-boot", "hearth-boot"], ["20-hearth-a", "hearth-a"], ["30-hearth-b", "hearth-b"]]);
  assert.deepEqual(Object.values(AB_DISK_LABELS), ["hearth-boot", "hearth-a", "hearth-b"]);
  const [esp, a, b] = Object.values(d.parts) as [typeof d.parts[string], typeof d.parts[string], typeof d.parts[string]];
  assert.equal(esp.repartConfig["Type"], "esp");
  assert.equal(esp.repartConfig["Format"], "vfat");
  const sdboot = "/nix/store/00000000000000000000000000000000-systemd/lib/systemd/boot/efi/systemd-bootx64.efi";
  assert.equal(esp.contents["/EFI/BOOT/BOOTX64.EFI"]!.source, sdboot, "systemd-boot is the loader");
  assert.equal(esp.contents["/EFI/systemd/systemd-bootx64.efi"]!.source, sdboot);
  assert.deepEqual(Object.keys(esp.contents).sort(), ["/" + ESP_PATHS.bootloader, "/" + ESP_PATHS.initrd("a"), "/" + ESP_PATHS.kernel("a"), "/EFI/systemd/systemd-bootx64.efi", "/loader/entries/hearth-a.conf", "/loader/loader.conf"].sort());
  assert.equal(esp.contents["/" + ESP_PATHS.kernel("a")]!.source, "/nix/store/00000000000000000000000000000000-linux-stub/bzImage");
  assert.equal(a.repartConfig["Format"], "squashfs");
  assert.deepEqual(a.storePaths, ["/nix/store/00000000000000000000000000000000-nixos-system-stub"]);
  assert.equal(a.stripNixStorePrefix, true);
  assert.deepEqual(Object.keys(a.contents), ["/nix-path-registration"]);
  assert.equal(b.repartConfig["Format"], undefined, "side B is left empty for the next image");
  assert.equal(a.repartConfig["SizeMinBytes"], b.repartConfig["SizeMinBytes"], "both sides the same size");
  // The boot entry and loader.conf: exactly what the agent would write for side A (src/agent/ab.ts).
  const cmdline = "init=/nix/store/00000000000000000000000000000000-nixos-system-stub/init";
  assert.equal(d.entry, entryText("a", { cmdline, version: "26.05.stub" }));
  assert.deepEqual(parseEntryName("hearth-a.conf"), { slot: "a" }, "a blessed entry: no counter");
  assert.equal(bootedSlot(d.entry.split("\n").find((l) => l.startsWith("options "))!), "a");
  assert.equal(d.loader.replace(/^#.*\n/gm, ""), loaderConf(defaultFor("a")).replace(/^#.*\n/gm, ""));
  assert.deepEqual(PARTLABEL, AB_DISK_LABELS);
  // Stage 1 mounts the booted side's squashfs as the store's lower layer, found by its label.
  assert.deepEqual(d.roStore, { device: "/dev/hearth-slot", fsType: "squashfs", options: ["ro"], neededForBoot: true });
  assert.equal(d.boot, "/dev/disk/by-partlabel/hearth-boot");
  assert.equal(d.systemdInitrd, false);
  // The stage-1 commands, run by a shell on a command line with hearth.slot=b (their two paths moved into a temp dir).
  const t = tempDir();
  writeFileSync(join(t, "cmdline"), "init=/nix/store/x/init hearth.slot=b loglevel=4\n");
  const script = (d.initrd as string).replaceAll("/proc/cmdline", join(t, "cmdline")).replaceAll("/dev/hearth-slot", join(t, "hearth-slot"));
  const sh = spawnSync("sh", ["-c", script], { encoding: "utf8" });
  assert.equal(sh.status, 0, sh.stderr);
  assert.equal(readlinkSync(join(t, "hearth-slot")), "/dev/disk/by-partlabel/hearth-b");
  writeFileSync(join(t, "cmdline"), "init=/nix/store/x/init\n");
  assert.match(spawnSync("sh", ["-c", script.replace(join(t, "hearth-slot"), join(t, "none"))], { encoding: "utf8" }).stdout, /no hearth\.slot=a or hearth\.slot=b/);
  // Boot counting: systemd-bless-boot marks a side good (systemd.additionalUpstreamSystemUnits, nixos-options.json).
  assert.deepEqual(d.units, ["systemd-bless-boot.service", "boot-complete.target"]);
  assert.equal(d.image, "hearth-k3s-node.raw");
});

test("every NixOS option the class image, the agent module and the new formats set is a NixOS option (nixos-options.json) or declared by hearth", () => {
  const options = JSON.parse(readFileSync(join(SHARED_DIR, "data/nixos-options.json"), "utf8")) as Record<string, unknown>;
  // Set by nix/modules/hearth-agent.nix, nix/formats/ab-disk.nix, nix/formats/netboot-tree.nix and images/<class>/*.nix.
  const used = [
    "environment.etc.<name>.text",
    "systemd.tmpfiles.rules",
    "systemd.services.<name>.description",
    "systemd.services.<name>.wantedBy",
    "systemd.services.<name>.after",
    "systemd.services.<name>.wants",
    "systemd.services.<name>.restartIfChanged",
    "systemd.services.<name>.path",
    "systemd.services.<name>.serviceConfig",
    "assertions" /* internal: nixpkgs nixos/modules/misc/assertions.nix */,
    "image.repart.name",
    "image.repart.partitions.<name>.contents.<name>.source",
    "image.repart.partitions.<name>.repartConfig",
    "image.repart.partitions.<name>.storePaths",
    "image.repart.partitions.<name>.stripNixStorePrefix",
    "fileSystems.<name>.device",
    "fileSystems.<name>.fsType",
    "fileSystems.<name>.options",
    "fileSystems.<name>.neededForBoot",
    "boot.initrd.systemd.enable",
    "boot.initrd.postDeviceCommands",
    "systemd.additionalUpstreamSystemUnits",
    "networking.hostName",
    "networking.domain",
    "networking.useDHCP",
    "networking.firewall.enable",
    "services.openssh.hostKeys",
    "services.openssh.settings",
    "users.users.<name>.hashedPassword",
    "users.mutableUsers",
    "nix.settings",
    "system.stateVersion",
    "boot.loader.grub.enable",
    "nixpkgs.hostPlatform",
    "system.build",
  ];
  const missing = used.filter((o) => o !== "assertions" && !(o in options));
  assert.deepEqual(missing, []);
  // And the files set nothing else: the harness declares exactly those options (stubs/nixos-options.nix),
  // so an undeclared one fails the evaluations above with "The option … does not exist".
  const agentModule = readStaticNix()["modules/hearth-agent.nix"]!;
  assert.match(agentModule, /options\.hearth\.agent = \{/);
});

// ---------------------------------------------------------------------------------------------
// Planning details

test("the agent placeholder stands in when the agent was not built, and a #! line stays first", () => {
  const loaded = loadFleet({ "fleet.yaml": CLASS_FLEET(K3S_CLASS), "hosts/a.yaml": NODE() });
  assert.deepEqual(loaded.issues, []);
  const without = plan({ fleet: loaded.fleet!, staticFiles: readStaticNix(), fleetFiles: {} }).files.get(AGENT.script)!;
  assert.match(without, /^\/\/ Generated by hearth/);
  assert.match(without, /hearth-agent is not built: run `npm run build:cli`/);
  const node = spawnSync(process.execPath, ["--input-type=module", "-e", without], { encoding: "utf8" });
  assert.equal(node.status, 1);
  assert.match(node.stderr, /run `npm run build:cli`/);
  const withShebang = plan({ fleet: loaded.fleet!, staticFiles: readStaticNix(), fleetFiles: {}, agentScript: "#!/usr/bin/env node\nconsole.log(1)\n" }).files.get(AGENT.script)!;
  assert.match(withShebang, /^#!\/usr\/bin\/env node\n\/\/ Generated by hearth[^\n]*\nconsole\.log\(1\)\n$/);
  // A fleet without classes gets no agent script and no images.
  const plain = plan({ fleet: loadFleet({ "fleet.yaml": FLEET_YAML, "hosts/a.yaml": "ephemeral: true\n" }).fleet!, staticFiles: readStaticNix(), fleetFiles: {} });
  assert.ok(![...plain.files.keys()].some((f) => f.startsWith("agent/") || f.startsWith("images/")));
});

// ---------------------------------------------------------------------------------------------
// hearth image CLASS (src/cli/image.ts; registered here as src/cli/main.ts will)

function imageCli(args: string[], env: Record<string, string> = {}) {
  const d = tempDir();
  const runner = join(d, "run.mts");
  writeFileSync(
    runner,
    `import { createRequire } from "node:module";
import { registerImage } from ${JSON.stringify(join(REPO_ROOT, "src/cli/image.ts"))};
import { CliError } from ${JSON.stringify(join(REPO_ROOT, "src/cli/common.ts"))};
const { Command } = createRequire(${JSON.stringify(join(REPO_ROOT, "package.json"))})("commander");
const program = new Command("hearth").exitOverride();
registerImage(program);
try { await program.parseAsync(["node", "hearth", "image", ...process.argv.slice(2)]); }
catch (e) { if (e instanceof CliError) { process.stderr.write("hearth: " + e.message + "\\n"); process.exitCode = e.code; } else throw e; }
`,
  );
  const r = spawnSync(process.execPath, ["--import", "tsx", runner, ...args], { encoding: "utf8", cwd: REPO_ROOT, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("hearth image --dry-run prints the exact nix build commands and writes nothing; unknown classes and formats are refused", async () => {
  const dir = copyExample("ram-nodes");
  const r = imageCli(["k3s-node", "-f", dir, "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  const flake = join(dir, "flake");
  for (const s of ["kexec", "netboot", "iso", "disk"])
    assert.ok(r.stdout.includes(`nix build path:${flake}#image-k3s-node-${s} --no-link --json --extra-experimental-features 'nix-command flakes'\n`), r.stdout);
  assert.match(r.stdout, /would create .*flake\/images\/k3s-node\/default\.nix/);
  assert.ok(!existsSync(flake), "a dry run writes no flake");
  const one = imageCli(["k3s-node", "-f", dir, "--dry-run", "--format", "disk"]);
  assert.equal(one.stdout.split("\n").filter((l) => l.startsWith("nix build")).length, 1);
  const unknown = imageCli(["k3s-nod", "-f", dir, "--dry-run"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no class 'k3s-nod' under images: in fleet\.yaml; did you mean 'k3s-node'\?/);
  const fmt = imageCli(["k3s-node", "-f", dir, "--format", "sd-image"]);
  assert.equal(fmt.code, 2);
  assert.match(fmt.stderr, /class 'k3s-node' builds kexec, netboot, iso, disk, not sd-image/);
});

test("hearth image builds each format with nix build and lists every file with its sha256 (a stand-in nix on PATH)", async () => {
  const dir = copyExample("ram-nodes");
  // The stand-in records its arguments and answers like `nix build --json` with a built tree.
  const bin = tempDir();
  const built = join(tempDir(), "built");
  mkdirSync(built);
  writeFileSync(join(built, "bzImage"), "kernel");
  writeFileSync(join(built, "netboot.ipxe"), "#!ipxe\n");
  writeFileSync(join(bin, "nix"), `#!/bin/sh\nprintf '%s\\n' "$@" >> ${JSON.stringify(join(bin, "argv"))}\necho building >&2\nprintf '[{"drvPath":"/nix/store/x.drv","outputs":{"out":"${built}"}}]'\n`);
  chmodSync(join(bin, "nix"), 0o755);
  const env = { PATH: `${bin}:${process.env["PATH"]}` };
  const r = imageCli(["k3s-node", "-f", dir, "--format", "netboot"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(bin, "argv"), "utf8"), ["build", `path:${join(dir, "flake")}#image-k3s-node-netboot`, "--no-link", "--json", "--extra-experimental-features", "nix-command flakes", ""].join("\n"));
  const line = (text: string, path: string) => `  ${createHash("sha256").update(text).digest("hex")}  ${String(text.length).padStart(12)}  ${path}\n`;
  assert.ok(r.stdout.includes(line("kernel", join(built, "bzImage"))), r.stdout);
  assert.ok(r.stdout.includes(line("#!ipxe\n", join(built, "netboot.ipxe"))), r.stdout);
  assert.ok(existsSync(join(dir, "flake/images/k3s-node/default.nix")), "the flake was written first");
  // --out copies the files (twice: an earlier run's copy is replaced).
  const out = tempDir();
  for (let i = 0; i < 2; i++) {
    const o = imageCli(["k3s-node", "-f", dir, "--format", "netboot", "--out", out], env);
    assert.equal(o.code, 0, o.stderr);
    assert.ok(o.stdout.includes(line("kernel", join(out, "k3s-node-netboot", "bzImage"))), o.stdout);
  }
  assert.equal(readFileSync(join(out, "k3s-node-netboot", "bzImage"), "utf8"), "kernel");
  // A failing build is an error that points at nix's own messages.
  writeFileSync(join(bin, "nix"), "#!/bin/sh\necho 'error: boom' >&2\nexit 1\n");
  const f = imageCli(["k3s-node", "-f", dir, "--format", "kexec"], env);
  assert.equal(f.code, 1);
  assert.match(f.stderr, /error: boom[\s\S]*nix build failed \(exit 1\)/);
});
