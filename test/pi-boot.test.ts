// Raspberry Pi boot path of the GENERATED flake: the firmware partition, what nixos-hardware's
// firmware module puts on it (evaluated with real Nix: nixpkgs lib 26.05 and nixos-hardware's own
// config-txt.nix / firmware.nix over STUB declarations of the few nixpkgs options they touch),
// the initrd SSH key kept out of the initrd secrets on extlinux, and TPM2 off in the Pi initrd.
//
// Sources, at the pinned revisions (shared/upstream/PROVENANCE.md; nixpkgs via its index):
//   nixos-hardware 0471accf8d0a: raspberry-pi/common/{firmware,config-txt,config-txt-defaults}.nix,
//     raspberry-pi/{4,5}/default.nix (hardware.deviceTree.filter), raspberry-pi/common/kernel.nix
//     ("5" = "bcm2712_defconfig").
//   nixpkgs 11c1152e0f4f nixos/modules/installer/sd-card/sd-image-aarch64.nix: the Pi 4 chain,
//     [pi4] kernel=u-boot-rpi4.bin + [all] arm_64bit=1 + enable_uart=1, DTB bcm2711-rpi-4-b.dtb.
//   nixpkgs 00850412e84a nixos/modules/installer/sd-card/sd-image.nix: FIRMWARE vfat at /boot/firmware.
//   nixpkgs 001dade9d8f9 nixos/modules/system/boot/initrd-ssh.nix: hostKeys → boot.initrd.secrets;
//     ignoreEmptyHostKeys; the systemd initrd's sshd.service.
//   nixpkgs 10e0b4721a29 nixos/modules/system/boot/systemd/tpm2.nix: boot.initrd.systemd.tpm2.enable
//     defaults on (withTpm2Tss) and adds tpm-crb.
//
// Checked against the output before this change, every assertion failed: no vfat partition at
// /boot/firmware; no hardware.raspberry-pi.firmware.*; config.txt without kernel= or arm_64bit
// (U-Boot off); hostKeys = [ "/etc/secrets/initrd/ssh_host_ed25519_key" ] and its need under /etc;
// tpm2.enable evaluated to true on every Pi (the STUB default, as nixpkgs'; the real raspberry-pi/4
// module sets false itself, which this eval leaves out); the SD image had no U-Boot; the initrd
// module did not exist. Only "pi-cluster has Pi 4 and Pi 5 hosts" passed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, readStaticNix, validateFleetDir } from "../src/node/fleet-dir.js";
import { plan } from "../src/core/plan/plan.js";
import { tempDir } from "./support/fleet.js";

const SHARED = [process.env["HEARTH_SHARED_DIR"], join(REPO_ROOT, "..", "shared"), "/work/shared"].find((d) => d && existsSync(join(d, "upstream")))!;
const UPSTREAM = join(SHARED, "upstream");
const HW = join(UPSTREAM, "nixos-hardware");
/** firmware.nix: `hardware.raspberry-pi.firmware.path` default. */
const FIRMWARE_PATH = "/boot/firmware";

function planPiCluster(overrides?: (files: Map<string, string>) => void) {
  const v = validateFleetDir(join(REPO_ROOT, "examples/pi-cluster"));
  assert.deepEqual(v.issues.map((i) => i.message), []);
  const p = plan({ fleet: v.fleet!, staticFiles: readStaticNix(), fleetFiles: v.files });
  overrides?.(p.files);
  const out = tempDir("hearth-pi-boot-");
  for (const [rel, text] of p.files) {
    mkdirSync(join(out, rel, ".."), { recursive: true });
    writeFileSync(join(out, rel), text);
  }
  return { p, out };
}

const nixEval = (expr: string) => JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], { encoding: "utf8", maxBuffer: 1 << 26 }));

