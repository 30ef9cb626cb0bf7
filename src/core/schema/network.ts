// A host's `network:` and `kernel:` blocks: the primary interface in the simple form (interface,
// dhcp, addresses, gateway, dns) plus IPv6, more interfaces, VLANs, interfaces found by MAC
// address and Wi-Fi; and kernel parameters and modules. Address arithmetic lives here too, so
// the schema, the rules and the generator read addresses one way.
import { z } from "zod";
import { hostName, interfaceName, ipv4 } from "./common.js";

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export const isIPv4 = (s: string): boolean => IPV4.test(s);

/** RFC 4291 text form: eight groups, one `::`, an IPv4 tail allowed; no zone (%eth0). */
export function isIPv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(":")) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  let count = groups.length;
  const last = groups[groups.length - 1];
  if (last?.includes(".")) {
    if (!isIPv4(last)) return false;
    groups.pop();
    count += 1; // an IPv4 tail is two groups
  }
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

export const isIP = (s: string) => isIPv4(s) || isIPv6(s);

/** `192.168.1.10/24` or `2a01:4f8::2/64` into its parts; undefined when it is not one. */
export function parseCidr(s: string): { address: string; prefixLength: number; family: 4 | 6 } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const prefixLength = Number(m[2]);
  if (isIPv4(m[1]!) && prefixLength <= 32) return { address: m[1]!, prefixLength, family: 4 };
  if (isIPv6(m[1]!) && prefixLength <= 128) return { address: m[1]!, prefixLength, family: 6 };
  return undefined;
}

const ipv4Number = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);

/** Whether `ip` lies in the IPv4 subnet of `cidr` (both IPv4). */
export function inSubnet4(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (!c || c.family !== 4 || !isIPv4(ip)) return false;
  const size = 2 ** (32 - c.prefixLength);
  return Math.floor(ipv4Number(ip) / size) === Math.floor(ipv4Number(c.address) / size);
}

/** An address with its prefix length, IPv4 or IPv6, with a message that says what is wrong. */
export const ipCidr = z.string().superRefine((s, ctx) => {
  if (parseCidr(s)) return;
  const [addr, prefix] = s.split("/");
  const msg =
    prefix === undefined && isIPv6(s) ? `the IPv6 address ${s} needs its prefix length, e.g. ${s}/64`
    : prefix === undefined && isIPv4(s) ? `the address ${s} needs its prefix length, e.g. ${s}/24`
    : isIPv4(addr ?? "") ? `prefix length '${prefix}' of ${s}: an IPv4 prefix is 0-32`
    : isIPv6(addr ?? "") ? `prefix length '${prefix}' of ${s}: an IPv6 prefix is 0-128`
    : `'${s}' is not an IP address with prefix length, such as 192.168.1.10/24 or 2a01:4f8:c17:1234::1/64`;
  ctx.addIssue({ code: "custom", message: msg });
});

export const ipv6 = z.string().refine(isIPv6, "must be an IPv6 address such as fe80::1 or 2a01:4f8:c17:1234::1 (without prefix length)");
const anyIp = z.string().refine(isIP, "must be an IP address such as 1.1.1.1 or 2606:4700:4700::1111");

/** A MAC address as `ip link` prints it. */
export const macAddress = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, "must be a MAC address such as dc:a6:32:01:02:03 (`ip link` shows it after link/ether)");

/**
 * DHCP on an interface: true (IPv4 and IPv6: dhcpcd's DHCPv4, router advertisements and
 * DHCPv6), false, or one family only (dhcpcd's `ipv4only` / `ipv6only`).
 */
export const dhcpMode = z
  .union([z.boolean(), z.enum(["ipv4", "ipv6"])])
  .describe("DHCP: true (IPv4 and IPv6), false (static only), ipv4 or ipv6 (one family by DHCP, the other static or none)");

const addressing = {
  dhcp: dhcpMode.default(false),
  addresses: z.array(ipCidr).default([]).describe("Static addresses with prefix length, IPv4 or IPv6 (192.168.1.10/24, 2a01:4f8:c17:1234::1/64)"),
};

