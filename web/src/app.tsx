// The shell: the session gate (login or first-start setup), the header and the routed screen.
import { useCallback, useEffect, useState } from "react";
import type { Session } from "../../src/server/wire";
import { api, ApiFailure, errorMessage, onUnauthorized } from "./api";
import { href, useRoute, type Route } from "./router";
import { FleetScreen } from "./screens/fleet";
import { HostScreen } from "./screens/host";
import { JobScreen } from "./screens/job";
import { LoginScreen } from "./screens/login";
import { MeshScreen } from "./screens/mesh";
import { NodesScreen } from "./screens/nodes";
import { DeployScreen, DeploysScreen } from "./screens/deploys";
import { SettingsScreen } from "./screens/settings";
import { FleetSettingsScreen } from "./screens/fleet-settings";
import { NewHostScreen } from "./screens/new-host";
import { SessionContext } from "./session";

type Gate = { state: "loading" } | { state: "in"; session: Session } | { state: "login"; setup: boolean } | { state: "error"; message: string };

export function App() {
  const [gate, setGate] = useState<Gate>({ state: "loading" });
  const route = useRoute();

  const check = useCallback(() => {
    api.session().then(
      (session) => setGate({ state: "in", session }),
      (e: unknown) =>
        setGate(
          e instanceof ApiFailure && e.status === 401
            ? { state: "login", setup: e.code === "setup_required" }
            : { state: "error", message: errorMessage(e) },
        ),
    );
  }, []);
  useEffect(check, [check]);
  useEffect(() => onUnauthorized((code) => setGate({ state: "login", setup: code === "setup_required" })), []);

  if (gate.state === "loading") return <div className="page muted">Loading…</div>;
  if (gate.state === "error")
    return (
      <div className="page">
        <div className="banner bad">Cannot reach the hearth server: {gate.message}</div>
        <button type="button" onClick={check}>
          Retry
        </button>
      </div>
    );
  if (gate.state === "login") return <LoginScreen setup={gate.setup} onSession={(session) => setGate({ state: "in", session })} />;

  const logout = () => {
    void api.logout().finally(() => setGate({ state: "login", setup: false }));
  };
  return (
    <SessionContext.Provider value={gate.session}>
      <header className="top">
        <a className="brand" href={href.fleet()}>
          hearth
        </a>
        <nav>
          <a href={href.fleet()} className={route.screen === "fleet" || route.screen === "host" ? "active" : ""}>
            Fleet
          </a>
          <a href={href.deploys()} className={route.screen === "deploys" || route.screen === "deploy" ? "active" : ""} data-testid="nav-deploys">
            Deploy
          </a>
          <a href={href.nodes()} className={route.screen === "nodes" ? "active" : ""} data-testid="nav-nodes">
            Nodes
          </a>
          <a href={href.mesh()} className={route.screen === "mesh" ? "active" : ""}>
            Mesh
          </a>
          <a href={href.fleetSettings()} className={route.screen === "fleet-settings" ? "active" : ""} data-testid="nav-fleet-settings">
            Fleet settings
          </a>
          <a href={href.newHost()} className={route.screen === "new-host" ? "active" : ""} data-testid="nav-new-host">
            New node
          </a>
          <a href={href.settings()} className={route.screen === "settings" ? "active" : ""} data-testid="nav-settings">
            Settings
          </a>
        </nav>
        <span className="spacer" />
        {gate.session.authRequired && (
          <>
            <span className="muted" data-testid="whoami">
              {gate.session.user}
              {gate.session.role === "viewer" ? " (read-only)" : ""}
            </span>
            <button type="button" className="small subtle" onClick={logout}>
              Log out
            </button>
          </>
        )}
      </header>
      <main className="page">
        <Screen route={route} />
      </main>
    </SessionContext.Provider>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.screen) {
    case "fleet":
      return <FleetScreen />;
    case "host":
      return <HostScreen key={route.name} name={route.name} />;
    case "job":
      return <JobScreen key={route.id} id={route.id} />;
    case "nodes":
      return <NodesScreen />;
    case "mesh":
      return <MeshScreen />;
    case "deploys":
      return <DeploysScreen />;
    case "deploy":
      return <DeployScreen key={route.id} id={route.id} />;
    case "settings":
      return <SettingsScreen />;
    case "fleet-settings":
      return <FleetSettingsScreen />;
    case "new-host":
      return <NewHostScreen />;
    default:
      return (
        <div className="banner warn">
          Nothing at {route.hash}. <a href={href.fleet()}>Back to the fleet</a>
        </div>
      );
  }
}