/**
 * The generated hosts/<host>/hardware.nix with nixos-hardware's real firmware modules. STUB pkgs:
 * writeText/writeShellApplication keep their text (the script's text is carried in its STUB
 * outPath, so lib.getExe shows it), packages are named paths. STUB options: only what the
 * generated file and the three modules set or read.
 */
function evalFirmware(out: string, host: string, withSdImage: boolean) {
  const expr = `
    let
      lib = import ${UPSTREAM}/nixpkgs-lib/lib;
      stubPkg = name: { type = "derivation"; inherit name; outPath = "/STUB/" + name; meta.mainProgram = name; };
      pkgs = rec {
        writeText = name: text: { type = "derivation"; inherit name text; outPath = "/STUB/writeText/" + name; };
        writeShellApplication = a: { type = "derivation"; inherit (a) name text; meta.mainProgram = a.name; outPath = "/STUB/writeShellApplication:" + a.text; };
        raspberrypifw = stubPkg "raspberrypifw";
        ubootRaspberryPiAarch64 = stubPkg "ubootRaspberryPiAarch64";
        coreutils = stubPkg "coreutils";
        stdenv.hostPlatform = lib.systems.elaborate "aarch64-linux";
        buildPackages = pkgs;
      };
      any = lib.mkOption { type = lib.types.anything; default = null; };
      STUB = {
        options = {
          nixpkgs.hostPlatform = any;
          hardware.enableRedistributableFirmware = any;
          hardware.raspberry-pi."4".fkms-3d.enable = any;
          boot.initrd.availableKernelModules = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
          # nixpkgs' default: systemd.package.withTpm2Tss && withBootloader, true for the stock systemd.
          boot.initrd.systemd.tpm2.enable = lib.mkOption { type = lib.types.bool; default = true; };
          boot.loader.grub.enable = any;
          boot.loader.generic-extlinux-compatible.enable = any;
          boot.loader.generic-extlinux-compatible.useGenerationDeviceTree = lib.mkOption { type = lib.types.bool; default = true; };
          system.activationScripts = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
        } // lib.optionalAttrs ${withSdImage} {
          sdImage.populateFirmwareCommands = lib.mkOption { type = lib.types.lines; default = "STUB sd-image-aarch64.nix list"; };
        };
      };
      eval = lib.evalModules {
        modules = [
          STUB
          { _module.args = { inherit pkgs; modulesPath = "/STUB/modulesPath"; }; }
          ${HW}/raspberry-pi/common/config-txt.nix
          ${HW}/raspberry-pi/common/config-txt-defaults.nix
          ${HW}/raspberry-pi/common/firmware.nix
          ${out}/hosts/${host}/hardware.nix
        ];
      };
      c = eval.config;
    in {
      configTxt = c.hardware.raspberry-pi.configtxt.file.text;
      firmware = { inherit (c.hardware.raspberry-pi.firmware) enable path; uboot = c.hardware.raspberry-pi.firmware.uboot.enable; };
      activation = (c.system.activationScripts.raspberry-pi-firmware or { text = null; }).text or null;
      tpm2 = c.boot.initrd.systemd.tpm2.enable;
      useGenerationDeviceTree = c.boot.loader.generic-extlinux-compatible.useGenerationDeviceTree;
      sd = c.sdImage.populateFirmwareCommands or null;
    }`;
  return nixEval(expr) as {
    configTxt: string; firmware: { enable: boolean; path: string; uboot: boolean }; activation: string | null;
    tpm2: boolean; useGenerationDeviceTree: boolean; sd: string | null;
  };
}

