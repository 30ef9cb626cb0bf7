// `hearth mesh …`: the address plan and who peers with whom, and wg-quick files for machines
// that do not run NixOS.
import { Command } from "commander";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { CliError, out, planFor } from "./common.js";
import { identities, loadStore, wrap } from "./secrets.js";
import { neighbours, peersOf } from "../core/mesh/plan.js";
import { wgQuickConf } from "../core/mesh/wireguard.js";
import { show } from "../node/secrets/store.js";
import { writeFileAtomic } from "../node/fs-atomic.js";

function meshOf(dir: string) {
  const p = planFor(resolve(dir), { requireSecrets: false });
  if (!p.mesh) throw new CliError("this fleet has no mesh; add one to fleet.yaml, e.g. mesh: { type: wireguard }");
  return p.mesh;
}

export function registerMesh(program: Command): void {
  const cmd = program.command("mesh").description("the fleet's WireGuard mesh or Headscale tailnet");

  cmd
    .command("show")
    .description("print the address plan and who peers with whom")
    .option("-f, --fleet <dir>", "fleet directory", ".")
    .option("--json", "machine-readable output")
    .action(
      wrap((opts: { fleet: string; json?: boolean }) => {
        const mesh = meshOf(opts.fleet);
        const rows = mesh.members.map((m) => ({
          name: m.name,
          external: m.external,
          ipv4: m.ipv4,
          ...(m.ipv6 ? { ipv6: m.ipv6 } : {}),
          endpoint: m.endpoint ?? null,
          hub: m.hub,
          new: mesh.allocated.includes(m.name),
          // Headscale hands out tailnet addresses itself; only pinned ones are fixed.
          pinned: m.pinned,
          peers: mesh.type === "wireguard" ? peersOf(mesh, m.name).map((p) => ({ name: p.name, allowedIPs: p.allowedIPs, endpoint: p.endpoint ?? null, keepalive: p.persistentKeepalive ?? null })) : [],
          ...(mesh.type === "wireguard" && !m.publicKey ? { missingKey: true } : {}),
        }));
        if (opts.json) {
          out(JSON.stringify({ type: mesh.type, interface: mesh.interface, ipv4: mesh.ipv4, ipv6: mesh.ipv6 ?? null, topology: mesh.settings.topology, members: rows }, null, 2));
          return;
        }
        out(`${mesh.type} mesh on ${mesh.interface}: ${mesh.ipv4}${mesh.ipv6 ? ` ${mesh.ipv6}` : ""}, topology ${mesh.settings.topology}, ${rows.length} member(s)`);
        const w = Math.max(4, ...rows.map((r) => r.name.length));
        for (const r of rows) {
          const who = mesh.type === "wireguard" ? neighbours(mesh.settings, mesh.byName, mesh.byName.get(r.name)!).map((n) => n.name) : [];
          const where = mesh.type === "headscale" ? (mesh.byName.get(r.name)!.pinned ? "pinned" : "assigned by Headscale") : (r.endpoint ?? "behind NAT");
          out(
            `${r.name.padEnd(w)}  ${r.ipv4.padEnd(15)} ${where.padEnd(22)} ${r.hub ? "hub " : ""}${r.external ? "external " : ""}${r.new ? "(new) " : ""}` +
              (mesh.type === "wireguard" ? `peers: ${who.length > 6 ? `${who.slice(0, 6).join(", ")} … (${who.length})` : who.join(", ") || "none"}` : ""),
          );
        }
        for (const f of mesh.findings) out(`${f.severity}: ${f.message}`);
      }),
    );

  cmd
    .command("wg-quick")
    .description("write a member's wg-quick .conf (with its private key, mode 0600) for a machine that does not run NixOS")
    .argument("<name>", "mesh member (host or mesh.external peer)")
    .requiredOption("-o, --out <file>", "where to write the .conf (created 0600; never overwritten)")
    .option("-f, --fleet <dir>", "fleet directory", ".")
    .option("-i, --identity <file...>", "admin identity to decrypt the member's key")
    .action(
      wrap(async (name: string, opts: { fleet: string; out: string; identity?: string[] }) => {
        const dir = resolve(opts.fleet);
        const mesh = meshOf(dir);
        if (mesh.type !== "wireguard") throw new CliError("wg-quick files exist for WireGuard meshes only");
        const member = mesh.byName.get(name);
        if (!member) throw new CliError(`'${name}' is not a member of the mesh; members: ${mesh.members.map((m) => m.name).join(", ")}`);
        const file = resolve(opts.out);
        if (existsSync(file)) throw new CliError(`${file} exists; hearth does not overwrite key files`);
        const store = loadStore(dir);
        const key = await show(store, `${member.external ? "external" : "hosts"}/${name}/wireguard-key`, await identities(opts.identity));
        try {
          writeFileAtomic(file, wgQuickConf(mesh, name, key.toString("utf8")), 0o600);
        } finally {
          key.fill(0);
        }
        out(`wrote ${file} (mode 0600; it holds ${name}'s private key): wg-quick up ${file}`);
      }),
    );
}
