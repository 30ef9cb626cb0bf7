// A host's secrets as states only (never values): generating the ones this host is missing
// (this host's only), and rotating one of its own, with what a new value means for the machine.
import { useEffect, useState } from "react";
import type { HostDetail, RotatableSecret } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { parseHash } from "../router";
import { SecretBadge } from "./badges";

/** The host whose page this is (the host screen mounts this panel). */
const currentHost = (): string | undefined => {
  const r = parseHash(window.location.hash);
  return r.screen === "host" ? r.name : undefined;
};

export function HostSecrets({ secrets, onChanged }: { secrets: HostDetail["secrets"]; onChanged: () => void }) {
  const host = currentHost();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ tone: string; text: string; notes?: string[] }>();
  const [rotatable, setRotatable] = useState<RotatableSecret[]>([]);
  const [chosen, setChosen] = useState("");
  const [confirming, setConfirming] = useState(false);
  const mine = host ? secrets.filter((s) => s.key.startsWith(`hosts/${host}/`)) : [];
  const missing = mine.filter((s) => s.state === "missing").length;

  useEffect(() => {
    if (!host) return;
    const ctrl = new AbortController();
    api.rotatableSecrets(host, ctrl.signal).then(setRotatable, () => setRotatable([]));
    return () => ctrl.abort();
  }, [host, secrets]);

  const run = (rotate?: string) => {
    if (!host) return;
    setBusy(true);
    setMessage(undefined);
    api.hostSecrets(host, rotate).then(
      (r) => {
        setBusy(false);
        setConfirming(false);
        const done = rotate ? `Rotated ${r.rotated.join(", ")}` : r.created.length ? `Created ${r.created.join(", ")}` : `Nothing of ${host}'s was missing`;
        const extra = [
          ...(r.reencrypted.length ? [`Re-encrypted to the new key: ${r.reencrypted.join(", ")}`] : []),
          ...(r.stale.length ? [`Still to re-encrypt (the server has no admin identity): ${r.stale.join(", ")} — run \`hearth secrets rekey\``] : []),
          ...(r.unset.length ? [`Not generated, set by you: ${r.unset.join(", ")}`] : []),
        ];
        setMessage({ tone: r.stale.length ? "warn" : "good", text: [done, ...extra].join(". "), notes: r.notes });
        onChanged();
      },
      (e: unknown) => {
        setBusy(false);
        setMessage({ tone: "bad", text: errorMessage(e) });
      },
    );
  };
  const choice = rotatable.find((r) => r.key === chosen);

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
                  {s.fix && (
                    <div className="help">
                      fix: <code>{s.fix}</code>
                    </div>
                  )}
                </td>
                <td className="muted small" title="hosts that read it">
                  {s.readers.join(", ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" data-testid="generate-secrets" onClick={() => run()} disabled={busy || !host}>
        {busy && !chosen ? "Generating…" : `Generate ${host ?? "this host"}'s missing secrets${missing ? ` (${missing})` : ""}`}
      </button>
      <p className="help">Only this host's own secrets (secrets/hosts/{host ?? "NAME"}/); shared ones are made by a fleet-wide generate.</p>
      {rotatable.length > 0 && (
        <div className="rotate" style={{ marginTop: "0.75rem" }}>
          <label htmlFor="rotate-secret">Rotate a secret (a new value, re-encrypted)</label>
          <div className="review-step">
            <select
              id="rotate-secret"
              data-testid="rotate-secret"
              value={chosen}
              disabled={busy}
              onChange={(e) => {
                setChosen(e.target.value);
                setConfirming(false);
              }}
            >
              <option value="">choose…</option>
              {rotatable.map((r) => (
                <option key={r.key} value={r.key}>
                  {r.key.slice(`hosts/${host}/`.length)}
                </option>
              ))}
            </select>
            {!confirming ? (
              <button type="button" data-testid="rotate-review" disabled={!chosen || busy} onClick={() => setConfirming(true)}>
                Rotate…
              </button>
            ) : (
              <button type="button" className="primary" data-testid="rotate-confirm" disabled={busy} onClick={() => run(chosen)}>
                {busy ? "Rotating…" : "Make a new value"}
              </button>
            )}
          </div>
          {choice && (
            <ul className={`small ${confirming ? "warn-text" : "muted"}`} data-testid="rotate-notes">
              {choice.notes.map((n, i) => (
                <li key={i}>{n}</li>
              ))}
            </ul>
          )}
          <p className="help">Disk keys are not rotated here: the disk was formatted with the old one, which is what opens it.</p>
        </div>
      )}
      {message && (
        <div className={`${message.tone}-text small`} data-testid="secrets-message">
          {message.text}
          {message.notes?.map((n, i) => (
            <p key={i}>{n}</p>
          ))}
        </div>
      )}
    </section>
  );
}