/** config.txt sections: `[filter]` headers (a group may stack several) → key=value lines. */
function sections(text: string): { filters: string[]; lines: string[] }[] {
  const out: { filters: string[]; lines: string[] }[] = [];
  let cur: { filters: string[]; lines: string[] } | undefined;
  let lastWasHeader = false;
  for (const l of text.split("\n")) {
    const m = /^\[(.+)\]$/.exec(l);
    if (m) {
      if (!lastWasHeader || !cur) out.push((cur = { filters: [], lines: [] }));
      if (m[1] !== "all") cur.filters.push(m[1]!);
      lastWasHeader = true;
    } else {
      if (l && cur) cur.lines.push(l);
      lastWasHeader = false;
    }
  }
  return out;
}
/** The value of `key` for a board whose config.txt filter is `model` (later lines win, as the firmware reads them). */
function settingFor(text: string, model: string, key: string): string | undefined {
  let v: string | undefined;
  for (const s of sections(text))
    if (s.filters.every((f) => f === model)) for (const l of s.lines) if (l.startsWith(`${key}=`)) v = l.slice(key.length + 1);
  return v;
}
const globToRegExp = (g: string) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
const deviceTreeFilter = (model: "4" | "5") =>
  /hardware\.deviceTree\.filter = lib\.mkDefault "([^"]+)";/.exec(execFileSync("cat", [join(HW, `raspberry-pi/${model}/default.nix`)], { encoding: "utf8" }))![1]!;

// What each model's boot chain reads. The firmware's config.txt filter names are those of
// config-txt-defaults.nix ([pi5], [cm4]) and sd-image-aarch64.nix ([pi4]).
const MODELS = {
  "raspberry-pi-4": { filter: "pi4", dt: "4" as const, dtb: "bcm2711-rpi-4-b.dtb", soc: "bcm2711" },
  // The Pi 5 SoC is the BCM2712 (kernel.nix: rpiVersion 5 → bcm2712_defconfig).
  "raspberry-pi-5": { filter: "pi5", dt: "5" as const, dtb: undefined, soc: "bcm2712" },
};

const { p, out } = planPiCluster();
const piHosts = p.hosts.filter((h) => h.host.hardware.startsWith("raspberry-pi"));

test("pi-cluster has Pi 4 and Pi 5 hosts", () => {
  assert.deepEqual(piHosts.map((h) => h.host.hardware).sort(), ["raspberry-pi-4", "raspberry-pi-4", "raspberry-pi-5"]);
});

