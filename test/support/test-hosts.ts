// Test machines for deploy, unlock and monitoring tests: loop-device disks with by-id names, SSH
// key pairs, and a NixOS-like host in a network namespace (sshd with the hearth host key,
// stand-in systemctl/bootctl/tailscale, a system profile and stand-in generations built by the
// real Nix from test/fixtures/generations).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { hearth, readyExample } from "./fleet.js";
import { startSshd, type TestNet } from "./netns.js";
import { REPO_ROOT as REPO } from "../../src/node/fleet-dir.js";

export const sh = (cmd: string, args: string[], input?: Buffer | string) => execFileSync(cmd, args, { stdio: ["pipe", "pipe", "pipe"], ...(input !== undefined ? { input } : {}) }).toString();
export const decrypt = (identity: string, file: string) => execFileSync("age", ["-d", "-i", identity, file]);

/** A loop device of `mb` MiB, with a /dev/disk/by-id name as the fleet files require. */
export function loopDisk(tag: string, mb: number): { dev: string; byId: string; drop(): void } {
  const img = join(mkdtempSync(join(tmpdir(), "hearth-disk-")), "disk.img");
  sh("truncate", ["-s", `${mb}M`, img]);
  const dev = sh("losetup", ["-f", "--show", img]).trim();
  const byId = `/dev/disk/by-id/hearth-test-${process.pid}-${tag}`;
  sh("mkdir", ["-p", "/dev/disk/by-id"]);
  symlinkSync(dev, byId);
  return {
    dev,
    byId,
    drop: () => {
      spawnSync("umount", [dev]);
      try {
        unlinkSync(byId);
      } catch {}
      spawnSync("losetup", ["-d", dev]);
      rmSync(img, { force: true });
    },
  };
}

export function sshKeyPair(): { file: string; pub: string } {
  const dir = mkdtempSync(join(tmpdir(), "hearth-key-"));
  sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-admin", "-f", join(dir, "id")]);
  return { file: join(dir, "id"), pub: readFileSync(join(dir, "id.pub"), "utf8").trim() };
}

export function addAdminSshKey(dir: string, pub: string) {
  const doc = parseDocument(readFileSync(join(dir, "fleet.yaml"), "utf8"));
  const admin = String((doc.get("admins") as any).items[0].key);
  const keys = (doc.getIn(["admins", admin, "sshKeys"]) as any)?.toJSON?.() ?? [];
  doc.setIn(["admins", admin, "sshKeys"], [...keys, pub]);
  writeFileSync(join(dir, "fleet.yaml"), doc.toString({ lineWidth: 0 }));
}


/**
 * A NixOS-like test host for pi-alpha (Headscale server, nginx, tailnet member): sshd with the
 * hearth host key, a stand-in systemctl and tailscale, a system profile, and stand-in
 * generations whose services really listen on headscale's and nginx's ports.
 */
