// A host's network as NixOS options: per-interface addressing (scripted networking with dhcpcd,
// as hearth always generated), IPv6 gateway, VLANs, NICs named by MAC address, Wi-Fi with its
// passphrase from agenix, and kernel parameters and modules.
import type { Feature } from "./types.js";
import type { Fleet, Host } from "../schema/fleet.js";
import { parseCidr, type Addressing } from "../schema/network.js";
import { AGENIX_DIR } from "../secrets/kinds.js";

/**
 * Where hearth writes wpa_supplicant's secrets file (`name=value` lines, read by its
 * ext_password_backend) from the decrypted secrets: a runtime directory of the composing unit.
 */
export const WIFI_SECRETS_FILE = "/run/hearth-wifi/secrets";
export const WIFI_SECRETS_UNIT = "hearth-wifi-secrets";

/** nixpkgs' wireless module starts one unit per listed interface: `wpa_supplicant-<iface>`. */
export const wpaUnit = (iface: string) => `wpa_supplicant-${iface}`;

/** Where a custom secret is decrypted on the host (fleet.yaml secrets.custom.NAME.path). */
export const customSecretPath = (fleet: Fleet, name: string) => fleet.secrets.custom[name]?.path ?? `${AGENIX_DIR}/${name}`;

/** networking.interfaces.<name> for one interface; the simple static and DHCP forms as before. */
function interfaceOptions(a: Addressing): Record<string, unknown> {
  const cidrs = a.addresses.map(parseCidr).filter((c) => c !== undefined);
  const v4 = cidrs.filter((c) => c.family === 4).map(({ address, prefixLength }) => ({ address, prefixLength }));
  const v6 = cidrs.filter((c) => c.family === 6).map(({ address, prefixLength }) => ({ address, prefixLength }));
  return {
    ...(a.dhcp !== false ? { useDHCP: true } : {}),
    ...(v4.length || (a.dhcp === false && !v6.length) ? { ipv4: { addresses: v4 } } : {}),
    ...(v6.length ? { ipv6: { addresses: v6 } } : {}),
  };
}

/** Every interface hearth configures on the host, with its addressing, primary first. */
export function hostInterfaces(host: Host): { name: string; addressing: Addressing; path: (string | number)[] }[] {
  const n = host.network;
  return [
    { name: n.interface, addressing: n, path: ["network"] },
    ...Object.entries(n.interfaces).map(([name, i]) => ({ name, addressing: i, path: ["network", "interfaces", name] })),
    ...Object.entries(n.vlans).map(([name, v]) => ({ name, addressing: v, path: ["network", "vlans", name] })),
    ...(n.wifi ? [{ name: n.wifi.interface, addressing: n.wifi, path: ["network", "wifi"] }] : []),
  ];
}

/** The `networking` options of the host's addressing (merged into base's block). */
export function networkingOptions(host: Host): Record<string, unknown> {
  const n = host.network;
  const interfaces = Object.fromEntries(hostInterfaces(host).map((i) => [i.name, interfaceOptions(i.addressing)]));
  const vlans = Object.entries(n.vlans);
  return {
    useDHCP: false,
    interfaces,
    ...(vlans.length ? { vlans: Object.fromEntries(vlans.map(([name, v]) => [name, { id: v.id, interface: v.interface }])) } : {}),
    ...(n.gateway ? { defaultGateway: n.gateway } : {}),
    // A link-local gateway (Hetzner's fe80::1) means nothing without its interface.
    ...(n.gateway6 ? { defaultGateway6: { address: n.gateway6, interface: n.interface } } : {}),
    ...(n.dns.length ? { nameservers: n.dns } : {}),
  };
}

/**
 * dhcpcd runs on every interface with useDHCP; `ipv4only`/`ipv6only` in an `interface` block of
 * dhcpcd.conf (dhcpcd.conf(5)) keeps it to one family there.
 */
