// Network kinds (issue 16 part 1): static IPv6 with a link-local gateway (a Hetzner host), several
// interfaces, VLANs, NICs named by MAC, Wi-Fi with its passphrase as a hearth secret, kernel
// parameters; the execution clients' WebSocket endpoint. Findings point into the files; the
// generated NixOS evaluates with the real Nix evaluator against the pinned upstream modules, and
// every option path hearth sets exists in nixos-options.json with a fitting type; the Wi-Fi
// passphrase is nowhere in the flake; every WS flag is one the pinned client has.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadFleet } from "../src/core/fleet/load.js";
import { checkRules } from "../src/core/validate/rules.js";
import { plan } from "../src/core/plan/plan.js";
import { hostServices } from "../src/core/plan/host.js";
import { readStaticNix } from "../src/node/fleet-dir.js";
import { CLIENT_FLAGS, parseArgs } from "../src/core/services/ethereum/flags.js";
import { isIPv6, parseCidr } from "../src/core/schema/network.js";
import { WIFI_SECRETS_FILE } from "../src/core/features/network.js";
import type { Issue } from "../src/core/validate/issues.js";
import { ADMIN_KEY, addTestAdmin, hearth, tempDir, writeFleet } from "./support/fleet.js";
import { evalHost, evalWith, problems, SHARED_DIR } from "./support/nixos-eval.js";

const OPTIONS = JSON.parse(readFileSync(join(SHARED_DIR, "data/nixos-options.json"), "utf8")) as Record<string, { type: string }>;
const VOLUMES = { data: { type: "btrfs", format: false, devices: ["/dev/disk/by-id/nvme-x"], subvolumes: { d: { mountpoint: "/var/lib" }, secrets: { mountpoint: "/var/mnt/secrets" } } } };
const fleetYaml = (extra: Record<string, unknown> = {}) => stringify({ name: "t", admins: { ops: { sshKeys: [ADMIN_KEY] } }, ...extra });
const WIFI_FLEET = fleetYaml({ secrets: { custom: { "wifi-home": { hosts: ["pi"], description: "home Wi-Fi passphrase" } } } });

type H = Record<string, unknown>;
const hetzner: H = {
  hardware: "hetzner-cloud", ephemeral: true, storage: { volumes: VOLUMES },
  network: { interface: "enp1s0", dhcp: false, addresses: ["2001:db8:c17:1234::1/64"], gateway6: "fe80::1", dns: ["2a01:4ff:ff00::add:1"] },
};
const router: H = {
  ephemeral: true, storage: { volumes: VOLUMES },
  network: {
    interface: "lan0", mac: "AA:BB:CC:00:00:01", dhcp: "ipv4", addresses: ["192.168.1.2/24", "fd00::2/64"], gateway: "192.168.1.1",
    interfaces: { wan0: { mac: "aa:bb:cc:00:00:02", dhcp: true }, lab0: { addresses: ["10.9.0.1/16"] } },
    vlans: { iot: { id: 20, interface: "lan0", addresses: ["192.168.20.1/24"] }, guest: { id: 30, interface: "wan0", dhcp: "ipv6" } },
  },
  kernel: { params: ["console=ttyS0,115200", 'acpi_osi="Windows 2020"'], modules: ["8021q"] },
};
const pi: H = {
  hardware: "raspberry-pi-4", system: "aarch64-linux", ephemeral: true, storage: { volumes: VOLUMES },
  network: { interface: "end0", dhcp: true, wifi: { country: "DE", networks: [{ ssid: "Home Net", pskSecret: "wifi-home", priority: 10 }] } },
};

/** Validate and plan an in-memory fleet as `hearth generate` does. */
function run(hosts: Record<string, H>, fleet = fleetYaml()) {
  const files: Record<string, string> = { "fleet.yaml": fleet };
  for (const [n, h] of Object.entries(hosts)) files[`hosts/${n}.yaml`] = stringify(h);
  const loaded = loadFleet(files);
  const issues: Issue[] = [...loaded.issues];
  if (loaded.fleet && !issues.some((i) => i.severity === "error")) issues.push(...checkRules({ fleet: loaded.fleet, sources: loaded.sources, hostFiles: loaded.hostFiles, files }));
  const errors = issues.filter((i) => i.severity === "error");
  const planned = loaded.fleet && !errors.length ? plan({ fleet: loaded.fleet, staticFiles: readStaticNix(), fleetFiles: files }) : undefined;
  return { loaded, issues, errors, planned, files };
}

