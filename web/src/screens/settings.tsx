// Server settings: who may use the page (admins change things, viewers only look), where alerts
// go (with a test button), and the audit log of every action with who did it.
import { useState } from "react";
import { api, errorMessage } from "../api";
import { Badge } from "../components/badges";
import { formatTime } from "../components/format";
import { usePolled } from "../hooks";
import { useSession } from "../session";

export function SettingsScreen() {
  const session = useSession();
  const admin = session?.role !== "viewer";
  return (
    <div className="settings-screen">
      <div className="title-row">
        <h1>Settings</h1>
      </div>
      <Alerts admin={admin} />
      <Users admin={admin} />
      <Audit />
    </div>
  );
}

function Alerts({ admin }: { admin: boolean }) {
  const m = usePolled((signal) => api.monitor(signal), 10_000);
  const [said, setSaid] = useState<string>();
  const test = async () => {
    setSaid(undefined);
    try {
      const r = await api.testAlert();
      setSaid(JSON.stringify(r));
    } catch (e) {
      setSaid(errorMessage(e));
    }
  };
  return (
    <section className="card" data-testid="alert-settings">
      <h2>Alerts</h2>
      {m.data && (
        <p>
          {m.data.channels.length ? `Sent to ${m.data.channels.join(" and ")}` : "Shown on this page only: name a webhook or an e-mail address under alerts: in fleet.yaml to be told elsewhere."} Hosts are checked every{" "}
          {m.data.intervalSeconds} s.
        </p>
      )}
      {admin && m.data && m.data.channels.length > 0 && (
        <button type="button" className="small" onClick={() => void test()}>
          Send a test alert
        </button>
      )}
      {said && <pre className="small">{said}</pre>}
    </section>
  );
}

function Users({ admin }: { admin: boolean }) {
  const users = usePolled((signal) => api.users(signal), 30_000);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<"admin" | "viewer">("viewer");
  const [error, setError] = useState<string>();
  const add = async () => {
    setError(undefined);
    try {
      await api.putUser(name, password, role);
      setName("");
      setPassword("");
      users.refresh();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <section className="card" data-testid="users">
      <h2>People</h2>
      <p className="muted small">On a loopback address the local user is an admin without a password; bound beyond loopback, everyone logs in. Viewers see every page and change nothing.</p>
      <table className="table">
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr key={u.name}>
              <td>{u.name}</td>
              <td>
                <Badge tone={u.role === "admin" ? "info" : "muted"}>{u.role}</Badge>
              </td>
              <td>
                {admin && u.createdAt && (
                  <button type="button" className="small subtle" onClick={() => window.confirm(`Remove ${u.name}?`) && void api.deleteUser(u.name).then(users.refresh, (e: unknown) => setError(errorMessage(e)))}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {admin && (
        <form
          className="form-row"
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <label>
            Name <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
          </label>
          <label>
            Password (12+ characters) <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
          </label>
          <label>
            Role{" "}
            <select value={role} onChange={(e) => setRole(e.target.value as "admin" | "viewer")}>
              <option value="viewer">viewer (read-only)</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <button type="submit" className="small" disabled={!name || password.length < 12}>
            Add
          </button>
        </form>
      )}
      {error && <div className="banner bad">{error}</div>}
    </section>
  );
}

function Audit() {
  const log = usePolled((signal) => api.audit(signal), 10_000);
  return (
    <section className="card" data-testid="audit">
      <details>
        <summary>Audit log (who did what)</summary>
        <table className="table small">
          <tbody>
            {(log.data ?? []).map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.at)}</td>
                <td>{e.user}</td>
                <td>{e.action}</td>
                <td className="wrap">{e.target}</td>
                <td className="wrap muted">{e.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}