export async function makeUpdateHost(net: TestNet, admin: string, stops: (() => void)[], o: { name: string; address: string; nonce: string }) {
  const { dir, identity } = await readyExample("pi-cluster");
  const key = sshKeyPair();
  addAdminSshKey(dir, key.pub);
  const work = mkdtempSync(join(tmpdir(), "hearth-gen-"));
  const state = join(work, "state");
  sh("mkdir", ["-p", state, join(work, "bin")]);
  // Stand-in systemctl (named so): reports what the active stand-in generation left behind.
  writeFileSync(join(work, "bin/systemctl"), `#!/bin/sh\n# stand-in for systemctl on a test host\ncase "$1" in\n  is-system-running) s=$(cat ${state}/state 2>/dev/null || echo running); echo "$s"; [ "$s" = running ];;\n  --failed) cat ${state}/failed 2>/dev/null; true;;\n  is-active) if grep -qx "$2" ${state}/failed-units 2>/dev/null; then echo failed; exit 3; else echo active; fi;;\nesac\n`, { mode: 0o755 });
  writeFileSync(join(work, "bin/tailscale"), `#!/bin/sh\n# stand-in for tailscale on a test host\n[ "$1 $2" = "status --json" ] && printf '{\\n  "BackendState": "%s"\\n}\\n' "$(cat ${state}/tailscale 2>/dev/null || echo NoState)"\n`, { mode: 0o755 });
  // pi-alpha's services listen on headscale's port (8080) and nginx's (80): hearth probes both.
  writeFileSync(join(state, "listen"), "8080 80\n");
  // The stand-in generations, built by the real Nix.
  const flake = join(work, "flake");
  sh("mkdir", ["-p", flake]);
  for (const f of ["flake.nix", "standin-api.py"]) writeFileSync(join(flake, f), readFileSync(join(REPO, "test/fixtures/generations", f)));
  writeFileSync(join(flake, "params.nix"), `{ nonce = "${Date.now()}-${o.nonce}-${Math.random()}"; stateDir = "${state}"; }\n`);
  const build = (attr: string) => JSON.parse(sh("nix", ["build", `path:${flake}#${attr}`, "--no-link", "--json", "--extra-experimental-features", "nix-command flakes"], undefined))[0].outputs.out as string;
  const gens = {
    good: build("good"), good2: build("good2"), degraded: build("degraded"), cutoff: build("cutoff"), noapi: build("noapi"), lockout: build("lockout"),
    newkernel: build("newkernel"), unbootable: build("newkernel-unbootable"), newDegraded: build("newkernel-degraded"),
  };
  const profile = join(work, "profile", "system");
  // Stand-in bootctl (systemd-boot's entries are the profile's generations) and a stand-in
  // `systemctl reboot`: boots the one-shot entry, else the default; a generation marked
  // unbootable falls back to the default, as the firmware would after a failed boot.
  const entrySys = `sys() { n=\${1#nixos-generation-}; n=\${n%.conf}; readlink -f ${join(work, "profile")}/system-$n-link; }`;
  writeFileSync(join(work, "bin/bootctl"), `#!/bin/sh\n# stand-in for bootctl on a test host\ncase "$1" in\n  is-installed) exit 0;;\n  list) printf '['; sep=; for l in ${join(work, "profile")}/system-*-link; do n=\${l##*/system-}; n=\${n%-link}; printf '%s{"id":"nixos-generation-%s.conf"}' "$sep" "$n"; sep=,; done; echo ']';;\n  set-default) echo "$2" > ${state}/default;;\n  set-oneshot) echo "$2" > ${state}/oneshot;;\nesac\n`, { mode: 0o755 });
  const reboot = `${entrySys}; e=$(cat ${state}/oneshot 2>/dev/null || cat ${state}/default); rm -f ${state}/oneshot; s=$(sys "$e"); [ -e "$s/standin-unbootable" ] && s=$(sys "$(cat ${state}/default)"); rm -f /run/hearth-boot-*; ln -sfn "$s" ${state}/booted; "$s"/bin/switch-to-configuration switch >/dev/null 2>&1; true`;
  writeFileSync(join(work, "bin/systemctl"), readFileSync(join(work, "bin/systemctl"), "utf8").replace("esac", `  reboot) ${reboot};;\nesac`));
  sh("mkdir", ["-p", join(work, "profile")]);
  const addr = o.address;
  const ns = net.host(o.name, addr);
  const hostKey = decrypt(identity, join(dir, "secrets/hosts/pi-alpha/ssh-host-key.age"));
  // The stand-in services outlive the namespace's sshd: stop them with the test.
  stops.push(() => spawnSync("sh", ["-c", `[ -f ${state}/pids ] && kill $(cat ${state}/pids)`]));
  stops.push((await startSshd(net, ns, { address: addr, port: 22, hostKey, authorizedKey: key.pub, path: `${join(work, "bin")}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin` })).stop);
  // First generation, as an install would leave it.
  sh("ip", ["netns", "exec", ns, "sh", "-c", `nix-env -p ${profile} --set ${gens.good} && ${gens.good}/bin/switch-to-configuration switch && ln -sfn ${gens.good} ${state}/booted && echo nixos-generation-1.conf > ${state}/default`]);
  const deploy = (system: string, extra: string[] = []) =>
    hearth(["deploy", "pi-alpha", "-f", dir, "--address", addr, "--ssh-key", key.file, "--system", system, "--profile", profile, "--confirm-timeout", "8", "--health-timeout", "5", "--wait-timeout", "15", "--booted-system", join(state, "booted"), ...extra], { netns: admin });
  const current = () => readFileSync(join(state, "current"), "utf8").trim();
  const generation = () => sh("readlink", [profile]).trim();
  const booted = () => readlinkSync(join(state, "booted"));
  const defaultEntry = () => readFileSync(join(state, "default"), "utf8").trim();
  return { deploy, current, generation, gens, state, booted, defaultEntry, dir, identity, key, profile, addr, ns };
}