/** The planned flake on disk, for the evaluator. */
function flakeOf(r: ReturnType<typeof run>): string {
  const out = tempDir("hearth-net-");
  for (const [rel, text] of r.planned!.files) {
    mkdirSync(join(out, rel, ".."), { recursive: true });
    writeFileSync(join(out, rel), text);
  }
  return out;
}

/** The line of `needle` in a host file's YAML (1-based). */
const lineOf = (yaml: string, needle: string) => yaml.split("\n").findIndex((l) => l.includes(needle)) + 1;
/** A finding on a block points at its key or at the block's first line. */
const atBlock = (line: number | undefined, yaml: string, key: string) => assert.ok(line === lineOf(yaml, key) || line === lineOf(yaml, key) + 1, `line ${line}, ${key} is on ${lineOf(yaml, key)}`);

describe("addresses and the schema", () => {
  test("IPv4 and IPv6 addresses, with and without the :: and an IPv4 tail", () => {
    for (const a of ["fe80::1", "2001:db8::", "::1", "::", "2a01:4f8:c17:1234:0:0:0:1", "::ffff:192.0.2.1"]) assert.ok(isIPv6(a), a);
    for (const a of ["fe80:::1", "1:2:3:4:5:6:7:8:9", "2001:db8::g", "fe80::1%eth0", "192.168.1.1", "1::2::3"]) assert.ok(!isIPv6(a), a);
    assert.deepEqual(parseCidr("2001:db8::1/64"), { address: "2001:db8::1", prefixLength: 64, family: 6 });
    assert.equal(parseCidr("2001:db8::1/129"), undefined);
    assert.equal(parseCidr("10.0.0.1/33"), undefined);
  });

  test("the simple form is unchanged: dhcp true/false, IPv4 addresses, gateway, dns", () => {
    const r = run({ a: { ephemeral: true, storage: { volumes: VOLUMES }, network: { interface: "eth0", dhcp: false, addresses: ["192.168.1.5/24"], gateway: "192.168.1.1", dns: ["1.1.1.1"] } } });
    assert.deepEqual(r.errors, []);
    const nix = r.planned!.files.get("hosts/a/default.nix")!;
    assert.match(nix, /interfaces = \{\s*eth0 = \{\s*ipv4 = \{\s*addresses = \[\s*\{\s*address = "192\.168\.1\.5";\s*prefixLength = 24;\s*\}\s*\];\s*\};\s*\};\s*\};\s*defaultGateway = "192\.168\.1\.1";\s*nameservers = \[ "1\.1\.1\.1" \];/);
    assert.doesNotMatch(nix, /dhcpcd|ipv6|systemd\.network|links|wireless|kernelParams/);
  });
});

