// Evaluates a generated flake's formats/kexec-tree.nix with real Nix and the nixpkgs lib, its
// `modulesPath` import answered by the netboot.nix stub (whose two scripts are nixpkgs' verbatim):
// the tree's file names and the exact scripts that load them, without nixpkgs on this machine.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";
import { UPSTREAM } from "./nixos-eval.js";

/** What a tree entry is, known by the stub store path it links to. */
export type KexecRole = "kernel" | "initrd" | "kexec-boot" | "netboot.ipxe" | "other";

export interface KexecTreeEval {
  entries: { name: string; path: string; role: KexecRole }[];
  /** nixpkgs' kexec-boot script text, as the tree's `kexec-boot` entry holds it. */
  kexecScript: string;
  /** nixpkgs' netboot.ipxe text. */
  ipxeScript: string;
}

const NIXPKGS_LIB = join(UPSTREAM, "nixpkgs-lib", "lib");

export const STUB_MODULES = join(REPO_ROOT, "test/nixos-eval/stubs/modules");

const KERNEL_TARGET: Record<string, string> = { "x86_64-linux": "bzImage", "aarch64-linux": "Image" };

export function evalKexecTree(flakeDir: string, o: { hostName?: string; system?: "x86_64-linux" | "aarch64-linux"; kernelParams?: string[] } = {}): KexecTreeEval {
  const system = o.system ?? "x86_64-linux";
  const str = (s: string) => JSON.stringify(s); // a JSON string is a Nix string here (no `${`)
  const expr = `
let
  lib = import ${str(NIXPKGS_LIB)};
  # A store-path-looking name: 32 characters of Nix's base32 alphabet (hex without e).
  store = name: "/nix/store/\${builtins.replaceStrings [ "e" ] [ "z" ] (builtins.substring 0 32 (builtins.hashString "sha256" name))}-\${name}";
  drv = name: extra: { type = "derivation"; inherit name; outPath = store name; } // extra;
  pkgs = {
    writeScript = name: text: drv name { inherit text; };
    writeTextDir = path: text: drv (baseNameOf path) { inherit text; };
    linkFarm = name: entries: drv name { inherit entries; };
    makeInitrdNG = args: drv "initrd" { inherit args; };
    runCommand = name: env: script: drv name { inherit env script; };
    stdenv.hostPlatform = { system = ${str(system)}; linux-kernel.target = ${str(KERNEL_TARGET[system]!)}; };
  };
  t = lib.types;
  opt = type: lib.mkOption { inherit type; };
  harness = {
    options.system.build = opt (t.lazyAttrsOf t.raw);
    options.networking.hostName = opt t.str;
    options.boot.kernelParams = opt (t.listOf t.str);
    options.system.boot.loader.kernelFile = opt t.str;
    # Set by the netboot stub as upstream does; not read here.
    options.boot.loader.grub.enable = opt t.bool;
    options.fileSystems = opt (t.attrsOf t.anything);
    config = {
      networking.hostName = ${str(o.hostName ?? "host")};
      boot.kernelParams = [ ${(o.kernelParams ?? ["console=ttyS0,115200"]).map(str).join(" ")} ];
      system.boot.loader.kernelFile = ${str(KERNEL_TARGET[system]!)};
      system.build.kernel = drv "linux-6.6.1" { };
      system.build.initialRamdisk = drv "initrd-linux-6.6.1" { };
      system.build.toplevel = drv "nixos-system-host" { };
    };
  };
  c = (lib.evalModules {
    modules = [ harness ${str(join(flakeDir, "formats/kexec-tree.nix"))} ];
    specialArgs = { inherit pkgs; modulesPath = ${str(STUB_MODULES)}; };
  }).config;
  b = c.system.build;
  role = p:
    if lib.hasPrefix "\${b.kernel}/" p then "kernel"
    else if lib.hasPrefix "\${b.netbootRamdisk}/" p then "initrd"
    else if p == "\${b.kexecScript}" then "kexec-boot"
    else if p == "\${b.netbootIpxeScript}/netboot.ipxe" then "netboot.ipxe"
    else "other";
in {
  entries = map (e: { inherit (e) name; path = "\${e.path}"; role = role "\${e.path}"; }) b.hearthKexecTree.entries;
  kexecScript = b.kexecScript.text;
  ipxeScript = b.netbootIpxeScript.text;
}`;
  return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
}
