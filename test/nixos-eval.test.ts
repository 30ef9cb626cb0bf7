// Every generated host of every example evaluates against the real upstream modules (disko,
// agenix, lanzaboote, nixos-hardware, ethereum.nix's package list) and nixpkgs' real lib 26.05,
// with every boot format applied: no failed assertion, no value that does not evaluate. And the
// harness catches what it exists for: a misspelt option, a wrong type, a package the pinned
// input lacks for the host's system, conflicting mounts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, cpSync } from "node:fs";
import { join } from "node:path";
import { EXAMPLES, hearth, readyExample, tempDir } from "./support/fleet.js";
import { evalHost, evalValue, problems } from "./support/nixos-eval.js";
import { spawnSync } from "node:child_process";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { FORMATS, formatsOf } from "../src/core/features/formats.js";
import { keystore } from "./support/keystore.js";

async function generated(example: string): Promise<{ fleet: string; flake: string }> {
  const { dir } = await readyExample(example);
  const flake = join(tempDir(), "flake");
  const r = hearth(["generate", dir, "-o", flake]);
  assert.equal(r.code, 0, r.stderr);
  return { fleet: dir, flake };
}

/** A copy of a generated flake with one file edited, for the negative cases. */
function edited(flake: string, file: string, edit: (text: string) => string): string {
  const copy = join(tempDir(), "flake");
  cpSync(flake, copy, { recursive: true });
  writeFileSync(join(copy, file), edit(readFileSync(join(copy, file), "utf8")));
  return copy;
}

for (const example of EXAMPLES) {
  test(`${example}: every host, with each of its boot formats, evaluates with zero failed assertions`, async () => {
    const { fleet, flake } = await generated(example);
    const v = validateFleetDir(fleet);
    const all: string[] = [];
    for (const [name, host] of v.fleet!.hosts) {
      const formats = [undefined, ...formatsOf(host).map((f) => FORMATS[f].module).filter((m): m is string => !!m)];
      for (const fm of formats) {
        const r = evalHost(flake, name, fm);
        for (const w of r.warnings) console.log(`warning: ${name}${fm ? ` (${fm})` : ""}: ${w}`);
        assert.ok(r.checkedPaths > 10 || r.errors.length > 0, `${name}: the harness checked only ${r.checkedPaths} values`);
        all.push(...problems(r));
      }
      assert.ok(evalHost(flake, name).packageNames.includes(name), `flake packages name ${name}`);
    }
    assert.deepEqual(all, [], all.join("\n\n"));
  });
}