describe("findings point at the field, with file and line", () => {
  const at = (r: ReturnType<typeof run>, path: string) => r.issues.filter((i) => i.path.join(".") === path);

  test("an IPv6 address without prefix, an address that is not one, a bad prefix, a DNS server that is not an address", () => {
    const h = { ephemeral: true, storage: { volumes: VOLUMES }, network: { dhcp: false, addresses: ["2001:db8::1", "192.168.1.300/24", "10.0.0.1/40"], dns: ["dns.example"] } };
    const r = run({ a: h });
    const yaml = r.files["hosts/a.yaml"]!;
    const [v6] = at(r, "network.addresses.0");
    assert.match(v6!.message, /IPv6 address 2001:db8::1 needs its prefix length, e\.g\. 2001:db8::1\/64/);
    assert.equal(v6!.file, "hosts/a.yaml");
    assert.equal(v6!.line, lineOf(yaml, "2001:db8::1"));
    assert.match(at(r, "network.addresses.1")[0]!.message, /'192\.168\.1\.300\/24' is not an IP address/);
    assert.match(at(r, "network.addresses.2")[0]!.message, /IPv4 prefix is 0-32/);
    assert.match(at(r, "network.dns.0")[0]!.message, /must be an IP address/);
  });

  test("a VLAN on an interface that does not exist, a gateway outside every IPv4 subnet, one MAC or name twice", () => {
    const h = {
      ephemeral: true, storage: { volumes: VOLUMES },
      network: {
        interface: "eth0", mac: "aa:bb:cc:00:00:01", dhcp: false, addresses: ["192.168.1.5/24"], gateway: "192.168.2.1",
        interfaces: { eth1: { mac: "AA:BB:CC:00:00:01" }, eth0: {} },
        vlans: { iot: { id: 20, interface: "eth2" } },
      },
    };
    const r = run({ a: h });
    const yaml = r.files["hosts/a.yaml"]!;
    const vlan = at(r, "network.vlans.iot.interface")[0]!;
    assert.match(vlan.message, /VLAN 'iot' is on interface 'eth2', which this host does not have/);
    assert.match(vlan.hint!, /did you mean 'eth[01]'\?/);
    assert.equal(vlan.line, lineOf(yaml, "interface: eth2"));
    const gw = at(r, "network.gateway")[0]!;
    assert.match(gw.message, /gateway 192\.168\.2\.1 is outside every IPv4 subnet of this host \(192\.168\.1\.5\/24\)/);
    assert.equal(gw.line, lineOf(yaml, "gateway: 192.168.2.1"));
    assert.match(at(r, "network.interfaces.eth1.mac")[0]!.message, /MAC address AA:BB:CC:00:00:01 is already matched by interface 'eth0'/);
    assert.match(at(r, "network.interfaces.eth0")[0]!.message, /interface name 'eth0' is already used by network\.interface/);
    // A gateway inside the subnet of another interface is fine; an IPv6 gateway needs IPv6.
    const ok = run({ a: { ...h, network: { interface: "eth0", dhcp: false, addresses: ["192.168.1.5/24"], gateway: "192.168.1.1", gateway6: "fe80::1", interfaces: { eth1: { addresses: ["10.0.0.2/8"] } } } } });
    assert.deepEqual(ok.errors.map((e) => e.message), ["IPv6 gateway fe80::1, but eth0 has no IPv6 address and no IPv6 by DHCP"]);
  });

  test("Wi-Fi on hardware without Wi-Fi; a passphrase secret that is not declared or not for this host", () => {
    const wifi = { networks: [{ ssid: "Home", pskSecret: "wifi-hom" }, { ssid: "Home", pskSecret: "wifi-home" }] };
    const r = run({ pi: { ...pi, network: { interface: "end0", wifi } }, vm: { ...hetzner, network: { ...(hetzner.network as H), wifi: { networks: [{ ssid: "x", pskSecret: "wifi-home" }] } } } }, WIFI_FLEET);
    const yaml = r.files["hosts/vm.yaml"]!;
    const hw = r.issues.find((i) => i.file === "hosts/vm.yaml" && i.path.join(".") === "network.wifi")!;
    assert.match(hw.message, /hardware 'hetzner-cloud' has no Wi-Fi/);
    atBlock(hw.line, yaml, "wifi:");
    const missing = r.issues.find((i) => i.file === "hosts/pi.yaml" && i.path.join(".") === "network.wifi.networks.0.pskSecret")!;
    assert.match(missing.message, /no secret 'wifi-hom' under secrets\.custom/);
    assert.equal(missing.hint, "did you mean 'wifi-home'?");
    assert.match(r.issues.find((i) => i.path.join(".") === "network.wifi.networks.1.ssid")!.message, /SSID 'Home' is listed twice/);
    assert.match(r.issues.find((i) => i.file === "hosts/vm.yaml" && i.path.join(".") === "network.wifi.networks.0.pskSecret")!.message, /secret 'wifi-home' is not decrypted on this host/);
    // The passphrase itself has no place in the YAML.
    const psk = run({ pi: { ...pi, network: { wifi: { networks: [{ ssid: "Home", pskSecret: "wifi-home", psk: "hunter22hunter" }] } } } }, WIFI_FLEET);
    assert.match(psk.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"), /network\.wifi\.networks\.0.*psk/);
  });
});

/** Option paths of a generated definition tree, `<name>` for attribute names NixOS leaves free. */
function optionPath(path: string[]): string | undefined {
  for (let i = path.length; i > 0; i--) {
    // Try the path with each free-name slot generalised (networking.interfaces.<name>.ipv4...).
    const candidates = generalise(path.slice(0, i));
    const hit = candidates.find((c) => OPTIONS[c.join(".")]);
    if (hit) return hit.join(".");
  }
  return undefined;
}
const FREE = [["networking", "interfaces"], ["networking", "vlans"], ["networking", "wireless", "networks"], ["systemd", "network", "links"], ["systemd", "services"]];
function generalise(path: string[]): string[][] {
  let p = [...path];
  for (const f of FREE) if (f.every((s, i) => p[i] === s) && p.length > f.length) p = [...f, "<name>", ...p.slice(f.length + 1)];
  return [p.map((s) => (/^\d+$/.test(s) ? "*" : s))];
}

describe("generated NixOS, evaluated with the real evaluator and checked against nixos-options.json", () => {
  test("Hetzner: static IPv6 /64, gateway fe80::1 on the interface, no IPv4 DHCP", () => {
    const r = run({ vm: hetzner });
    assert.deepEqual(r.errors, []);
    const flake = flakeOf(r);
    assert.deepEqual(problems(evalHost(flake, "vm")), []);
    const net = evalWith(flake, "vm", `{ inherit (h.config.networking) defaultGateway6 nameservers useDHCP; i = { inherit (h.config.networking.interfaces.enp1s0) useDHCP; ipv6.addresses = h.config.networking.interfaces.enp1s0.ipv6.addresses; }; }`) as Record<string, any>;
    assert.deepEqual(net.defaultGateway6, { address: "fe80::1", interface: "enp1s0" });
    assert.deepEqual(net.i.ipv6.addresses, [{ address: "2001:db8:c17:1234::1", prefixLength: 64 }]);
    assert.equal(net.i.useDHCP, null, "no DHCP on the interface");
    assert.equal(net.useDHCP, false);
    // Services bind to loopback on an IPv6-only host, as on a DHCP host.
    const cfg = r.loaded.fleet!;
    assert.equal(hostServices(cfg, "vm", cfg.hosts.get("vm")!).length, 0);
  });

  test("several interfaces, VLANs, NICs by MAC, per-family DHCP, kernel parameters and modules", () => {
    const r = run({ router });
    assert.deepEqual(r.errors, []);
    const flake = flakeOf(r);
    assert.deepEqual(problems(evalHost(flake, "router")), []);
    const c = evalWith(flake, "router", `{
      inherit (h.config.networking) vlans defaultGateway;
      dhcpcd = h.config.networking.dhcpcd.extraConfig;
      ifs = builtins.mapAttrs (n: i: { inherit (i) useDHCP; v4 = i.ipv4.addresses; v6 = i.ipv6.addresses; }) h.config.networking.interfaces;
      links = builtins.mapAttrs (n: l: { inherit (l) matchConfig linkConfig; }) h.config.systemd.network.links;
      inherit (h.config.boot) kernelParams kernelModules;
    }`) as Record<string, any>;
    assert.deepEqual(c.vlans, { iot: { id: 20, interface: "lan0" }, guest: { id: 30, interface: "wan0" } });
    assert.deepEqual(c.ifs.lan0, { useDHCP: true, v4: [{ address: "192.168.1.2", prefixLength: 24 }], v6: [{ address: "fd00::2", prefixLength: 64 }] });
    assert.deepEqual(c.ifs.wan0, { useDHCP: true, v4: [], v6: [] });
    assert.deepEqual(c.ifs.lab0, { useDHCP: null, v4: [{ address: "10.9.0.1", prefixLength: 16 }], v6: [] });
    assert.deepEqual(c.ifs.iot.v4, [{ address: "192.168.20.1", prefixLength: 24 }]);
    assert.equal(c.dhcpcd, "interface lan0\n  ipv4only\ninterface guest\n  ipv6only\n");
    assert.deepEqual(c.links, {
      "10-lan0": { matchConfig: { PermanentMACAddress: "aa:bb:cc:00:00:01" }, linkConfig: { Name: "lan0" } },
      "10-wan0": { matchConfig: { PermanentMACAddress: "aa:bb:cc:00:00:02" }, linkConfig: { Name: "wan0" } },
    });
    assert.ok(c.kernelParams.includes("console=ttyS0,115200") && c.kernelParams.includes('acpi_osi="Windows 2020"'));
    assert.ok(c.kernelModules.includes("8021q"));
  });

  test("every option path the network kinds set is a NixOS option of a fitting type (nixos-options.json)", () => {
    const r = run({ router, vm: hetzner, pi }, WIFI_FLEET);
    assert.deepEqual(r.errors, []);
    const flake = flakeOf(r);
    assert.deepEqual(problems(evalHost(flake, "pi")), []);
    const expected: Record<string, RegExp> = {
      "networking.interfaces.<name>.ipv6.addresses": /^list of \(submodule\)$/,
      "networking.interfaces.<name>.ipv6.addresses.*.prefixLength": /^signed integer$/,
      "networking.defaultGateway6": /submodule.*string convertible/,
      "networking.vlans.<name>.id": /^signed integer$/,
      "networking.vlans.<name>.interface": /^string$/,
      "networking.dhcpcd.extraConfig": /strings concatenated/,
      "systemd.network.links.<name>.matchConfig": /attribute set of \(systemd option\)/,
      "systemd.network.links.<name>.linkConfig": /attribute set of \(systemd option\)/,
      "networking.wireless.secretsFile": /^null or path$/,
      "networking.wireless.interfaces": /^list of string$/,
      "networking.wireless.networks.<name>.pskRaw": /ext:\[\^=\]\+/,
      "networking.wireless.networks.<name>.priority": /integer/,
      "boot.kernelParams": /list of string, with spaces inside double quotes/,
      "boot.kernelModules": /^list of string$/,
    };
    for (const [p, type] of Object.entries(expected)) assert.match(OPTIONS[p]?.type ?? "(missing)", type, p);
    // networking.wireless.environmentFile was removed (mkRemovedOptionModule): hearth never sets it.
    assert.equal(OPTIONS["networking.wireless.environmentFile"], undefined);
    for (const host of ["router", "vm", "pi"]) {
      const text = r.planned!.files.get(`hosts/${host}/default.nix`)!;
      // Every option path of the kinds that this host's file sets, generalised, is in the list.
      for (const p of [["networking", "interfaces", "x", "ipv6", "addresses"], ["networking", "vlans", "iot", "id"], ["systemd", "network", "links", "10-lan0", "matchConfig"], ["networking", "wireless", "networks", "Home Net", "pskRaw"], ["networking", "dhcpcd", "extraConfig"], ["boot", "kernelParams"]])
        assert.ok(optionPath(p), `${p.join(".")} is not a NixOS option`);
      assert.ok(text.length > 0);
    }
    const pskRaw = evalWith(flake, "pi", `h.config.networking.wireless.networks."Home Net".pskRaw`) as string;
    assert.match(pskRaw, /^(([0-9a-fA-F]{64})|(ext:[^=]+))$/, "pskRaw fits the option's pattern");
  });

  test("Wi-Fi: wpa_supplicant on wlan0 reads the passphrase from a runtime file made from the agenix secret", () => {
    const r = run({ pi }, WIFI_FLEET);
    assert.deepEqual(r.errors, []);
    const flake = flakeOf(r);
    assert.deepEqual(problems(evalHost(flake, "pi")), []);
    const w = evalWith(flake, "pi", `{
      inherit (h.config.networking.wireless) enable interfaces secretsFile extraConfig;
      net = { inherit (h.config.networking.wireless.networks."Home Net") pskRaw psk priority; };
      unit = { inherit (h.config.systemd.services.hearth-wifi-secrets) before requiredBy script serviceConfig; };
      dhcp = h.config.networking.interfaces.wlan0.useDHCP;
    }`) as Record<string, any>;
    assert.deepEqual([w.enable, w.interfaces, w.secretsFile, w.extraConfig], [true, ["wlan0"], WIFI_SECRETS_FILE, "country=DE"]);
    assert.deepEqual(w.net, { pskRaw: "ext:wifi-home", psk: null, priority: 10 });
    assert.equal(w.dhcp, true);
    // nixpkgs' wireless module names the unit per interface (wpa_supplicant.nix: nameValuePair "wpa_supplicant-${i}").
    assert.deepEqual([w.unit.before, w.unit.requiredBy], [["wpa_supplicant-wlan0.service"], ["wpa_supplicant-wlan0.service"]]);
    assert.match(w.unit.script, /IFS= read -r v < \/run\/agenix\/wifi-home/);
    assert.match(w.unit.script, /printf '%s=%s\\n' wifi-home "\$v"/);
    assert.match(w.unit.script, /chown wpa_supplicant:wpa_supplicant/);
    assert.equal(w.unit.serviceConfig.RuntimeDirectory, "hearth-wifi");
    // The secret is the fleet's custom secret, decrypted on this host only.
    assert.match(r.planned!.files.get("hosts/pi/default.nix")!, /wifi-home/);
  });

  test("the Wi-Fi passphrase never reaches the flake: set as a secret, it is only in its .age file, encrypted", async () => {
    const dir = writeFleet({ "fleet.yaml": WIFI_FLEET, "hosts/pi.yaml": stringify(pi) });
    await addTestAdmin(dir);
    assert.equal(hearth(["secrets", "generate", "-f", dir]).code, 0);
    const PSK = "correct-horse-battery-staple-77";
    const set = hearth(["secrets", "set", "wifi-home", "-f", dir], { input: `${PSK}\n${PSK}\n` });
    assert.equal(set.code, 0, set.stderr);
    const out = join(dir, "out");
    const g = hearth(["generate", dir, "-o", out]);
    assert.equal(g.code, 0, g.stderr);
    const all = (d: string): string[] => readdirSync(d).flatMap((e) => (statSync(join(d, e)).isDirectory() ? all(join(d, e)) : [join(d, e)]));
    const flakeFiles = all(out);
    assert.ok(flakeFiles.some((f) => f.endsWith("hosts/pi/default.nix")));
    for (const f of [...flakeFiles, ...all(join(dir, "secrets"))]) assert.ok(!readFileSync(f).includes(PSK), `${f} holds the passphrase`);
    // What the store would hold: every value of the evaluated Wi-Fi configuration, as JSON.
    const evaluated = JSON.stringify(evalWith(out, "pi", `{ w = { inherit (h.config.networking.wireless) secretsFile networks extraConfig; }; u = h.config.systemd.services.hearth-wifi-secrets.script; }`));
    assert.ok(!evaluated.includes(PSK));
    assert.match(evaluated, /\/run\/hearth-wifi\/secrets/);
  });
});

describe("the execution clients' WebSocket endpoint (ws: true)", () => {
  const exec = (client: string, extra: H = {}) => ({ ephemeral: true, storage: { volumes: VOLUMES }, network: { interface: "eth0", dhcp: false, addresses: ["10.0.0.5/24"] }, services: { execution: { client, dataDir: "/var/lib/x", ws: true, ...extra } } });
  const argsOf = (client: string, extra: H = {}) => {
    const r = run({ a: exec(client, extra) });
    assert.deepEqual(r.errors.map((e) => e.message), []);
    const f = r.loaded.fleet!;
    return { r, args: hostServices(f, "a", f.hosts.get("a")!)[0]!.processes[0]!.args, ports: hostServices(f, "a", f.hosts.get("a")!)[0]!.ports };
  };
  // Each flag, where the pinned client declares it (data/client-flags/<client>.json, read from the
  // client's source at the tag ethereum.nix pins; Nethermind's and Erigon's lists say how they were read).
  const WS: Record<string, { flags: string[]; version: string; declared: RegExp }> = {
    geth: { flags: ["--ws", "--ws.addr", "--ws.port", "--ws.api"], version: "1.17.5", declared: /^cmd\/utils\/flags\.go:\d+$/ },
    reth: { flags: ["--ws", "--ws.addr", "--ws.port"], version: "2.5.1", declared: /^crates\/node\/core\/src\/args\/rpc_server\.rs:\d+$/ },
    besu: { flags: ["--rpc-ws-enabled", "--rpc-ws-host", "--rpc-ws-port"], version: "26.8.0", declared: /RpcWebsocketOptions\.java:\d+$/ },
    nethermind: { flags: ["--Init.WebSocketsEnabled", "--JsonRpc.WebSocketsPort"], version: "1.39.3", declared: /^docs: (Init\.WebSocketsEnabled|JsonRpc\.WebSocketsPort)$/ },
    erigon: { flags: ["--ws", "--ws.port"], version: "3.5.5", declared: /.*/ },
  };
  for (const [client, w] of Object.entries(WS))
    test(`${client} ${w.version}: ${w.flags.join(" ")}, bound where HTTP is, the command line one the client reads`, () => {
      const data = CLIENT_FLAGS[client]!;
      assert.equal(data.version, w.version);
      const known = Object.assign({}, ...Object.values(data.commands).map((c) => c.flags)) as Record<string, { declared?: string }>;
      for (const f of w.flags) {
        assert.ok(known[f], `${client} has no ${f} at ${data.version}`);
        if (known[f]!.declared) assert.match(known[f]!.declared!, w.declared, `${client} ${f}`);
      }
      const { args, ports } = argsOf(client, { ports: { ws: 8600 } });
      const argv = args.join(" ");
      for (const f of w.flags) assert.ok(args.some((a) => a === f || a.startsWith(`${f}=`)), `${client}: ${f} missing in ${argv}`);
      assert.ok(argv.includes("8600"), argv);
      assert.deepEqual(parseArgs(client, client, client === "reth" ? args : args).problems, [], argv);
      // Where HTTP binds, WS binds: the host's address; opened as HTTP is (local here: no firewall).
      if (client !== "erigon" && client !== "nethermind") assert.ok(argv.includes("10.0.0.5"), argv);
      assert.deepEqual(ports.find((p) => p.name === "ws"), { name: "ws", port: 8600, protocol: "tcp", expose: "local", field: ["ports", "ws"] });
      assert.equal(ports.find((p) => p.name === "http")!.expose, "local");
      // Off by default: no WS flag, no port.
      const off = run({ a: { ...exec(client), services: { execution: { client, dataDir: "/var/lib/x" } } } });
      const offArgs = hostServices(off.loaded.fleet!, "a", off.loaded.fleet!.hosts.get("a")!)[0]!;
      assert.ok(!offArgs.processes[0]!.args.some((a) => w.flags.slice(1).some((f) => a === f || a.startsWith(`${f}=`))), offArgs.processes[0]!.args.join(" "));
      assert.ok(!offArgs.ports.some((p) => p.name === "ws"));
    });

  test("address: mesh opens the WS port on the mesh interface, as HTTP; erigon and nethermind need http for ws", () => {
    const r = run({ a: exec("geth", { address: "mesh" }), b: { ...exec("besu"), network: { interface: "eth0", dhcp: false, addresses: ["10.0.0.6/24"] }, services: {} } }, fleetYaml({ mesh: { type: "wireguard" } }));
    assert.deepEqual(r.errors.map((e) => e.message), []);
    const p = r.planned!.hosts.find((h) => h.name === "a")!;
    assert.ok(p.meshFirewall.tcp.includes(8546) && p.meshFirewall.tcp.includes(8545), JSON.stringify(p.meshFirewall));
    assert.ok(!p.firewall.tcp.includes(8546));
    for (const client of ["erigon", "nethermind"]) {
      const bad = run({ a: exec(client, { http: false }) });
      const e = bad.errors.find((i) => i.path.join(".") === "services.execution.ws")!;
      assert.match(e.message, new RegExp(`${client} serves WebSocket through its HTTP JSON-RPC server`));
      assert.equal(e.line, lineOf(bad.files["hosts/a.yaml"]!, "ws: true"));
    }
  });
});
