// Mesh picture: the members of FleetOverview.mesh on a circle (hubs in the middle) and the
// links between them; the endpoint, or "behind NAT", in each member's tooltip.
import { useMemo } from "react";
import type { MeshWire } from "../../../src/server/wire";
import { errorMessage } from "../api";
import { useFleet } from "../hooks";
import { href } from "../router";

const SIZE = 640;
const C = SIZE / 2;
/** Beyond this many links the picture is a hairball; the member table says the rest. */
const MAX_LINKS = 4000;

export function MeshScreen() {
  const fleet = useFleet();
  const mesh = fleet.data?.mesh;
  return (
    <div className="mesh">
      <div className="title-row">
        <h1>Mesh</h1>
        {mesh && (
          <span className="muted">
            {mesh.type} · {mesh.topology} · {mesh.interface} · {mesh.ipv4} · {mesh.members.length} members · {mesh.links.length} links
          </span>
        )}
      </div>
      {!!fleet.error && <div className="banner bad">Could not load the fleet: {errorMessage(fleet.error)}</div>}
      {fleet.data && !mesh && (
        <p className="muted" data-testid="no-mesh">
          No mesh configured. Add <code>mesh:</code> to fleet.yaml (type wireguard or headscale) to join the hosts.
        </p>
      )}
      {mesh && <MeshPicture mesh={mesh} />}
      {mesh && <MemberTable mesh={mesh} />}
    </div>
  );
}

interface Placed {
  name: string;
  x: number;
  y: number;
  m: MeshWire["members"][number];
}

/** Hubs on a small inner circle (one hub: the centre), everyone else on the outer circle. */
export function layout(members: MeshWire["members"]): Placed[] {
  const hubs = members.filter((m) => m.hub);
  const rest = members.filter((m) => !m.hub);
  const ring = (list: typeof members, r: number, offset: number) =>
    list.map((m, i) => {
      const a = offset + (2 * Math.PI * i) / Math.max(1, list.length) - Math.PI / 2;
      return { name: m.name, m, x: C + r * Math.cos(a), y: C + r * Math.sin(a) };
    });
  const outer = rest.length || !hubs.length ? ring(rest, C - 60, 0) : [];
  const inner = hubs.length === 1 && rest.length ? [{ name: hubs[0]!.name, m: hubs[0]!, x: C, y: C }] : ring(hubs, rest.length ? Math.min(90, C / 3) : C - 60, Math.PI / 7);
  return [...inner, ...outer];
}

function tooltip(m: MeshWire["members"][number]): string {
  return [
    m.name,
    m.ipv4,
    m.endpoint ? `endpoint ${m.endpoint}` : "behind NAT (no endpoint)",
    m.hub ? "hub / server" : "",
    m.external ? "external (not NixOS)" : "",
    m.pinned ? "pinned address" : "",
  ]
    .filter(Boolean)
    .join("\n");
}

function MeshPicture({ mesh }: { mesh: MeshWire }) {
  const placed = useMemo(() => layout(mesh.members), [mesh.members]);
  const at = useMemo(() => new Map(placed.map((p) => [p.name, p])), [placed]);
  const many = placed.length > 60;
  const r = placed.length > 200 ? 3 : many ? 5 : 9;
  const drawLinks = mesh.links.length <= MAX_LINKS;
  return (
    <figure className="mesh-figure">
      <svg viewBox={`0 0 ${SIZE} ${SIZE}`} role="img" aria-label={`mesh of ${placed.length} members`} data-testid="mesh-svg">
        {drawLinks && (
          <g className="links">
            {mesh.links.map(([a, b], i) => {
              const p = at.get(a);
              const q = at.get(b);
              if (!p || !q) return null;
              return <line key={i} x1={p.x} y1={p.y} x2={q.x} y2={q.y} className={p.m.hub || q.m.hub ? "hub-link" : undefined} />;
            })}
          </g>
        )}
        {placed.map((p) => (
          <g key={p.name} className={`member${p.m.hub ? " hub" : ""}${p.m.external ? " external" : ""}${p.m.endpoint ? "" : " nat"}`} data-testid={`mesh-node-${p.name}`}>
            <title>{tooltip(p.m)}</title>
            <a href={p.m.external ? undefined : href.host(p.name)}>
              <circle cx={p.x} cy={p.y} r={p.m.hub ? r * 1.8 : r} />
              {!many && (
                <text x={p.x} y={p.y + (p.m.hub ? r * 1.8 : r) + 13} textAnchor="middle">
                  {p.name}
                </text>
              )}
            </a>
          </g>
        ))}
      </svg>
      <figcaption className="muted small">
        Large dots: hubs or the Headscale server. Hollow: behind NAT (no endpoint). Dashed: external machines. Hover a member for its address.
        {!drawLinks && ` ${mesh.links.length} links are too many to draw.`}
      </figcaption>
    </figure>
  );
}

function MemberTable({ mesh }: { mesh: MeshWire }) {
  return (
    <details className="members" open={mesh.members.length <= 50}>
      <summary>Members</summary>
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Address</th>
            <th>Endpoint</th>
            <th>Role</th>
          </tr>
        </thead>
        <tbody>
          {mesh.members.map((m) => (
            <tr key={m.name}>
              <td>{m.external ? m.name : <a href={href.host(m.name)}>{m.name}</a>}</td>
              <td className="mono">
                {m.ipv4}
                {m.pinned && " (pinned)"}
                {m.provisional && <span className="muted" title="not recorded in mesh/addresses.json yet (the fleet is invalid): may still change"> (provisional)</span>}
              </td>
              <td className="mono">{m.endpoint ?? <span className="muted">behind NAT</span>}</td>
              <td>{[m.hub ? "hub" : "", m.external ? "external" : ""].filter(Boolean).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