function dhcpcdLines(host: Host): string {
  return hostInterfaces(host)
    .filter((i) => i.addressing.dhcp === "ipv4" || i.addressing.dhcp === "ipv6")
    .map((i) => `interface ${i.name}\n  ${i.addressing.dhcp === "ipv4" ? "ipv4only" : "ipv6only"}\n`)
    .join("");
}

export const network: Feature = {
  id: "network",
  applies: () => true,
  contribute: ({ fleet, host }, out) => {
    const n = host.network;
    const dhcpcd = dhcpcdLines(host);
    if (dhcpcd) out.config.push({ networking: { dhcpcd: { extraConfig: dhcpcd } } });
    // A .link file renames the NIC with that permanent MAC; udev applies .link files whether or not
    // systemd-networkd runs (nixpkgs nixos/modules/system/boot/networkd.nix writes them to
    // /etc/systemd/network for udev in either case). 10- sorts before NixOS' 99-default.link.
    const byMac = [...(n.mac ? [[n.interface, n.mac] as const] : []), ...Object.entries(n.interfaces).flatMap(([name, i]) => (i.mac ? [[name, i.mac] as const] : []))];
    if (byMac.length)
      out.config.push({
        systemd: { network: { links: Object.fromEntries(byMac.map(([name, mac]) => [`10-${name}`, { matchConfig: { PermanentMACAddress: mac.toLowerCase() }, linkConfig: { Name: name } }])) } },
      });
    if (n.wifi) {
      const w = n.wifi;
      const unit = wpaUnit(w.interface);
      // wpa_supplicant reads `name=value` lines from secretsFile (ext_password_backend=file:…)
      // and each network's `psk=ext:name`; nixpkgs' module bind-mounts that file into its
      // sandbox and runs as user wpa_supplicant (services/networking/wpa_supplicant.nix). The
      // passphrases are decrypted by agenix into /run/agenix (tmpfs); a root oneshot copies them
      // into that file with shell builtins only (read, printf), so no value is in a command
      // line, and none is in the Nix store: the store holds the script with the paths.
      const secrets = [...new Set(w.networks.map((x) => x.pskSecret))];
      const script = [
        "set -eu",
        "umask 0077",
        `tmp=${WIFI_SECRETS_FILE}.tmp`,
        ': > "$tmp"',
        ...secrets.flatMap((s) => [`v=""; IFS= read -r v < ${shellQuote(customSecretPath(fleet, s))} || true`, `printf '%s=%s\\n' ${shellQuote(s)} "$v" >> "$tmp"`]),
        'v=""',
        'chown wpa_supplicant:wpa_supplicant "$tmp"',
        `mv "$tmp" ${WIFI_SECRETS_FILE}`,
      ].join("\n");
      out.config.push({
        networking: {
          wireless: {
            enable: true,
            interfaces: [w.interface],
            secretsFile: WIFI_SECRETS_FILE,
            networks: Object.fromEntries(
              w.networks.map((x) => [x.ssid, { pskRaw: `ext:${x.pskSecret}`, ...(x.hidden ? { hidden: true } : {}), ...(x.priority !== undefined ? { priority: x.priority } : {}) }]),
            ),
            ...(w.country ? { extraConfig: `country=${w.country}` } : {}),
          },
        },
        systemd: {
          services: {
            [WIFI_SECRETS_UNIT]: {
              description: "Wi-Fi passphrases for wpa_supplicant, from the agenix secrets",
              before: [`${unit}.service`],
              requiredBy: [`${unit}.service`],
              serviceConfig: { Type: "oneshot", RemainAfterExit: true, RuntimeDirectory: "hearth-wifi", RuntimeDirectoryMode: "0755" },
              script,
            },
          },
        },
      });
    }
    const k = host.kernel;
    if (k.params.length || k.modules.length)
      out.config.push({ boot: { ...(k.params.length ? { kernelParams: k.params } : {}), ...(k.modules.length ? { kernelModules: k.modules } : {}) } });
  },
};

const shellQuote = (s: string) => (/^[A-Za-z0-9_./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
