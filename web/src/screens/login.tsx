// Log in (or, on a server's first start, set the admin password with the printed setup token).
import { useState } from "react";
import type { Session } from "../../../src/server/wire";
import { api, ApiFailure, errorMessage } from "../api";

export function LoginScreen({ setup, onSession }: { setup: boolean; onSession: (s: Session) => void }) {
  const [user, setUser] = useState("admin");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    (setup ? api.setup(token, user, password) : api.login(user, password)).then(onSession, (err: unknown) => {
      setBusy(false);
      setError(err instanceof ApiFailure && err.status === 401 && !setup ? "wrong user name or password" : errorMessage(err));
    });
  };

  return (
    <div className="login">
      <form onSubmit={submit} className="card">
        <h1>hearth</h1>
        {setup && <p className="help">First start: enter the setup token that `hearth serve` printed, and choose the admin password.</p>}
        {setup && (
          <label>
            Setup token
            <input data-testid="login-token" value={token} onChange={(e) => setToken(e.target.value)} autoComplete="one-time-code" required />
          </label>
        )}
        <label>
          User
          <input data-testid="login-user" value={user} onChange={(e) => setUser(e.target.value)} autoComplete="username" required />
        </label>
        <label>
          Password
          <input
            data-testid="login-password"
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete={setup ? "new-password" : "current-password"}
            required
            autoFocus
          />
        </label>
        {error && (
          <div className="inline-error" data-testid="login-error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" className="primary" disabled={busy} data-testid="login-submit">
          {setup ? "Set password" : "Log in"}
        </button>
      </form>
    </div>
  );
}
