// Remote unlock from the page: the host waits in its initrd for its disk passphrase. hearth's own
// luks-passphrase secret (decrypted on the server), or one typed here: sent once in the request
// body, never stored or logged, the field cleared at once.
import { useState } from "react";
import { api, errorMessage } from "../api";
import { useSession } from "../session";

export function UnlockPanel({ host }: { host: string }) {
  const session = useSession();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  if (session?.role === "viewer") return null;
  const unlock = async (withTyped: boolean) => {
    const pass = withTyped ? typed : undefined;
    setTyped("");
    setBusy(true);
    setResult(undefined);
    try {
      const r = await api.unlock(host, pass);
      setResult({ ok: true, text: r.detail });
    } catch (e) {
      setResult({ ok: false, text: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" data-testid="unlock">
      <h2>Remote unlock</h2>
      <p className="muted small">After a reboot {host} waits in its initrd for the disk passphrase, over SSH with its own pinned key.</p>
      <button type="button" disabled={busy} onClick={() => void unlock(false)} data-testid="unlock-stored">
        {busy ? "Unlocking…" : "Unlock with hearth's passphrase"}
      </button>
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          void unlock(true);
        }}
      >
        <label>
          or type it <input type="password" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" data-testid="unlock-typed" />
        </label>
        <button type="submit" className="small" disabled={busy || !typed}>
          Unlock
        </button>
      </form>
      {result && (
        <div className={`banner ${result.ok ? "good" : "bad"}`} data-testid="unlock-result">
          {result.text}
        </div>
      )}
    </section>
  );
}