for (const h of piHosts) {
  const model = MODELS[h.host.hardware as keyof typeof MODELS];

  test(`${h.name} (${h.host.hardware}): the generated disko layout has a vfat partition at the firmware path, first on the boot disk`, () => {
    const devices = nixEval(`(import ${out}/hosts/${h.name}/disko.nix { lib = import ${UPSTREAM}/nixpkgs-lib/lib; }).disko.devices`);
    const parts = Object.entries<any>(devices.disk.boot.content.partitions);
    const fw = parts.filter(([, p]) => p.content?.mountpoint === FIRMWARE_PATH);
    assert.equal(fw.length, 1, `one partition mounted at ${FIRMWARE_PATH}: ${JSON.stringify(parts.map(([n]) => n))}`);
    const [, part] = fw[0]!;
    assert.equal(part.content.type, "filesystem");
    assert.equal(part.content.format, "vfat", "the Pi's EEPROM boot loader reads FAT");
    const minPriority = Math.min(...parts.map(([, q]) => q.priority ?? 1000));
    assert.equal(part.priority, minPriority, "the firmware partition comes first");
    // Files 0600 (the initrd key lies there) and tar's chmod 0600 of it succeeds on vfat.
    assert.ok(part.content.mountOptions.includes("fmask=0177"), JSON.stringify(part.content.mountOptions));
  });

  test(`${h.name} (${h.host.hardware}): nixos-hardware's firmware module installs the boot chain on ${FIRMWARE_PATH}`, () => {
    const r = evalFirmware(out, h.name, false);
    assert.equal(r.firmware.enable, true, "hardware.raspberry-pi.firmware.enable: the activation script installs the firmware");
    assert.equal(r.firmware.path, FIRMWARE_PATH);
    assert.ok(new RegExp(`/bin/install-rpi-firmware '?${FIRMWARE_PATH}'?\n`).test(r.activation ?? ""), r.activation ?? "no activation script");
    // config.txt: the GPU firmware must chain-load U-Boot in 64-bit mode (sd-image-aarch64.nix's
    // [all] arm_64bit=1 and [pi4] kernel=u-boot-rpi4.bin), and U-Boot needs the UART on a Pi 4.
    assert.equal(settingFor(r.configTxt, model.filter, "arm_64bit"), "1", r.configTxt);
    const kernel = settingFor(r.configTxt, model.filter, "kernel");
    assert.ok(kernel, `no kernel= for [${model.filter}]:\n${r.configTxt}`);
    assert.ok(r.activation!.includes(`/u-boot.bin "$target/${kernel}"`), `the kernel= file ${kernel} is the U-Boot the script copies`);
    assert.ok(r.activation!.includes("/STUB/ubootRaspberryPiAarch64/u-boot.bin"), "the 64-bit U-Boot (Pi 3/4/5)");
    if (model.filter === "pi4") assert.equal(settingFor(r.configTxt, "pi4", "enable_uart"), "1");
    assert.ok(r.activation!.includes(`copyForced /STUB/writeText/config.txt "$target/config.txt"`));
    for (const f of ['"$firmwareBoot"/start*.elf', '"$firmwareBoot"/fixup*.dat']) assert.ok(r.activation!.includes(f), f);
    // DTBs: U-Boot passes on the firmware's DTB (no FDTDIR), which the script copies from the
    // vendor package; the model's DTB filter must select that SoC's boards.
    assert.equal(r.useGenerationDeviceTree, false);
    assert.ok(r.activation!.includes('dtbSrc=$firmwareBoot') && r.activation!.includes('"$dtbSrc"/*.dtb'));
    const filter = deviceTreeFilter(model.dt);
    assert.ok(filter.startsWith(model.soc), `${filter} selects ${model.soc} boards`);
    if (model.dtb) assert.match(model.dtb, globToRegExp(filter));
  });

  test(`${h.name} (${h.host.hardware}): the SD image gets the same firmware through the module's wiring`, () => {
    const r = evalFirmware(out, h.name, true);
    assert.match(r.sd ?? "", /^\/STUB\/writeShellApplication:[\s\S]*\/bin\/install-rpi-firmware \.\/firmware\n$/);
    assert.ok(!r.sd!.includes("STUB sd-image-aarch64.nix list"), "mkForce replaces sd-image-aarch64.nix's list");
    // The image's boot chain is the installed one: U-Boot on the partition, named by kernel=.
    assert.ok(r.sd!.includes('copyForced /STUB/ubootRaspberryPiAarch64/u-boot.bin "$target/u-boot.bin"'), "U-Boot in the image");
    assert.equal(settingFor(r.configTxt, model.filter, "kernel"), "u-boot.bin");
  });

  test(`${h.name} (${h.host.hardware}): TPM2 is off in the Pi's systemd initrd`, () => {
    assert.equal(evalFirmware(out, h.name, false).tpm2, false);
  });

  test(`${h.name} (${h.host.hardware}): no initrd secret on extlinux; the key comes from the firmware partition`, () => {
    const cfg = h.config as any;
    assert.equal(cfg.boot.loader?.["generic-extlinux-compatible"]?.enable ?? (h.hardware as any).boot.loader["generic-extlinux-compatible"].enable, true);
    assert.deepEqual(cfg.boot.initrd.network.ssh.hostKeys, [], "hostKeys would become boot.initrd.secrets");
    const need = p.secrets.find((s) => s.key === `hosts/${h.name}/initrd-ssh-host-key`)!;
    const use = need.uses.find((u) => u.host === h.name)!;
    assert.equal(use.delivery, "install", "delivered by nixos-anywhere --extra-files");
    assert.ok(use.path.startsWith(`${FIRMWARE_PATH}/`), `${use.path} lands on the firmware partition`);
    assert.deepEqual(cfg.hearth.initrdSshKey, { enable: true, mountPoint: FIRMWARE_PATH, source: use.path, path: "/etc/secrets/initrd/ssh_host_ed25519_key" });
  });
}

