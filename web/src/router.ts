// The hash router: #/ (fleet), #/hosts/NAME, #/jobs/ID, #/nodes, #/mesh. A hash keeps every route on
// the server's one index.html and survives reloads.
import { useEffect, useState } from "react";

export type Route =
  | { screen: "fleet" }
  | { screen: "host"; name: string }
  | { screen: "job"; id: number }
  | { screen: "nodes" }
  | { screen: "mesh" }
  | { screen: "deploys" }
  | { screen: "deploy"; id: number }
  | { screen: "settings" }
  | { screen: "fleet-settings" }
  | { screen: "new-host" }
  | { screen: "not-found"; hash: string };

/** parseHash("#/hosts/eth-1") → { screen: "host", name: "eth-1" } */
export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(safeDecode);
  if (parts.length === 0) return { screen: "fleet" };
  if (parts[0] === "hosts" && parts.length === 2) return { screen: "host", name: parts[1]! };
  if (parts[0] === "jobs" && parts.length === 2 && /^\d+$/.test(parts[1]!)) return { screen: "job", id: Number(parts[1]) };
  if (parts[0] === "nodes" && parts.length === 1) return { screen: "nodes" };
  if (parts[0] === "mesh" && parts.length === 1) return { screen: "mesh" };
  if (parts[0] === "deploys" && parts.length === 1) return { screen: "deploys" };
  if (parts[0] === "deploys" && parts.length === 2 && /^\d+$/.test(parts[1]!)) return { screen: "deploy", id: Number(parts[1]) };
  if (parts[0] === "settings" && parts.length === 1) return { screen: "settings" };
  if (parts[0] === "fleet-settings" && parts.length === 1) return { screen: "fleet-settings" };
  if (parts[0] === "new-host" && parts.length === 1) return { screen: "new-host" };
  return { screen: "not-found", hash };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export const href = {
  fleet: () => "#/",
  host: (name: string) => `#/hosts/${encodeURIComponent(name)}`,
  job: (id: number) => `#/jobs/${id}`,
  nodes: () => "#/nodes",
  mesh: () => "#/mesh",
  deploys: () => "#/deploys",
  deploy: (id: number) => `#/deploys/${id}`,
  settings: () => "#/settings",
  fleetSettings: () => "#/fleet-settings",
  newHost: () => "#/new-host",
};

export function navigate(to: string): void {
  window.location.hash = to;
}

// A screen with unsaved work registers a guard: leaving it in the app (a link, back) asks first.
const leaveGuards = new Set<() => boolean>();

/** While registered, in-app navigation asks `confirmLeave()`; false keeps the user where they are. Returns the unregister function. */
export function guardLeave(confirmLeave: () => boolean): () => void {
  leaveGuards.add(confirmLeave);
  return () => leaveGuards.delete(confirmLeave);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = (e: HashChangeEvent) => {
      if ([...leaveGuards].some((g) => !g())) {
        // Stay: put the old address back without another hashchange.
        history.replaceState(history.state, "", e.oldURL);
        return;
      }
      setRoute(parseHash(window.location.hash));
      window.scrollTo(0, 0);
    };
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