const extraInterface = z.strictObject({
  mac: macAddress
    .optional()
    .describe("Find the NIC by its permanent MAC address and give it this interface's name (a systemd .link file), so the name never depends on probing order"),
  ...addressing,
});

const vlan = z.strictObject({
  id: z.number().int().min(1).max(4094).describe("802.1Q VLAN id (1-4094)"),
  interface: interfaceName.describe("Parent interface: network.interface or a name under network.interfaces"),
  ...addressing,
});

const wifiNetwork = z.strictObject({
  ssid: z.string().min(1).max(32).refine((s) => !/["\n\\]/.test(s), "an SSID with quotes, backslashes or line breaks is not supported").describe("Network name"),
  pskSecret: hostName.describe("Name of the secret under secrets.custom in fleet.yaml that holds the passphrase (8-63 characters) or the 64-hex-digit PSK; set it with `hearth secrets set NAME`, never here"),
  priority: z.number().int().min(0).max(1000).optional().describe("Higher is preferred when several networks are in range"),
  hidden: z.boolean().default(false).describe("The network does not broadcast its SSID"),
});

const wifi = z.strictObject({
  interface: interfaceName.default("wlan0").describe("Wireless interface (default wlan0)"),
  country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166 country code such as DE or US").optional().describe("Regulatory domain (wpa_supplicant's country=), e.g. DE"),
  ...addressing,
  dhcp: dhcpMode.default(true),
  networks: z.array(wifiNetwork).min(1).describe("Networks to join, by SSID"),
});

export const network = z
  .strictObject({
    interface: interfaceName.default("eth0").describe("Primary interface name"),
    mac: macAddress.optional().describe("Find the primary NIC by its permanent MAC address and give it the name in `interface`"),
    dhcp: dhcpMode.default(true),
    addresses: z.array(ipCidr).default([]).describe("Static addresses with prefix length, IPv4 or IPv6 (with dhcp: false, or the family DHCP does not cover)"),
    gateway: ipv4.optional().describe("IPv4 default gateway for static addressing"),
    gateway6: ipv6
      .optional()
      .describe("IPv6 default gateway, on the primary interface; a link-local one such as Hetzner's fe80::1 is fine"),
    dns: z.array(anyIp).default([]).describe("DNS servers (IPv4 or IPv6 addresses)"),
    interfaces: z
      .record(interfaceName, extraInterface)
      .default({})
      .describe("More wired interfaces by name, each with its own addressing (the primary one is `interface` above)"),
    vlans: z.record(interfaceName, vlan).default({}).describe("VLAN interfaces by name (e.g. iot: { id: 20, interface: eth0 })"),
    wifi: wifi.optional().describe("Wi-Fi client (wpa_supplicant); the passphrase is a hearth secret that reaches the host decrypted at /run/agenix, never the Nix store"),
  })
  .prefault({})
  .describe("Host networking; firewall openings are derived from the services");

export const kernel = z
  .strictObject({
    params: z
      .array(z.string().regex(/^([^\s"]|"[^"\n]*")+$/, "one kernel parameter per entry: no spaces except inside double quotes"))
      .default([])
      .describe("Kernel command-line parameters (boot.kernelParams), e.g. console=ttyS0,115200"),
    modules: z
      .array(z.string().regex(/^[A-Za-z0-9_-]+$/, "must be a kernel module name such as 8021q or wireguard"))
      .default([])
      .describe("Kernel modules loaded at boot (boot.kernelModules)"),
  })
  .prefault({})
  .describe("Kernel command line and modules");

export type Network = z.infer<typeof network>;
export type Kernel = z.infer<typeof kernel>;
export type Addressing = { dhcp: z.infer<typeof dhcpMode>; addresses: string[] };

/** The first static IPv4 address of the primary interface (what services bind to), if any. */
export const staticIPv4 = (n: Pick<Network, "addresses">): string | undefined =>
  n.addresses.map(parseCidr).find((c) => c?.family === 4)?.address;

/** The address to reach a host at: its first static IPv4, else its first static IPv6 (a v6-only VM). */
export const reachableAddress = (n: Pick<Network, "addresses">): string | undefined => staticIPv4(n) ?? n.addresses.map(parseCidr).find((c) => c?.family === 6)?.address;
