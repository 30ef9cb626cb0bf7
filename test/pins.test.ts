// The pins a fleet gets are the revisions the tests evaluate (shared/upstream, PROVENANCE.md),
// and validation knows what the pinned ethereum.nix builds for each system (PACKAGES.txt).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PINS, NIXOS_RELEASE } from "../src/core/nix/input-pins.js";
import { ETH_PLATFORMS } from "../src/core/services/ethereum/platforms.js";
import { KINDS_BY_ROLE } from "../src/core/services/registry.js";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { FLEET_YAML, hearth, readyExample, writeFleet, tempDir } from "./support/fleet.js";
import { UPSTREAM } from "./support/nixos-eval.js";

const provenance = readFileSync(join(UPSTREAM, "PROVENANCE.md"), "utf8");
const provenanceCommit = (tree: string) => new RegExp(`\\| \`${tree}/\` \\| [^|]+ \\| \`([0-9a-f]{40})\``).exec(provenance)?.[1];

test("each pinned input is the revision shared/upstream holds (PROVENANCE.md), so the tests evaluate what fleets get", () => {
  assert.match(PINS["ethereum-nix"].url, new RegExp(`/${provenanceCommit("ethereum.nix")}$`));
  assert.match(PINS["nixos-hardware"].url, new RegExp(`/${provenanceCommit("nixos-hardware")}$`));
  assert.match(provenance, new RegExp(`\\| \`disko/\` \\| [^|]+ \\| \`[0-9a-f]{40}\` \\| \`${PINS.disko.url.split("/").pop()}\``));
  assert.match(provenance, new RegExp(`\\| \`lanzaboote/\` \\| [^|]+ \\| \`[0-9a-f]{40}\` \\| \`${PINS.lanzaboote.url.split("/").pop()}\``));
  assert.match(provenance, new RegExp(`\\| \`agenix/\` \\| [^|]+ \\| \`[0-9a-f]{40}\` \\| \`${PINS.agenix.url.split("/").pop()}\``));
  // nixpkgs: the stable branch whose lib the tests use.
  assert.equal(readFileSync(join(UPSTREAM, "nixpkgs-lib/lib/.version"), "utf8").trim(), NIXOS_RELEASE);
  assert.equal(PINS.nixpkgs.url, `github:NixOS/nixpkgs/nixos-${NIXOS_RELEASE}`);
});

test("a generated flake names exactly the pinned inputs, following nixpkgs where they can", async () => {
  const { dir } = await readyExample("keystone");
  const out = join(tempDir(), "flake");
  assert.equal(hearth(["generate", dir, "-o", out]).code, 0);
  const flake = readFileSync(join(out, "flake.nix"), "utf8");
  for (const name of ["nixpkgs", "agenix", "disko", "lanzaboote"] as const) assert.ok(flake.includes(`url = "${PINS[name].url}"`), `${name} pinned in ${flake}`);
  assert.match(flake, /lanzaboote = \{\s*url = "[^"]+";\s*inputs = \{\s*nixpkgs = \{\s*follows = "nixpkgs";/);
});

test("ETH_PLATFORMS is ethereum.nix's PACKAGES.txt for every client hearth offers", () => {
  const listed = new Map(
    readFileSync(join(UPSTREAM, "ethereum.nix/PACKAGES.txt"), "utf8")
      .split("\n")
      .map((l) => /^([a-z0-9][a-z0-9._-]*) +([a-z0-9_,-]+-[a-z]+) /.exec(l))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => [m[1]!, m[2]!.split(",").filter((s) => s.endsWith("-linux")).sort()]),
  );
  const offered = new Set(["execution", "consensus", "validator", "mevBoost"].flatMap((r) => KINDS_BY_ROLE[r as keyof typeof KINDS_BY_ROLE].map((k) => k.id)));
  for (const id of offered) {
    assert.ok(listed.has(id), `ethereum.nix has no package ${id}`);
    assert.deepEqual([...(ETH_PLATFORMS[id] ?? [])].sort(), listed.get(id), id);
  }
});

const PI = (services: string) => `hardware: raspberry-pi-4
system: aarch64-linux
ephemeral: true
storage:
  volumes:
    data:
      type: btrfs
      format: false
      devices: [/dev/disk/by-id/usb-a]
      subvolumes:
        secrets: { mountpoint: /var/mnt/secrets }
        eth: { mountpoint: /var/mnt/eth }
services:
${services}`;

test("a client the pinned ethereum.nix does not build for the host's system is a finding with file, line and the clients it does build", () => {
  const dir = writeFleet({
    "fleet.yaml": FLEET_YAML,
    "hosts/pi.yaml": PI(`  execution:\n    client: geth\n    dataDir: /var/mnt/eth/geth\n  consensus:\n    client: lighthouse\n    dataDir: /var/mnt/eth/lighthouse\n  mevBoost: {}\n`),
  });
  const v = validateFleetDir(dir);
  const lh = v.issues.find((i) => /builds lighthouse only for x86_64-linux, not for aarch64-linux/.test(i.message));
  assert.ok(lh, JSON.stringify(v.issues, null, 1));
  assert.equal(lh.file, "hosts/pi.yaml");
  assert.deepEqual(lh.path, ["services", "consensus", "client"]);
  assert.equal(lh.line, 18);
  assert.match(lh.hint ?? "", /choose a consensus client it builds for aarch64-linux: prysm, nimbus, lodestar/);
  assert.ok(v.issues.some((i) => /builds mev-boost only for x86_64-linux/.test(i.message)), "mev-boost on a Pi");
  // Clients it does build on aarch64 validate.
  const ok = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/pi.yaml": PI(`  execution:\n    client: geth\n    dataDir: /var/mnt/eth/geth\n  consensus:\n    client: nimbus\n    dataDir: /var/mnt/eth/nimbus\n`) });
  assert.deepEqual(validateFleetDir(ok).issues.filter((i) => /ethereum\.nix/.test(i.message)), []);
});
