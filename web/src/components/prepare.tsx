// Preparing a RAM-booted host's disks from the page: the plan first (facts gathered, every
// command as `hearth prepare --dry-run` prints it), then the host's name typed back to erase.
import { useState } from "react";
import { api, errorMessage } from "../api";
import { useSession } from "../session";

export function PreparePanel({ host }: { host: string }) {
  const session = useSession();
  const [plan, setPlan] = useState<{ facts?: string; planText: string[]; destructive: boolean }>();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  if (session?.role === "viewer") return null;
  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setResult(undefined);
    try {
      await what();
    } catch (e) {
      setResult({ ok: false, text: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" data-testid="prepare">
      <h2>Prepare disks</h2>
      <p className="muted small">Formats the btrfs volumes this host keeps across RAM boots, makes their subvolumes and places its SSH host key, over SSH on any Linux.</p>
      <button type="button" disabled={busy} onClick={() => void run(async () => setPlan(await api.preparePlan(host)))} data-testid="prepare-plan">
        {busy && !plan ? "Checking…" : "Show what it would do"}
      </button>
      {plan && (
        <>
          {plan.facts && <p className="small">{plan.facts}</p>}
          <pre className="plan-text" data-testid="prepare-plan-text">{plan.planText.join("\n")}</pre>
          <form
            className="form-row"
            onSubmit={(e) => {
              e.preventDefault();
              void run(async () => {
                const r = await api.prepare(host, typed);
                setResult({ ok: true, text: r.log.join("\n") });
              });
            }}
          >
            {plan.destructive && (
              <label>
                This erases the disks above. Type <strong>{host}</strong> to continue <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" data-testid="prepare-confirm" />
              </label>
            )}
            <button type="submit" className="danger" disabled={busy || (plan.destructive && typed !== host)} data-testid="prepare-run">
              Prepare
            </button>
          </form>
        </>
      )}
      {result && (
        <pre className={`banner ${result.ok ? "good" : "bad"}`} data-testid="prepare-result">
          {result.text}
        </pre>
      )}
    </section>
  );
}
