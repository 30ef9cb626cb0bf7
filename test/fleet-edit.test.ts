/// <reference lib="dom" />
// Issue 15, "everything editable in the UI", through the API (composeServer in-process) and one
// Chromium run: fleet settings saved with comments kept and refused with a located finding;
// renaming a host moves its file, secrets (still opened by the admin's `age`) and mesh address;
// deleting one is refused while others depend on it and done after its name is typed; one host's
// secrets generated or rotated without touching another's; the new-node flow refuses CHANGE_ME.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseDocument } from "yaml";
import { chromium, type Browser, type Page } from "playwright-core";
import { setInYaml } from "../src/core/fleet/edit.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { composeServer, startServe, type Composed, type Serving } from "../src/server/serve.js";
import { Client } from "./support/api-client.js";
import { ageDecrypt, readyExample, tempDir } from "./support/fleet.js";
import type {
  ApiError,
  FleetOverview,
  FleetSettingsDetail,
  HostChangeWire,
  HostConflict,
  HostEditResult,
  HostSecretsResult,
  HostUpdateResult,
  NewHostResult,
  TemplateDetail,
} from "../src/server/wire.js";
import { CHROMIUM, CHROMIUM_ARGS } from "./support/browser.js";

const servers: Composed[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function server() {
  const { dir, identity } = await readyExample("homestaking");
  const s = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: tempDir("hearth-state-"), identityFiles: [identity] });
  servers.push(s);
  const c = new Client(s);
  await c.session();
  return { s, c, dir, identity };
}

/** sha256 of every file under a folder of the fleet, by fleet-relative path. */
function snapshot(dir: string, under: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  walk(join(dir, under));
  return out;
}

function changedFiles(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, "secrets/manifest.json"), "utf8")) as { secrets: Record<string, { public?: string; recipients: string[] }> };
const addressesOf = (dir: string) => (JSON.parse(readFileSync(join(dir, "mesh/addresses.json"), "utf8")) as { ipv4: Record<string, string> }).ipv4;

describe("fleet settings", () => {
  test("saved through the form's values with every comment kept; invalid values are refused with a finding at file, path and line", async () => {
    const { c, dir, s } = await server();
    const file = join(dir, "fleet.yaml");
    const original = readFileSync(file, "utf8");
    const schema = (await c.req("GET", "/api/schema/fleet")).json;
    assert.ok(schema.properties.mesh && schema.properties.alerts && schema.properties.admins, "the fleet schema has the settings");
    const got = await c.req("GET", "/api/fleet/settings");
    assert.equal(got.status, 200);
    const detail = got.json as FleetSettingsDetail;
    assert.equal(got.headers.get("etag"), `"${detail.version}"`);
    assert.equal(detail.file, "fleet.yaml");

    // Invalid: a mesh prefix of /33 and a threshold over 100.
    const bad = structuredClone(detail.values) as any;
    bad.mesh.ipv4 = "10.100.0.0/33";
    const dry = (await c.req("PUT", "/api/fleet/settings", { values: bad, dryRun: true })).json as HostUpdateResult;
    const finding = dry.issues.find((i) => i.file === "fleet.yaml" && i.path.join(".") === "mesh.ipv4");
    assert.ok(finding, JSON.stringify(dry.issues));
    assert.equal(finding.severity, "error");
    const ipv4Line = original.split("\n").findIndex((l) => /^\s+ipv4: 10\.100\.0\.0\/24/.test(l)) + 1;
    assert.equal(finding.line, ipv4Line, "the finding points at the line of mesh.ipv4");
    const refused = await c.req("PUT", "/api/fleet/settings", { values: bad, version: detail.version });
    assert.equal(refused.status, 422);
    assert.ok((refused.json as ApiError).issues!.some((i) => i.path.join(".") === "mesh.ipv4" && i.line === ipv4Line));
    assert.equal(readFileSync(file, "utf8"), original, "nothing written");

    // No version: 428; a stale version: 409 with both sides.
    const values = structuredClone(detail.values) as any;
    values.alerts.thresholds.diskPercent = 80;
    values.ethereum.network = "hoodi";
    assert.equal((await c.req("PUT", "/api/fleet/settings", { values })).status, 428);
    const stale = await c.req("PUT", "/api/fleet/settings", { values, version: "0".repeat(64), baseYaml: detail.yaml });
    assert.equal(stale.status, 409);
    assert.equal((stale.json as HostConflict).error, "conflict");

    const saved = await c.req("PUT", "/api/fleet/settings", { values, version: detail.version }, { "if-match": `"${detail.version}"` });
    assert.equal(saved.status, 200, JSON.stringify(saved.json));
    assert.equal(saved.json.written, true);
    const text = readFileSync(file, "utf8");
    assert.match(text, /diskPercent: 80/);
    assert.match(text, /network: hoodi/);
    for (const line of original.split("\n").filter((l) => l.trim().startsWith("#"))) assert.ok(text.includes(line), `comment kept: ${line}`);
    assert.equal(text.split("\n").length, original.split("\n").length, "two values changed, no line added or lost");
    assert.ok(s.db.auditLog(10).some((a) => a.action === "fleet.update"));
  });
});

