# STUB of nixpkgs' package set (not available here): every package is an attribute set that
# passes as a derivation and builds nothing. Builders return such a set carrying their inputs
# (a script's text, a link farm's entries) so a test can read exactly what hearth asked for.
# callPackage calls the real file with these stubs, so nixos-hardware's real kernel.nix still
# reports its real version.
{ lib, system }:
let
  drv = name: extra: {
    type = "derivation";
    inherit name;
    pname = name;
    version = "0-stub";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
    outputs = [ "out" ];
    meta = { };
    passthru = { };
    override = _: drv name extra;
    overrideAttrs = _: drv name extra;
    overrideDerivation = _: drv name extra;
  } // extra;
  platform = lib.systems.elaborate system;
  format = kind: _: { type = lib.types.anything; generate = name: value: drv name { inherit value; format = kind; }; };
  pkgs = lib.genAttrs names (n: drv n { }) // {
    inherit lib system pkgs;
    stdenv = drv "stdenv" { hostPlatform = platform; buildPlatform = platform; targetPlatform = platform; isLinux = true; shell = "/bin/sh"; cc = drv "cc" { }; };
    stdenvNoCC = pkgs.stdenv;
    buildPackages = pkgs;
    pkgsBuildBuild = pkgs;
    writeScript = name: text: drv name { inherit text; };
    writeShellScript = name: text: drv name { inherit text; };
    writeShellScriptBin = name: text: drv name { inherit text; };
    writeText = name: text: drv name { inherit text; };
    writeTextFile = a: drv a.name { inherit (a) text; };
    writeTextDir = path: text: drv (baseNameOf path) { inherit path text; };
    writeShellApplication = a: drv a.name { inherit (a) text; };
    writers = { writeBash = name: text: drv name { inherit text; }; writePython3 = name: _: text: drv name { inherit text; }; };
    linkFarm = name: entries: drv name { inherit entries; };
    closureInfo = a: drv "closure-info" { inherit (a) rootPaths; };
    # runNixOSTest's arguments, returned as they were given.
    testers.runNixOSTest = args: drv "vm-test-run-${args.name}" { inherit args; };
    symlinkJoin = a: drv a.name { inherit (a) paths; };
    runCommand = name: env: script: drv name { inherit script; };
    runCommandLocal = pkgs.runCommand;
    runCommandNoCC = pkgs.runCommand;
    makeInitrdNG = a: drv "initrd" { args = a; };
    callPackage = f: args:
      let fn = if builtins.isFunction f then f else import f;
      in fn (builtins.intersectAttrs (builtins.functionArgs fn) pkgs // args);
    fetchFromGitHub = a: drv "source" a;
    fetchurl = a: drv "source" a;
    buildLinux = a: drv "linux" { inherit (a) version; pname = a.pname or "linux"; modDirVersion = a.modDirVersion or a.version; features = a.features or { }; config = { isEnabled = _: true; isYes = _: true; }; };
    linuxPackagesFor = kernel: { inherit kernel; };
    linuxPackages = { kernel = drv "linux" { version = "6.12.0-stub"; pname = "linux"; }; };
    linuxPackages_latest = pkgs.linuxPackages;
    formats = lib.genAttrs [ "yaml" "json" "toml" "ini" "keyValue" "yaml_1_1" "yaml_1_2" "iniWithGlobalSection" ] format;
    kernelPatches = lib.genAttrs [ "bridge_stp_helper" "request_key_helper" ] (n: { name = n; patch = null; });
  };
  # Packages the real modules name (lanzaboote, agenix, disko, nixos-hardware); looked up lazily.
  names = [
    "age" "rage" "bash" "coreutils" "sbctl" "sbsigntool" "lzbt" "systemd" "util-linux" "jq" "gnugrep" "gnused"
    "findutils" "gawk" "openssh" "zfs" "cryptsetup" "btrfs-progs" "e2fsprogs" "dosfstools" "parted" "gptfdisk"
    "mdadm" "lvm2" "xfsprogs" "bcachefs-tools" "nix" "git" "kexec-tools" "tailscale" "headscale" "k3s" "caddy"
    "nginx" "wireguard-tools" "iproute2" "iptables" "nftables" "raspberrypifw" "raspberrypi-armstubs" "ubootRaspberryPi4_64bit"
    "ubootRaspberryPi3_64bit" "ubootRaspberryPi5" "libraspberrypi" "dtc" "python3" "zstd" "gzip" "cpio" "squashfsTools"
    "mtools" "libfaketime" "xorriso" "syslinux" "grub2" "grub2_efi" "systemdUkify" "binutils" "fwupd-efi" "tpm2-tools"
    "curl" "sqlite" "util-linuxMinimal" "busybox" "dropbear" "procps" "kmod" "shadow" "sudo" "mkpasswd" "lvm2_dmeventd"
    # nodejs_24 (the hearth agent's Node.js): pkgs/development/web/nodejs/v24.nix, in nixos-26.05.
    "nodejs_24"
  ];
in
pkgs
