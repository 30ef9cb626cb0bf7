// `hearth eval HOST PATH`: answers questions about a host from hearth's own plan, without Nix.
// `services.<unit>.execStart` and friends come from the planned processes; any other path is
// looked up in the generated NixOS option tree.
import { Expr, printNix, type NixValue } from "../nix/ast.js";
import type { HostPlan } from "./host.js";
import { escapeShellArgs } from "./shell.js";

export type EvalResult = { found: true; value: unknown } | { found: false; message: string; hint?: string };

/** A JSON-friendly view of the host: processes by unit, plus the NixOS configuration tree. */
export function hostView(h: HostPlan): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (const s of h.services)
    for (const p of s.processes)
      services[p.unit] = {
        execStart: `\${${p.packageLabel}}/bin/${p.binary} ${escapeShellArgs(p.args)}`,
        package: p.packageLabel,
        binary: p.binary,
        args: p.args,
        user: p.user,
        dataDirs: p.dataDirs,
        after: p.after,
        role: s.role,
        ports: s.ports.map((x) => ({ name: x.name, port: x.port, protocol: x.protocol, expose: x.expose })),
      };
  return {
    ...toJson(h.config) as Record<string, unknown>,
    hardware: toJson(h.hardware),
    disko: h.disko === undefined ? null : toJson(h.disko),
    services: { ...(toJson((h.config as Record<string, NixValue>)["services"] ?? {}) as object), ...services },
    secrets: h.secrets,
    dependsOn: h.dependsOn,
    firewall: h.firewall,
  };
}

function toJson(v: NixValue | undefined): unknown {
  if (v instanceof Expr) return printNix(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, toJson(x as NixValue)]));
  return v;
}

export function evalPath(h: HostPlan, path: string): EvalResult {
  const segs = path.split(".").filter(Boolean);
  let cur: unknown = hostView(h);
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (cur && typeof cur === "object" && seg in (cur as object)) cur = (cur as Record<string, unknown>)[seg];
    else {
      const here = segs.slice(0, i).join(".") || "(top)";
      const keys = cur && typeof cur === "object" ? Object.keys(cur as object) : [];
      return { found: false, message: `${h.name}: '${seg}' not found under ${here}`, hint: keys.length ? `available: ${keys.slice(0, 30).join(", ")}` : undefined };
    }
  }
  return { found: true, value: cur };
}