test("the initrd copies the key before sshd starts, from the partition disko mounts (real Nix, STUB options)", () => {
  const h = piHosts[0]!;
  const ks = (h.config as any).hearth.initrdSshKey;
  const expr = (systemd: boolean) => `
    let
      lib = import ${UPSTREAM}/nixpkgs-lib/lib;
      any = lib.mkOption { type = lib.types.anything; default = null; };
      STUB.options = {
        assertions = lib.mkOption { type = lib.types.listOf lib.types.anything; default = [ ]; };
        fileSystems = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
        boot.initrd.supportedFilesystems = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
        boot.initrd.systemd.enable = any;
        boot.initrd.systemd.services = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
        boot.initrd.network.postCommands = lib.mkOption { type = lib.types.lines; default = ""; };
        boot.initrd.network.ssh.ignoreEmptyHostKeys = any;
        boot.initrd.network.ssh.extraConfig = lib.mkOption { type = lib.types.lines; default = ""; };
      };
      disk = (import ${out}/hosts/${h.name}/disko.nix { inherit lib; }).disko.devices.disk.boot;
      fw = disk.content.partitions.firmware;
      c = (lib.evalModules {
        modules = [
          STUB
          { _module.args.utils.escapeSystemdPath = s: builtins.replaceStrings [ "/" "-" ] [ "-" "\\\\x2d" ] (lib.removePrefix "/" s); }
          ${REPO_ROOT}/nix/modules/initrd-ssh-key.nix
          {
            # As disko's filesystem type defines it: device by partition label disk-<disk>-<part>.
            fileSystems.\${fw.content.mountpoint} = { device = "/dev/disk/by-partlabel/disk-boot-firmware"; fsType = fw.content.format; };
            boot.initrd.systemd.enable = ${systemd};
            hearth.initrdSshKey = builtins.fromJSON ${JSON.stringify(JSON.stringify(ks))};
          }
        ];
      }).config;
    in {
      inherit (c.boot.initrd) supportedFilesystems;
      inherit (c.boot.initrd.network) postCommands;
      inherit (c.boot.initrd.network.ssh) ignoreEmptyHostKeys extraConfig;
      assertions = map (a: a.assertion) c.assertions;
      service = c.boot.initrd.systemd.services.hearth-initrd-ssh-key or null;
    }`;
  const sd = nixEval(expr(true));
  assert.deepEqual(sd.assertions, [true]);
  assert.equal(sd.ignoreEmptyHostKeys, true);
  assert.equal(sd.extraConfig, `HostKey ${ks.path}\n`);
  assert.deepEqual(sd.supportedFilesystems, ["vfat"]);
  assert.deepEqual(sd.service.before, ["sshd.service"]);
  assert.deepEqual(sd.service.requiredBy, ["sshd.service"]);
  assert.deepEqual(sd.service.after, ["dev-disk-by\\x2dpartlabel-disk\\x2dboot\\x2dfirmware.device"]);
  assert.match(sd.service.script, /mount -t '?vfat'? -o ro '?\/dev\/disk\/by-partlabel\/disk-boot-firmware'? \/run\/hearth-firmware/);
  assert.match(sd.service.script, /install -m 0600 \/run\/hearth-firmware\/'?hearth\/initrd_ssh_host_ed25519_key'? '?\/etc\/secrets\/initrd\/ssh_host_ed25519_key'?/);
  assert.equal(sd.postCommands, "", "no scripted-initrd hook in the systemd initrd (it asserts network.postCommands is empty)");
  const scripted = nixEval(expr(false));
  assert.equal(scripted.service, null);
  assert.match(scripted.postCommands, /install -m 0600 .*'?\/etc\/secrets\/initrd\/ssh_host_ed25519_key'?/);
});
