// Small address arithmetic for the mesh plan: IPv4 as 32-bit numbers, IPv6 as bigints.

export interface Prefix4 {
  base: number;
  bits: number;
  /** Usable host offsets are 1 .. size - 2 (no network or broadcast address). */
  size: number;
}

export const ip4ToNum = (s: string) => s.split(".").reduce((n, o) => n * 256 + Number(o), 0);
export const numToIp4 = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

export function parsePrefix4(cidr: string): Prefix4 {
  const [addr, len] = cidr.split("/");
  const bits = Number(len);
  const size = 2 ** (32 - bits);
  const base = Math.floor(ip4ToNum(addr!) / size) * size;
  return { base, bits, size };
}

/** Host offset of `addr` in the prefix, or undefined when outside it. */
export function offsetIn(p: Prefix4, addr: string): number | undefined {
  const n = ip4ToNum(addr);
  return n >= p.base && n < p.base + p.size ? n - p.base : undefined;
}

export const isUsableOffset = (p: Prefix4, off: number) => (p.size <= 2 ? true : off >= 1 && off <= p.size - 2);

function parse6(s: string): bigint {
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":").filter(Boolean) : [];
  const t = tail ? tail.split(":").filter(Boolean) : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n);
}

function format6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt((7 - i) * 16)) & 0xffffn));
  // Compress the longest run of zero groups (RFC 5952).
  let best = [-1, 0];
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best[1]! && j - i > 1) best = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best[0]! < 0) return hex.join(":");
  return `${hex.slice(0, best[0]).join(":")}::${hex.slice(best[0]! + best[1]!).join(":")}`;
}

/** The address with host part `offset` in an IPv6 prefix (IPv4 and IPv6 share host parts). */
export function ip6At(cidr: string, offset: number): string {
  const [addr, len] = cidr.split("/");
  const bits = BigInt(128 - Number(len));
  const base = (parse6(addr!) >> bits) << bits;
  return format6(base + BigInt(offset));
}

export const prefixLen = (cidr: string) => Number(cidr.split("/")[1]);
