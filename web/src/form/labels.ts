// Words for people instead of YAML keys: a field's label (the schema's title, or its key spelled
// out: diskPercent → "Disk percent"), a section's title, and the one-line summary a closed
// section shows of what is set in it.
import { isObj, type JsonSchema } from "./schema";

const WORDS: Record<string, string> = {
  ipv4: "IPv4",
  ipv6: "IPv6",
  ssh: "SSH",
  url: "URL",
  urls: "URLs",
  smtp: "SMTP",
  dns: "DNS",
  jwt: "JWT",
  mev: "MEV",
  api: "API",
  p2p: "P2P",
  luks: "LUKS",
  zfs: "ZFS",
  tpm2: "TPM2",
  dhcp: "DHCP",
  acme: "ACME",
  id: "ID",
  ids: "IDs",
  http: "HTTP",
  nixpkgs: "nixpkgs",
  authrpc: "auth RPC",
};

/** `diskPercent` → "Disk percent", `ipv4` → "IPv4", `mev-boost` → "MEV boost". */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((w) => WORDS[w.toLowerCase()] ?? w.toLowerCase());
  if (!words.length) return key;
  const first = words[0]!;
  words[0] = WORDS[first.toLowerCase()] ? first : first.charAt(0).toUpperCase() + first.slice(1);
  return words.join(" ");
}

/** A field's label: the schema's title, else its key spelled out. Map entries keep their key (a name the user chose). */
export function labelOf(name: string, schema: JsonSchema, entry = false): string {
  if (entry) return name;
  return schema.title ?? humanize(name);
}

/**
 * A section's title: its title, or its description when that is a short name ("Ethereum
 * defaults", "Boot media"), else the key spelled out. `usedDescription` tells the caller not to
 * repeat it as help.
 */
export function sectionTitle(name: string, schema: JsonSchema): { title: string; usedDescription: boolean } {
  if (schema.title) return { title: schema.title, usedDescription: false };
  const d = schema.description;
  if (d && d.length <= 32 && !/[:;,.(]/.test(d)) return { title: d, usedDescription: true };
  return { title: humanize(name), usedDescription: false };
}

const scalar = (v: unknown): string => (typeof v === "boolean" ? (v ? "on" : "off") : typeof v === "string" ? v : JSON.stringify(v));

function brief(v: unknown, depth: number): string {
  if (v === null || v === undefined) return "—";
  if (Array.isArray(v)) {
    if (v.length === 0) return "none";
    if (v.every((x) => !isObj(x) && !Array.isArray(x)) && v.length <= 3) return v.map(scalar).join(", ");
    return `${v.length} items`;
  }
  if (isObj(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) return "on (defaults)";
    if (depth >= 2) return keys.join(", ");
    return keys.map((k) => `${k} ${brief(v[k], depth + 1)}`).join(", ");
  }
  return scalar(v);
}

/**
 * What is set in a section, on one line: "type: wireguard · ipv4: 10.100.0.0/24 · hubs: alpha".
 * A map (admins) lists its names.
 */
export function summarize(value: unknown, isMap = false, max = 140): string {
  if (value === undefined) return "not set: the defaults apply";
  let text: string;
  if (isMap && isObj(value)) text = Object.keys(value).length ? Object.keys(value).join(", ") : "none";
  else if (isObj(value)) text = Object.keys(value).length ? Object.entries(value).map(([k, v]) => `${k}: ${brief(v, 1)}`).join(" · ") : "on, with the defaults";
  else text = brief(value, 0);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