test("the harness reports a misspelt option, a wrong type and an unknown package attribute, with Nix's message", async () => {
  const { flake } = await generated("keystone");
  const misspelt = evalHost(edited(flake, "hosts/server/default.nix", (t) => t.replace('hostName = "server";', 'hostNmae = "server";')), "server");
  assert.match(problems(misspelt).join("\n"), /The option `networking\.hostNmae' does not exist/);
  const wrongType = evalHost(edited(flake, "hosts/server/default.nix", (t) => t.replace("allowedUDPPorts = [ 41641 ];", 'allowedUDPPorts = [ "41641" ];')), "server");
  assert.match(problems(wrongType).join("\n"), /networking\.firewall\.allowedUDPPorts.*not of type/s);
  const clean = evalHost(flake, "server");
  assert.deepEqual(problems(clean), []);
});

test("the harness reports an Ethereum client that the pinned ethereum.nix does not build for the host's system", async () => {
  const { flake } = await generated("homestaking");
  // ponkila-ephemeral-beta runs lighthouse, which ethereum.nix builds for x86_64-linux only
  // (packages/lighthouse/package.nix, PACKAGES.txt): the same host on aarch64 must fail.
  const arm = edited(flake, "hosts/ponkila-ephemeral-beta/hardware.nix", (t) => t.replace(/hostPlatform = "x86_64-linux"/, 'hostPlatform = "aarch64-linux"'));
  const r = evalHost(arm, "ponkila-ephemeral-beta");
  assert.match(problems(r).join("\n"), /hearth\.services\.lighthouse\.package: .*ethereum\.nix \(PACKAGES\.txt\) builds lighthouse for x86_64-linux, not for aarch64-linux/s);
});

test("the harness reports two modules that define one mount differently (an image format over disko's layout)", async () => {
  const { flake } = await generated("keystone");
  const conflicting = edited(flake, "hosts/server/default.nix", (t) => t.replace("i18n = {", 'fileSystems."/".device = "/dev/disk/by-label/OTHER";\n  i18n = {'));
  assert.match(problems(evalHost(conflicting, "server")).join("\n"), /fileSystems\.\/\.device: The option `fileSystems."\/".device' has conflicting definition values/);
});

test("keystone: the pinned disko writes the credstore layout's format, mount and unmount scripts, and bash parses each", async () => {
  const { flake } = await generated("keystone");
  const r = evalHost(flake, "server");
  assert.deepEqual(r.disko, {}, "disko could not write a script");
  for (const script of ["_create", "_mount", "_unmount"]) {
    const text = evalValue(flake, "server", `config.disko.devices.${script}`) as string;
    const parse = spawnSync("bash", ["-n"], { input: text, encoding: "utf8" });
    assert.equal(parse.status, 0, `${script}: ${parse.stderr}`);
    if (script === "_unmount") assert.match(text, /cryptsetup close "credstore"[\s\S]*zpool export "rpool"/, "the unmount script closes the credstore and exports the pool");
  }
});

test("Secure Boot: a lanzaboote host that neither generates nor receives its keys fails the harness (the first install would fail)", async () => {
  const { flake } = await generated("keystone");
  assert.deepEqual(problems(evalHost(flake, "workstation")), []);
  const before = edited(flake, "hosts/workstation/default.nix", (t) => t.replace(/autoGenerateKeys = \{\s*enable = true;\s*\};/, ""));
  assert.notEqual(readFileSync(join(before, "hosts/workstation/default.nix"), "utf8"), readFileSync(join(flake, "hosts/workstation/default.nix"), "utf8"));
  assert.match(problems(evalHost(before, "workstation")).join("\n"), /pkiBundle \(\/var\/lib\/sbctl\) holds no keys before the first install/);
});

test("Raspberry Pi defects of the old output fail the harness: the initrd key as an initrd secret on extlinux, and tpm2 in a Pi 5's systemd initrd", async () => {
  const { flake } = await generated("pi-cluster");
  assert.deepEqual(problems(evalHost(flake, "pi-beta")), []);
  // The old output: hostKeys held the key's path, which initrd-ssh.nix turns into an initrd secret.
  const secret = edited(flake, "hosts/pi-beta/default.nix", (t) => t.replace("hostKeys = [ ];", 'hostKeys = [ "/etc/secrets/initrd/ssh_host_ed25519_key" ];'));
  assert.match(problems(evalHost(secret, "pi-beta")).join("\n"), /stage-1\.nix.*initrd secrets|boot loader.*secrets/i);
  // The old output: nothing turned tpm2 off in the Pi 5's systemd initrd.
  const tpm = edited(flake, "hosts/pi-beta/hardware.nix", (t) => t.replace(/tpm2 = \{\s*enable = lib\.mkDefault false;\s*\};/, ""));
  assert.notEqual(readFileSync(join(tpm, "hosts/pi-beta/hardware.nix"), "utf8"), readFileSync(join(flake, "hosts/pi-beta/hardware.nix"), "utf8"));
  assert.match(problems(evalHost(tpm, "pi-beta")).join("\n"), /tpm-crb/);
});

test("the flake carries a NixOS VM test per host (checks.<system>.<host>-boots) built from the host's own modules", async () => {
  const { flake } = await generated("pi-cluster");
  for (const host of ["pi-alpha", "pi-beta", "pi-gamma"]) {
    const t = evalValue(flake, host, "vmTest") as { name: string; testScript: string; specialArgs: string[]; imports: string[] };
    assert.equal(t.name, `${host}-boots`);
    assert.ok(t.imports.some((i) => i.endsWith(`/hosts/${host}`)), JSON.stringify(t.imports));
    assert.ok(t.imports.some((i) => i.endsWith("/modules/hearth-service.nix")));
    assert.deepEqual(t.specialArgs, ["inputs"], "the host's modules get the flake inputs, as in nixosConfigurations");
    assert.match(t.testScript, new RegExp(`wait_for_unit\\("multi-user.target"\\)[\\s\\S]*= ${host}`));
  }
});

test("validator clients with imported keys evaluate: fixed uids, agenix paths in the client's layout, pre-start steps bash parses", async () => {
  const { dir } = await readyExample("homestaking");
  // sigma: a Prysm validator (wallet made before start); beta: a Lodestar one (stale locks removed); alpha's beacon node: Nimbus (trusted node sync once).
  const edit = (host: string, f: (t: string) => string) => writeFileSync(join(dir, `hosts/${host}.yaml`), f(readFileSync(join(dir, `hosts/${host}.yaml`), "utf8")));
  const fee = '"0x00000000219ab540356cBB839Cbe05303d7705Fa"';
  edit("ponkila-ephemeral-sigma", (t) => t + `  validator:\n    client: prysm\n    dataDir: /var/mnt/lighthouse/prysm-validator\n    feeRecipient: ${fee}\n`);
  edit("ponkila-ephemeral-beta", (t) => t.replace(/^services:\n/m, `services:\n  validator:\n    client: lodestar\n    dataDir: /var/mnt/lighthouse/lodestar-validator\n    feeRecipient: ${fee}\n`));
  edit("kaakkuri-ephemeral-alpha", (t) => t.replace(/(consensus:\n\s+client:) lighthouse/, "$1 nimbus"));
  assert.equal(hearth(["secrets", "generate", "-f", dir]).code, 0);
  const kdir = tempDir();
  for (const [host, n] of [["ponkila-ephemeral-sigma", 0], ["ponkila-ephemeral-beta", 1]] as const) {
    const k = keystore("pw");
    writeFileSync(join(kdir, `k${n}.json`), k.json);
    const r = hearth(["validator", "import", join(kdir, `k${n}.json`), "--host", host, "-f", dir], { input: "pw\n" });
    assert.equal(r.code, 0, r.stderr);
  }
  const flake = join(tempDir(), "flake");
  const g = hearth(["generate", dir, "-o", flake]);
  assert.equal(g.code, 0, g.stderr);
  for (const host of ["ponkila-ephemeral-sigma", "ponkila-ephemeral-beta", "kaakkuri-ephemeral-alpha"]) assert.deepEqual(problems(evalHost(flake, host)), [], host);

  // lib.escapeShellArg quotes only what needs quoting; compare without the quotes.
  const unquoted = (t: string) => t.replace(/'/g, "");
  const prysm = evalValue(flake, "ponkila-ephemeral-sigma", "config.systemd.services.prysm-validator.preStart") as string;
  assert.match(unquoted(prysm), /^test -e \/var\/mnt\/lighthouse\/prysm-validator\/wallet\/direct \|\| \/nix\/store\/[^ ]+\/bin\/validator wallet create /m);
  assert.match(unquoted(prysm), /bin\/validator accounts import .*--account-password-file \/var\/mnt\/lighthouse\/prysm-validator\/import-secrets\/0x/);
  const lodestar = evalValue(flake, "ponkila-ephemeral-beta", "config.systemd.services.lodestar-validator.preStart") as string;
  assert.equal(unquoted(lodestar).trim(), "rm -f -- /var/mnt/lighthouse/lodestar-validator/keystores/*/voting-keystore.json.lock");
  assert.ok(!lodestar.includes("'*"), "the glob stays unquoted");
  const nimbus = evalValue(flake, "kaakkuri-ephemeral-alpha", "config.systemd.services.nimbus.preStart") as string;
  assert.match(unquoted(nimbus), /test -e \/var\/mnt\/lighthouse\/db \|\| .*bin\/nimbus_beacon_node trustedNodeSync --network=mainnet/);
  for (const script of [prysm, lodestar, nimbus]) {
    const f = join(tempDir(), "pre-start.sh");
    writeFileSync(f, script);
    const r = spawnSync("bash", ["-n", f], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal(evalValue(flake, "ponkila-ephemeral-sigma", "config.users.users.prysm-validator.uid"), 831);
  assert.equal(evalValue(flake, "ponkila-ephemeral-beta", "config.users.groups.lodestar-validator.gid"), 834);
  const secret = evalValue(flake, "ponkila-ephemeral-beta", "config.age.secrets") as Record<string, { path: string; owner: string }>;
  const ks = Object.values(secret).find((s) => s.path.endsWith("/voting-keystore.json"))!;
  assert.match(ks.path, /^\/var\/mnt\/lighthouse\/lodestar-validator\/keystores\/0x[0-9a-f]{96}\/voting-keystore\.json$/);
  assert.equal(ks.owner, "lodestar-validator");
});