describe("rename and delete", () => {
  test("rename moves the host file, rewrites what names it, moves its secrets (the admin's age opens them) and keeps its mesh address", async () => {
    const { c, dir, identity } = await server();
    const from = "hetzner-ephemeral-alpha";
    const to = "hetzner-hub";
    await c.req("GET", "/api/fleet"); // records the mesh addresses as the overview shows them
    const address = addressesOf(dir)[from];
    assert.ok(address);
    const oldKeys = Object.keys(manifestOf(dir).secrets).filter((k) => k.startsWith(`hosts/${from}/`));
    assert.ok(oldKeys.length >= 2, "the hub has secrets of its own");
    const hostKeyBefore = manifestOf(dir).secrets[`hosts/${from}/ssh-host-key`]!.public;

    const plan = (await c.req("POST", `/api/hosts/${from}/rename`, { to, dryRun: true })).json as HostChangeWire;
    assert.equal(plan.done, false);
    assert.ok(plan.references.some((r) => r.file === "fleet.yaml" && r.path.join(".") === "mesh.hubs.0" && r.rewritten));
    assert.ok(plan.references.some((r) => r.path.join(".") === "monitoring.prometheus.host"));
    assert.ok(existsSync(join(dir, `hosts/${from}.yaml`)), "a dry run changes nothing");

    assert.equal((await c.req("POST", `/api/hosts/${from}/rename`, { to: "Bad_Name" })).status, 422);
    assert.equal((await c.req("POST", `/api/hosts/${from}/rename`, { to: "ponkila-ephemeral-beta" })).status, 409);

    const r = await c.req("POST", `/api/hosts/${from}/rename`, { to });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const done = r.json as HostChangeWire;
    assert.equal(done.done, true);
    assert.ok(!existsSync(join(dir, `hosts/${from}.yaml`)));
    assert.ok(existsSync(join(dir, `hosts/${to}.yaml`)));
    const fleetYaml = parseDocument(readFileSync(join(dir, "fleet.yaml"), "utf8")).toJS();
    assert.deepEqual(fleetYaml.mesh.hubs, [to]);
    assert.equal(fleetYaml.monitoring.prometheus.host, to);
    // Secrets: under the new name, decryptable by the admin, the old files and entries gone.
    const m = manifestOf(dir);
    assert.deepEqual(Object.keys(m.secrets).filter((k) => k.startsWith(`hosts/${from}/`)), []);
    for (const k of oldKeys) {
      const nk = k.replace(`hosts/${from}/`, `hosts/${to}/`);
      assert.ok(m.secrets[nk], `manifest has ${nk}`);
      const f = join(dir, "secrets", `${nk}.age`);
      const d = ageDecrypt(identity, f);
      assert.equal(d.status, 0, `${nk}: ${d.stderr}`);
      assert.ok(d.stdout.length > 0);
      assert.equal((statSync(f).mode & 0o777).toString(8), "600");
    }
    assert.equal(m.secrets[`hosts/${to}/ssh-host-key`]!.public, hostKeyBefore, "the machine keeps its host key");
    assert.ok(!existsSync(join(dir, "secrets/hosts", from)));
    const rules = readFileSync(join(dir, "secrets/secrets.nix"), "utf8");
    assert.ok(rules.includes(`hosts/${to}/`) && !rules.includes(`hosts/${from}/`), "agenix rules name the new files");
    // Mesh: the same address under the new name, nobody renumbered.
    const addresses = addressesOf(dir);
    assert.equal(addresses[to], address);
    assert.equal(addresses[from], undefined);
    // The fleet validates, and its secrets are all in order.
    const o = (await c.req("GET", "/api/fleet")).json as FleetOverview;
    assert.equal(o.valid, true, JSON.stringify(o.issues));
    const hub = o.hosts.find((h) => h.name === to)!;
    assert.equal(hub.meshAddress, address);
    assert.deepEqual(hub.secrets, { ok: hub.secrets.ok, missing: 0, stale: 0, unknown: 0 });
  });

  test("delete is refused while other hosts depend on it, naming them; done after the name is typed, with its secrets and address", async () => {
    const { c, dir } = await server();
    await c.req("GET", "/api/fleet");
    // The hub: fleet.yaml's mesh.hubs and monitoring name it.
    const hub = await c.req("DELETE", "/api/hosts/hetzner-ephemeral-alpha", { confirm: "hetzner-ephemeral-alpha" });
    assert.equal(hub.status, 409, JSON.stringify(hub.json));
    assert.match((hub.json as ApiError).message, /mesh\.hubs/);
    assert.match((hub.json as ApiError).message, /monitoring\.prometheus\.host/);
    assert.ok(existsSync(join(dir, "hosts/hetzner-ephemeral-alpha.yaml")));

    // A beacon node on another host that uses sigma's execution client.
    const sigma = readFileSync(join(dir, "hosts/ponkila-ephemeral-sigma.yaml"), "utf8");
    let remote = setInYaml(sigma, ["services", "execution"], undefined);
    remote = setInYaml(remote, ["services", "consensus", "executionHost"], "ponkila-ephemeral-sigma");
    writeFileSync(join(dir, "hosts/remote-beacon.yaml"), remote);
    writeFileSync(join(dir, "hosts/ponkila-ephemeral-sigma.yaml"), setInYaml(sigma, ["services", "consensus"], undefined));
    const dep = await c.req("DELETE", "/api/hosts/ponkila-ephemeral-sigma", { confirm: "ponkila-ephemeral-sigma" });
    assert.equal(dep.status, 409, JSON.stringify(dep.json));
    assert.match((dep.json as ApiError).message, /remote-beacon depends on it/);
    assert.match((dep.json as ApiError).message, /executionHost/);
    assert.ok((dep.json as ApiError).issues!.some((i) => i.file === "hosts/remote-beacon.yaml" && i.path.join(".") === "services.consensus.executionHost" && i.line! > 1));
    rmSync(join(dir, "hosts/remote-beacon.yaml"));
    writeFileSync(join(dir, "hosts/ponkila-ephemeral-sigma.yaml"), sigma);

    // A host nothing depends on: the dry run lists what goes; without the typed name nothing happens.
    const name = "ponkila-ephemeral-sigma";
    const plan = (await c.req("DELETE", `/api/hosts/${name}`, { dryRun: true })).json as HostChangeWire;
    assert.deepEqual(plan.references, []);
    assert.ok(plan.secrets.some((s) => s.key === `hosts/${name}/ssh-host-key`));
    const address = addressesOf(dir)[name];
    assert.ok(address && plan.meshAddress === address);
    const unconfirmed = await c.req("DELETE", `/api/hosts/${name}`, { confirm: "ponkila-ephemeral-sigm" });
    assert.equal(unconfirmed.status, 422);
    assert.match((unconfirmed.json as ApiError).message, /type the host's name/);
    assert.ok(existsSync(join(dir, `hosts/${name}.yaml`)));

    const r = await c.req("DELETE", `/api/hosts/${name}`, { confirm: name });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(!existsSync(join(dir, `hosts/${name}.yaml`)));
    assert.ok(!existsSync(join(dir, "secrets/hosts", name)));
    assert.deepEqual(Object.keys(manifestOf(dir).secrets).filter((k) => k.startsWith(`hosts/${name}/`)), []);
    assert.equal(addressesOf(dir)[name], undefined);
    const o = (await c.req("GET", "/api/fleet")).json as FleetOverview;
    assert.equal(o.valid, true, JSON.stringify(o.issues));
    assert.equal(o.hosts.length, 3);
    // Nobody was renumbered.
    for (const h of o.hosts) assert.equal(h.meshAddress, addressesOf(dir)[h.name]);
  });
});

describe("one host's secrets", () => {
  test("generate acts on that host only; rotate replaces one secret's file and nothing else", async () => {
    const { c, dir } = await server();
    const beta = "ponkila-ephemeral-beta";
    const sigma = "ponkila-ephemeral-sigma";
    // Both hosts lose one secret (file and manifest entry).
    const m = manifestOf(dir);
    const lose = (host: string) => {
      const key = Object.keys(m.secrets).find((k) => k.startsWith(`hosts/${host}/`) && !k.endsWith("ssh-host-key"))!;
      rmSync(join(dir, "secrets", `${key}.age`));
      delete m.secrets[key];
      return key;
    };
    const betaKey = lose(beta);
    const sigmaKey = lose(sigma);
    writeFileSync(join(dir, "secrets/manifest.json"), JSON.stringify(m, null, 2) + "\n");
    const before = snapshot(dir, "secrets");

    const gen = await c.req("POST", `/api/hosts/${beta}/secrets`, {});
    assert.equal(gen.status, 200, JSON.stringify(gen.json));
    assert.deepEqual((gen.json as HostSecretsResult).created, [betaKey]);
    const afterGen = snapshot(dir, "secrets");
    const changed = changedFiles(before, afterGen).filter((f) => f !== "secrets/manifest.json" && f !== "secrets/secrets.nix");
    assert.deepEqual(changed, [`secrets/${betaKey}.age`]);
    assert.ok(!existsSync(join(dir, "secrets", `${sigmaKey}.age`)), "the other host's missing secret stays missing");

    // Rotate: a new value for one of beta's secrets; every other secret file unchanged.
    const rotatable = (await c.req("GET", `/api/hosts/${beta}/secrets/rotatable`)).json as { key: string; notes: string[] }[];
    const jwt = rotatable.find((r) => r.key.endsWith("/ethereum-jwt")) ?? rotatable.find((r) => !r.key.endsWith("ssh-host-key"))!;
    assert.ok(rotatable.find((r) => r.key === `hosts/${beta}/ssh-host-key`)!.notes.some((n) => /pins/.test(n)), "the SSH key's rotation says what deploy expects");
    const rot = await c.req("POST", `/api/hosts/${beta}/secrets`, { rotate: jwt.key });
    assert.equal(rot.status, 200, JSON.stringify(rot.json));
    assert.deepEqual((rot.json as HostSecretsResult).rotated, [jwt.key]);
    const afterRot = snapshot(dir, "secrets");
    assert.deepEqual(
      changedFiles(afterGen, afterRot).filter((f) => f !== "secrets/manifest.json" && f !== "secrets/secrets.nix"),
      [`secrets/${jwt.key}.age`],
    );
    // Someone else's secret, or a disk key, is not rotated from here.
    assert.equal((await c.req("POST", `/api/hosts/${beta}/secrets`, { rotate: `hosts/${sigma}/ssh-host-key` })).status, 422);
  });
});

describe("a client switch", () => {
  test("the dry run says the old client's data directory stays and the new client syncs from a checkpoint", async () => {
    const { c } = await server();
    const detail = (await c.req("GET", "/api/hosts/ponkila-ephemeral-beta")).json as { values: any; version: string };
    const values = structuredClone(detail.values);
    values.services.consensus.client = "teku";
    const r = (await c.req("PUT", "/api/hosts/ponkila-ephemeral-beta", { values, dryRun: true, version: detail.version })).json as HostEditResult;
    const sw = r.clientSwitches?.find((s) => s.role === "consensus");
    assert.ok(sw, JSON.stringify(r));
    assert.equal(sw.from, "lighthouse");
    assert.equal(sw.to, "teku");
    assert.equal(sw.oldDataDir, "/var/mnt/lighthouse");
    assert.equal(sw.sameDir, true, "the example's dataDir is set by hand, so teku would reuse it");
    assert.ok(sw.details.some((d) => /stays on disk/.test(d)));
    assert.ok(sw.details.some((d) => /checkpoint/.test(d)));
  });
});

describe("the new-node flow", () => {
  test("a template's instructions and fields; CHANGE_ME refused with a finding on its field; created when filled in", async () => {
    const { c, dir } = await server();
    const t = (await c.req("GET", "/api/templates/ethereum-node")).json as TemplateDetail;
    assert.match(t.instructions, /Ethereum staking node/);
    assert.match(t.instructions, /mkfs\.btrfs/);
    const disk = t.fields.find((f) => f.placeholder)!;
    assert.deepEqual(disk.path, ["storage", "volumes", "data", "devices", 0]);
    assert.ok(t.fields.some((f) => f.path.join(".") === "services.consensus.client"));

    const base = { template: "ethereum-node", name: "eth-new", set: [{ path: ["services", "consensus", "client"], value: "teku" }] };
    const refused = await c.req("POST", "/api/hosts/from-template", base);
    assert.equal(refused.status, 422, JSON.stringify(refused.json));
    const issue = (refused.json as ApiError).issues!.find((i) => /placeholder/.test(i.message))!;
    assert.deepEqual(issue.path, ["storage", "volumes", "data", "devices", 0]);
    assert.equal(issue.file, "hosts/eth-new.yaml");
    assert.equal(issue.line, disk.line);
    assert.ok(!existsSync(join(dir, "hosts/eth-new.yaml")));

    const filled = { ...base, set: [...base.set, { path: disk.path, value: "/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S649NX0T123456" }] };
    const dry = (await c.req("POST", "/api/hosts/from-template", { ...filled, dryRun: true })).json as NewHostResult;
    assert.equal(dry.created, false);
    assert.deepEqual(dry.issues.filter((i) => i.severity === "error"), []);
    const made = await c.req("POST", "/api/hosts/from-template", filled);
    assert.equal(made.status, 201, JSON.stringify(made.json));
    const text = readFileSync(join(dir, "hosts/eth-new.yaml"), "utf8");
    assert.match(text, /client: teku/);
    assert.match(text, /nvme-Samsung_SSD_980/);
    assert.match(text, /# Template: an Ethereum staking node/, "the template's comments stay in the file");
    const taken = await c.req("POST", "/api/hosts/from-template", filled);
    assert.equal(taken.status, 422);
    assert.ok((taken.json as ApiError).issues!.some((i) => i.path.join(".") === "name" && /exists/.test(i.message)));
  });
});

// ---- the same in Chromium ---------------------------------------------------------------------

const built = existsSync(join(REPO_ROOT, "web/dist/index.html"));

describe("in Chromium", { skip: (!existsSync(CHROMIUM) && "needs /usr/bin/chromium") || (!built && "needs `npm run build:web`") }, () => {
  let browser: Browser;
  let serving: Serving;
  let page: Page;
  let dir: string;
  before(async () => {
    const ready = await readyExample("homestaking");
    dir = ready.dir;
    serving = await startServe({ fleetDir: dir, port: 0, bind: "127.0.0.1", stateDir: tempDir("hearth-ui-state-"), identityFiles: [ready.identity] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
  });
  after(async () => {
    await browser?.close();
    await serving?.close();
  });

  test("a fleet setting edited in the form: an error links to its field, then review and save", async () => {
    const file = join(dir, "fleet.yaml");
    const original = readFileSync(file, "utf8");
    await page.goto(`${serving.url}/#/fleet-settings`);
    const section = page.getByTestId("section-alerts");
    await section.waitFor();
    assert.match(await section.locator(":scope > summary").innerText(), /webhook/, "the closed section sums up what is set");
    await section.locator(":scope > summary").click();
    const disk = page.getByTestId("field-alerts.thresholds.diskPercent");
    await disk.fill("150");
    await page.getByTestId("error-alerts.thresholds.diskPercent").waitFor();
    // The error list in the changes panel links to the field.
    await section.locator(":scope > summary").click();
    await page.getByTestId("issue-link-alerts.thresholds.diskPercent").click();
    await page.waitForFunction(() => document.activeElement?.getAttribute("data-testid") === "field-alerts.thresholds.diskPercent");
    await disk.fill("80");
    await page.getByTestId("error-alerts.thresholds.diskPercent").waitFor({ state: "detached" });
    await page.getByTestId("review").click();
    await page.waitForFunction(() => /\+\s*diskPercent: 80/.test(document.querySelector("[data-testid=diff]")?.textContent ?? ""));
    assert.equal(readFileSync(file, "utf8"), original, "nothing written before Save");
    await page.getByTestId("save").click();
    for (let i = 0; i < 100 && !readFileSync(file, "utf8").includes("diskPercent: 80"); i++) await page.waitForTimeout(100);
    const saved = readFileSync(file, "utf8");
    assert.match(saved, /diskPercent: 80/);
    for (const line of original.split("\n").filter((l) => l.trim().startsWith("#"))) assert.ok(saved.includes(line), `comment kept: ${line}`);
    // The form reloads the saved file: nothing left unsaved, the section sums up the new value.
    await page.getByText("No unsaved changes to fleet.yaml").waitFor();
    assert.match(await page.getByTestId("summary-alerts").innerText(), /diskPercent 80/);
  });

  test("a host renamed from its page: the file, its secrets and the address move; the page follows", async () => {
    const from = "ponkila-ephemeral-sigma";
    const to = "sigma-two";
    await page.goto(`${serving.url}/#/hosts/${from}`);
    await page.getByTestId("host-form").waitFor();
    await page.getByTestId("rename-host").click();
    await page.getByTestId("rename-to").fill(to);
    await page.getByTestId("rename-review").click();
    await page.getByTestId("rename-plan").waitFor();
    assert.match(await page.getByTestId("rename-plan").innerText(), new RegExp(`hosts/${to}/ssh-host-key`));
    await page.getByTestId("rename-confirm").click();
    await page.waitForURL(new RegExp(`#/hosts/${to}$`));
    assert.ok(existsSync(join(dir, `hosts/${to}.yaml`)) && !existsSync(join(dir, `hosts/${from}.yaml`)));
    assert.ok(existsSync(join(dir, `secrets/hosts/${to}/ssh-host-key.age`)) && !existsSync(join(dir, `secrets/hosts/${from}`)));
    assert.ok(addressesOf(dir)[to] && !addressesOf(dir)[from]);
    await page.getByTestId("host-form").waitFor();
  });
});
