// A host's secrets as states only (never values), and generating the missing ones.
import { useState } from "react";
import type { HostDetail } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { SecretBadge } from "./badges";

export function HostSecrets({ secrets, onChanged }: { secrets: HostDetail["secrets"]; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ tone: string; text: string }>();
  const missing = secrets.filter((s) => s.state === "missing").length;
  const generate = () => {
    setBusy(true);
    setMessage(undefined);
    api.generateSecrets().then(
      (r) => {
        setBusy(false);
        setMessage({ tone: "good", text: r.created.length ? `Created ${r.created.join(", ")}` : "Nothing was missing" });
        onChanged();
      },
      (e: unknown) => {
        setBusy(false);
        setMessage({ tone: "bad", text: errorMessage(e) });
      },
    );
  };
  return (
    <section className="card" data-testid="secrets">
      <h2>Secrets</h2>
      {secrets.length === 0 ? (
        <p className="muted">This host reads no secrets.</p>
      ) : (
        <table className="secrets-table">
          <tbody>
            {secrets.map((s) => (
              <tr key={s.key} data-testid={`secret-${s.key}`}>
                <td>
                  <SecretBadge state={s.state} />
                </td>
                <td>
                  <code>{s.key}</code>
                  <div className="help">{s.description}</div>
                  {s.detail && <div className="help">{s.detail}</div>}
                  {s.fix && <div className="help">fix: <code>{s.fix}</code></div>}
                </td>
                <td className="muted small" title="hosts that read it">
                  {s.readers.join(", ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" data-testid="generate-secrets" onClick={generate} disabled={busy}>
        {busy ? "Generating…" : `Generate missing secrets${missing ? ` (${missing})` : ""}`}
      </button>
      {message && <div className={`${message.tone}-text small`}>{message.text}</div>}
    </section>
  );
}
