// Issue 12, "edits never lose anything": a one-value edit is a one-line diff with every comment
// where it was; a save never undoes a change made on disk since the page loaded (409 with both
// sides); an invalid host file stays visible and never makes its host's secrets look orphaned
// (nor offers to prune them); mesh addresses shown are the addresses hosts keep.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument, isMap, isScalar, isSeq, Scalar, type Node } from "yaml";
import { setInYaml, syncYaml, mergeYaml } from "../src/core/fleet/edit.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { composeServer, type Composed } from "../src/server/serve.js";
import { EXAMPLES, hearth, readyExample, tempDir } from "./support/fleet.js";
import type { FleetOverview, HostConflict, HostDetail, HostUpdateResult } from "../src/server/wire.js";
import { CHROMIUM, CHROMIUM_ARGS } from "./support/browser.js";

// ---- 1. the YAML writer ---------------------------------------------------------------------

const exampleFiles = EXAMPLES.flatMap((ex) => {
  const d = join(REPO_ROOT, "examples", ex);
  return ["fleet.yaml", ...readdirSync(join(d, "hosts")).map((f) => `hosts/${f}`)].map((f) => join(d, f));
});

/** Every scalar leaf of a document with its path and the line it is on. */
function leaves(text: string): { path: (string | number)[]; value: unknown; line: number; block: boolean }[] {
  const doc = parseDocument(text);
  const out: { path: (string | number)[]; value: unknown; line: number; block: boolean }[] = [];
  const lineOf = (pos: number) => text.slice(0, pos).split("\n").length - 1;
  const walk = (n: unknown, path: (string | number)[]) => {
    if (isMap(n)) for (const p of n.items) walk(p.value, [...path, String((p.key as Scalar).value)]);
    else if (isSeq(n)) n.items.forEach((x, i) => walk(x, [...path, i]));
    else if (isScalar(n) && n.value !== null && n.range)
      out.push({ path, value: n.value, line: lineOf((n as Node).range![0]), block: n.type === "BLOCK_LITERAL" || n.type === "BLOCK_FOLDED" });
  };
  walk(doc.contents, []);
  return out;
}

const changed = (v: unknown) => (typeof v === "boolean" ? !v : typeof v === "number" ? v + 1 : `${String(v)}-edited`);

/** The lines that differ, assuming equal line counts. */
function differingLines(a: string, b: string): number[] {
  const x = a.split("\n");
  const y = b.split("\n");
  assert.equal(y.length, x.length, `line count changed:\n${b}`);
  return x.flatMap((l, i) => (l === y[i] ? [] : [i]));
}

describe("1. a one-value edit is a one-line diff", () => {
  test("`set` on every scalar of every bundled example changes exactly that value's line", () => {
    let checked = 0;
    const failures: string[] = [];
    for (const file of exampleFiles) {
      const text = readFileSync(file, "utf8");
      for (const leaf of leaves(text)) {
        if (leaf.block) continue;
        const out = setInYaml(text, leaf.path, changed(leaf.value));
        checked++;
        const lines = out.split("\n").length === text.split("\n").length ? differingLines(text, out) : [-1];
        if (lines.length !== 1 || lines[0] !== leaf.line) failures.push(`${file.slice(REPO_ROOT.length + 1)} ${leaf.path.join(".")}: lines ${lines.join(",")} changed, expected only ${leaf.line}`);
        else assert.deepEqual(parseDocument(out).getIn(leaf.path), changed(leaf.value));
      }
    }
    assert.ok(checked > 300, `checked ${checked} values`);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${checked} edits touched other lines`);
  });

  test("the issue's case: editing beta's description leaves the comments under services where they are", () => {
    const file = join(REPO_ROOT, "examples/homestaking/hosts/ponkila-ephemeral-beta.yaml");
    const text = readFileSync(file, "utf8");
    const out = setInYaml(text, ["description"], "changed");
    assert.deepEqual(differingLines(text, out).length, 1);
    // The comment above `mevBoost:` stays at its indentation.
    assert.match(out, /\n  # The beacon node gets --builder pointing here automatically/);
  });

  test("adding and removing a key only adds or removes its lines; comments stay", () => {
    const file = join(REPO_ROOT, "examples/homestaking/hosts/ponkila-ephemeral-beta.yaml");
    const text = readFileSync(file, "utf8");
    const added = setInYaml(text, ["services", "consensus", "ports", "http"], 5053);
    const a = text.split("\n");
    const b = added.split("\n");
    assert.equal(b.length, a.length + 2, added);
    assert.deepEqual(b.filter((l) => !a.includes(l)).sort(), ["    ports:", "      http: 5053"].sort());
    for (const l of a) assert.ok(b.includes(l), `kept: ${l}`);
    const removed = setInYaml(added, ["services", "consensus", "ports"], undefined);
    assert.equal(removed, text);
    const gone = setInYaml(text, ["network", "gateway"], null);
    assert.deepEqual(a.filter((l) => !gone.split("\n").includes(l)), ["  gateway: 192.168.100.1"]);
    assert.equal(gone.split("\n").length, a.length - 1);
  });

  test("the form's save (syncYaml) of one changed field is a one-line diff, lists item by item", () => {
    for (const file of exampleFiles.filter((f) => f.includes("/hosts/"))) {
      const text = readFileSync(file, "utf8");
      const values = parseDocument(text).toJS() as Record<string, unknown>;
      const edited = structuredClone(values);
      edited.description = "edited in the form";
      const out = syncYaml(text, edited);
      const lines = out.split("\n");
      const diff = lines.filter((l, i) => l !== text.split("\n")[i]);
      assert.ok(diff.length <= 1 || lines.length !== text.split("\n").length, `${file}: ${diff.join("\n")}`);
      if (lines.length === text.split("\n").length) assert.equal(diff.length, 1, file);
      assert.equal(syncYaml(text, values), text, "unchanged values write the same bytes");
    }
  });

  test("a list that grows or shrinks keeps the comments of the items it keeps; only the changed items' lines change", () => {
    const text = ["# head", "tags:", "  # first tag", "  - a # inline a", "  # second tag", "  - b", "  - c # inline c", "services:", "  x: 1 # keep", ""].join("\n");
    const values = parseDocument(text).toJS() as Record<string, unknown>;
    const grown = syncYaml(text, { ...values, tags: ["a", "b", "new", "c"] });
    assert.equal(grown, text.replace("  - b\n", "  - b\n  - new\n"));
    const first = syncYaml(text, { ...values, tags: ["zero", "a", "b", "c"] });
    assert.deepEqual(parseDocument(first).toJS().tags, ["zero", "a", "b", "c"]);
    assert.match(first, /# first tag/);
    assert.match(first, /- a # inline a/);
    const shrunk = syncYaml(text, { ...values, tags: ["a", "c"] });
    // Only the item's own line goes; a comment above it stays, as for a removed key.
    assert.equal(shrunk, text.replace("  - b\n", ""));
    // Every example's lists, one item added at the end and one removed from the front.
    for (const file of exampleFiles.filter((f) => f.includes("/hosts/"))) {
      const t = readFileSync(file, "utf8");
      const doc = parseDocument(t);
      const v = doc.toJS() as Record<string, unknown>;
      const lists: (string | number)[][] = [];
      const walk = (x: unknown, path: (string | number)[]) => {
        if (Array.isArray(x)) {
          if (x.length > 1 && x.every((i) => typeof i === "string")) lists.push(path);
          x.forEach((i, n) => walk(i, [...path, n]));
        } else if (x && typeof x === "object") for (const [k, i] of Object.entries(x)) walk(i, [...path, k]);
      };
      walk(v, []);
      for (const path of lists) {
        const list = doc.getIn(path) as { toJSON(): string[] };
        const items = list.toJSON();
        const edited = structuredClone(v);
        const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], edited);
        parent[path[path.length - 1]!] = [...items.slice(1), "added-item"];
        const out = syncYaml(t, edited);
        assert.deepEqual(parseDocument(out).toJS(), edited, `${file} ${path.join(".")}`);
        const before = t.split("\n");
        const after = out.split("\n");
        const removed = before.filter((l) => !after.includes(l));
        const added = after.filter((l) => !before.includes(l));
        assert.ok(removed.length <= 1 && added.length === 1, `${file} ${path.join(".")}: -${removed.join("|")} +${added.join("|")}`);
      }
    }
  });

  test("three-way merge: my edit applied to the file as changed on disk; overlaps named", () => {
    const base = "# top\na: 1 # why\nb:\n  c: x\n\n  # about d\n  d: y\n";
    const current = base.replace("d: y", "d: z");
    const merged = mergeYaml(base, { a: 2, b: { c: "x", d: "y" } }, current);
    assert.equal(merged.yaml, "# top\na: 2 # why\nb:\n  c: x\n\n  # about d\n  d: z\n");
    assert.deepEqual(merged.overlaps, []);
    const clash = mergeYaml(base, { a: 1, b: { c: "x", d: "w" } }, current);
    assert.deepEqual(clash.overlaps, ["b.d"]);
  });
});

// ---- the server -----------------------------------------------------------------------------

const servers: Composed[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function server(dir?: string) {
  const d = dir ?? (await readyExample("homestaking")).dir;
  const s = composeServer({ fleetDir: d, bind: "127.0.0.1", stateDir: tempDir("hearth-state-") });
  servers.push(s);
  const session = await s.app.request("http://localhost/api/session");
  const cookie = session.headers.get("set-cookie")!.split(";")[0]!;
  const csrf = ((await session.json()) as { csrf: string }).csrf;
  const req = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await s.app.request(`http://localhost${path}`, {
      method,
      headers: { cookie, "x-csrf-token": csrf, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as any, headers: res.headers };
  };
  return { s, dir: d, req };
}

describe("2. a save never undoes a change made on disk", () => {
  test("GET gives a version (ETag); a save from an older version answers 409 with both changes and writes nothing", async () => {
    const { dir, req } = await server();
    const file = join(dir, "hosts/ponkila-ephemeral-sigma.yaml");
    const got = await req("GET", "/api/hosts/ponkila-ephemeral-sigma");
    const detail = got.json as HostDetail;
    assert.match(detail.version, /^[0-9a-f]{64}$/);
    assert.equal(got.headers.get("etag"), `"${detail.version}"`);

    // Someone else edits the file (another editor, a git pull).
    const onDisk = detail.yaml.replace(/^description: .*$/m, "description: changed on disk");
    assert.notEqual(onDisk, detail.yaml);
    writeFileSync(file, onDisk);

    const values = { ...(detail.values as object), tags: [...((detail.values as { tags?: string[] }).tags ?? []), "mine"] };
    const update = { values, version: detail.version, baseYaml: detail.yaml };
    const dry = await req("PUT", "/api/hosts/ponkila-ephemeral-sigma", { ...update, dryRun: true });
    assert.equal(dry.status, 409, "the review shows the conflict, not a diff that reverts the disk change");
    const saved = await req("PUT", "/api/hosts/ponkila-ephemeral-sigma", update);
    assert.equal(saved.status, 409, JSON.stringify(saved.json).slice(0, 300));
    const c = saved.json as HostConflict;
    assert.equal(c.error, "conflict");
    assert.equal(c.current.yaml, onDisk);
    assert.match(c.mine!, /\+.*mine/);
    assert.match(c.theirs!, /\+description: changed on disk/);
    assert.match(c.merged!.yaml, /description: changed on disk/);
    assert.match(c.merged!.yaml, /mine/);
    assert.equal(readFileSync(file, "utf8"), onDisk, "nothing written");

    // If-Match works as well as the body field.
    const viaHeader = await req("PUT", "/api/hosts/ponkila-ephemeral-sigma", { values }, { "if-match": `"${detail.version}"` });
    assert.equal(viaHeader.status, 409);

    // Saving the merge against the current version succeeds and keeps both changes.
    const ok = await req("PUT", "/api/hosts/ponkila-ephemeral-sigma", { values: c.merged!.values, version: c.current.version });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal((ok.json as HostUpdateResult).written, true);
    const final = readFileSync(file, "utf8");
    assert.match(final, /description: changed on disk/);
    assert.match(final, /mine/);
  });
});

describe("4. an invalid host file hides nothing and deletes nothing", () => {
  test("overview and API keep the host with its errors; its secrets are unknown, never orphaned; prune refuses", async () => {
    const { dir, identity } = await readyExample("homestaking");
    const file = join(dir, "hosts/ponkila-ephemeral-beta.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("hardware: generic-x86-uefi", "hardwre: generic-x86-uefi"));
    const { req } = await server(dir);
    const o = (await req("GET", "/api/fleet")).json as FleetOverview;
    const beta = o.hosts.find((h) => h.name === "ponkila-ephemeral-beta");
    assert.ok(beta, `the invalid host is listed: ${o.hosts.map((h) => h.name).join(", ")}`);
    assert.equal(beta.status, "error");
    assert.ok(beta.issues?.some((i) => /hardwre/.test(i.message)), JSON.stringify(beta.issues));
    for (const h of o.hosts) assert.equal(h.secrets.stale, 0, `${h.name}: nothing is stale because of beta`);

    const detail = (await req("GET", "/api/hosts/ponkila-ephemeral-beta")).json as HostDetail;
    const own = detail.secrets.filter((s) => s.key.startsWith("hosts/ponkila-ephemeral-beta/"));
    assert.ok(own.length >= 2, JSON.stringify(detail.secrets));
    for (const s of own) {
      assert.equal(s.state, "unknown", `${s.key}: ${s.state}`);
      assert.match(s.detail ?? "", /unknown while hosts\/ponkila-ephemeral-beta\.yaml is invalid/);
      assert.doesNotMatch(s.fix ?? "", /prune|rotate/);
    }
    const sigma = (await req("GET", "/api/hosts/ponkila-ephemeral-sigma")).json as HostDetail;
    for (const s of sigma.secrets) assert.notEqual(s.state, "stale", `${s.key}: ${s.detail}`);

    const st = hearth(["secrets", "status", "-f", dir]);
    assert.doesNotMatch(st.stdout + st.stderr, /--prune|--rotate|orphaned/, st.stdout + st.stderr);
    assert.match(st.stdout, /unknown\s+hosts\/ponkila-ephemeral-beta\/ssh-host-key/);
    const before = readdirSync(join(dir, "secrets/hosts/ponkila-ephemeral-beta")).sort();
    const prune = hearth(["secrets", "rekey", "-f", dir, "-i", identity, "--prune"]);
    assert.notEqual(prune.code, 0);
    assert.match(prune.stderr, /hosts\/ponkila-ephemeral-beta\.yaml is invalid/);
    assert.deepEqual(readdirSync(join(dir, "secrets/hosts/ponkila-ephemeral-beta")).sort(), before, "nothing deleted");
  });
});

describe("5. mesh addresses are stable from the moment they are shown", () => {
  test("adding a host keeps every shown address (the hub's too); the new one is recorded at once", async () => {
    const { dir, req } = await server();
    const o1 = (await req("GET", "/api/fleet")).json as FleetOverview;
    const shown = Object.fromEntries(o1.hosts.map((h) => [h.name, h.meshAddress]));
    assert.ok(o1.hosts.every((h) => !h.meshProvisional), "a valid fleet's addresses are recorded, not provisional");
    assert.ok(existsSync(join(dir, "mesh/addresses.json")), "recorded when served");
    // A name that sorts first: with addresses allocated in name order it used to take .1.
    const created = await req("POST", "/api/hosts", { name: "aaa-new", template: "server" });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const o2 = (await req("GET", "/api/fleet")).json as FleetOverview;
    for (const [name, addr] of Object.entries(shown)) assert.equal(o2.hosts.find((h) => h.name === name)!.meshAddress, addr, `${name} kept its address`);
    const fresh = o2.hosts.find((h) => h.name === "aaa-new")!;
    if (fresh.meshAddress) {
      assert.ok(!Object.values(shown).includes(fresh.meshAddress));
      const recorded = JSON.parse(readFileSync(join(dir, "mesh/addresses.json"), "utf8")) as { ipv4: Record<string, string> };
      assert.equal(recorded.ipv4["aaa-new"], fresh.meshAddress);
    }
  });

  test("while the fleet is invalid, a new host's address is marked provisional", async () => {
    const { dir } = await readyExample("homestaking");
    writeFileSync(join(dir, "hosts/zzz-new.yaml"), readFileSync(join(REPO_ROOT, "templates/server.yaml"), "utf8").replace(/^name: .*$/m, "name: zzz-new"));
    const file = join(dir, "hosts/ponkila-ephemeral-beta.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("hardware: generic-x86-uefi", "hardwre: generic-x86-uefi"));
    const { req } = await server(dir);
    const o = (await req("GET", "/api/fleet")).json as FleetOverview;
    const z = o.hosts.find((h) => h.name === "zzz-new")!;
    if (z.meshAddress) {
      assert.equal(z.meshProvisional, true);
      assert.equal(o.mesh!.members.find((m) => m.name === "zzz-new")!.provisional, true);
    }
    assert.ok(!existsSync(join(dir, "mesh/addresses.json")), "an invalid fleet records nothing");
  });
});

// ---- 2 and 3 in the web UI (real Chromium) --------------------------------------------------

const webBuilt = existsSync(join(REPO_ROOT, "web/dist/index.html"));

describe("2, 3. the editor in Chromium: a conflict is shown, never overwritten; leaving asks", { skip: (!existsSync(CHROMIUM) && "needs /usr/bin/chromium") || (!webBuilt && "needs `npm run build:web`") }, () => {
  test("a change on disk since the page loaded shows both changes; applying on top keeps both", async () => {
    const { chromium } = await import("playwright-core");
    const { startServe } = await import("../src/server/serve.js");
    const { dir } = await readyExample("homestaking");
    const serving = await startServe({ fleetDir: dir, port: 0, bind: "127.0.0.1", stateDir: tempDir("hearth-ui-state-") });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(20_000);
      const file = join(dir, "hosts/ponkila-ephemeral-sigma.yaml");
      await page.goto(`${serving.url}/#/hosts/ponkila-ephemeral-sigma`);
      const desc = page.getByTestId("field-description");
      await desc.waitFor();
      await desc.fill("edited in the browser");

      // In-app navigation with unsaved changes asks; declining keeps the edit.
      const dialogs: string[] = [];
      page.once("dialog", (d) => {
        dialogs.push(d.type());
        void d.dismiss();
      });
      await page.evaluate(() => (window.location.hash = "#/"));
      await page.waitForTimeout(300);
      assert.deepEqual(dialogs, ["confirm"]);
      assert.match(page.url(), /#\/hosts\/ponkila-ephemeral-sigma$/);
      assert.equal(await desc.inputValue(), "edited in the browser");

      // Someone changes the file on disk.
      const onDisk = readFileSync(file, "utf8").replace(/^(ephemeral: .*)$/m, "# changed on disk\n$1");
      writeFileSync(file, onDisk);
      await page.getByTestId("review").click();
      const conflict = page.getByTestId("conflict");
      await conflict.waitFor();
      assert.match(await page.getByTestId("conflict-theirs").innerText(), /\+# changed on disk/);
      assert.match(await page.getByTestId("conflict-mine").innerText(), /\+description: edited in the browser/);
      assert.equal(await page.getByTestId("save").isDisabled(), true, "no save while in conflict");
      assert.equal(readFileSync(file, "utf8"), onDisk);

      await page.getByTestId("conflict-apply").click();
      await conflict.waitFor({ state: "detached" });
      await page.getByTestId("review").click();
      await page.waitForFunction(() => /edited in the browser/.test(document.querySelector("[data-testid=diff]")?.textContent ?? ""));
      const shown = await page.getByTestId("diff").innerText();
      assert.doesNotMatch(shown, /-# changed on disk/, "the review diff is against the file as it is now");
      await page.getByTestId("save").click();
      for (let i = 0; i < 100 && !readFileSync(file, "utf8").includes("edited in the browser"); i++) await page.waitForTimeout(100);
      const saved = readFileSync(file, "utf8");
      assert.match(saved, /description: edited in the browser/);
      assert.match(saved, /# changed on disk/, "the change on disk survived");

      // The editor reloads the saved file after a save; typing before that lands is overwritten.
      await page.getByText("No unsaved changes").waitFor();
      // Unsaved again: closing the tab asks (beforeunload), and so does navigating, accepted this time.
      await desc.fill("unsaved");
      // The editor knows it is dirty once its Review button shows; navigating before that is a race.
      await page.getByTestId("review").waitFor();
      const asked: string[] = [];
      page.on("dialog", (d) => {
        asked.push(d.type());
        void d.accept();
      });
      await page.evaluate(() => (window.location.hash = "#/"));
      await page.getByTestId("host-row-ponkila-ephemeral-sigma").waitFor();
      assert.deepEqual(asked, ["confirm"]);
      await page.goto(`${serving.url}/#/hosts/ponkila-ephemeral-sigma`);
      await desc.waitFor();
      // A real click and typing: Chromium asks on beforeunload only after the user interacted.
      await desc.click();
      await page.keyboard.type(" again");
      await page.waitForTimeout(100);
      await page.reload();
      for (let i = 0; i < 50 && !asked.includes("beforeunload"); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(asked.includes("beforeunload"), `asked: ${asked.join(", ")}`);
    } finally {
      await browser.close();
      await serving.close();
    }
  });
});

test("5 (CLI). hearth host add records the mesh addresses first: a host that sorts first takes a free address, the hub keeps its own", async () => {
  const { dir } = await readyExample("homestaking");
  const before = hearth(["mesh", "show", "-f", dir, "--json"]);
  assert.equal(before.code, 0, before.stderr);
  const addr = (json: string) => Object.fromEntries((JSON.parse(json).members as { name: string; ipv4: string }[]).map((m) => [m.name, m.ipv4]));
  const old = addr(before.stdout);
  const r = hearth(["host", "add", "aaa-new", "-t", "ethereum-node", "-f", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mesh address of aaa-new: \S+ \(recorded in mesh\/addresses\.json\)/);
  const now = addr(hearth(["mesh", "show", "-f", dir, "--json"]).stdout);
  for (const [name, ip] of Object.entries(old)) assert.equal(now[name], ip, `${name} was renumbered`);
  assert.ok(now["aaa-new"] && !Object.values(old).includes(now["aaa-new"]));
});

test("the server's cached overview sees a host file rewritten in place a moment ago (no stale read in 30 tries)", async () => {
  const { dir } = await readyExample("homestaking");
  const s = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: tempDir("hearth-state-") });
  try {
    const f = join(dir, "hosts/ponkila-ephemeral-sigma.yaml");
    for (let i = 0; i < 30; i++) {
      await (await s.app.request("http://localhost/api/fleet")).text();
      // In place (O_TRUNC), as some editors save: the directory's mtime does not change.
      writeFileSync(f, readFileSync(f, "utf8").replace(/^description: .*$/m, `description: run ${i}`));
      const o = (await (await s.app.request("http://localhost/api/fleet")).json()) as FleetOverview;
      assert.equal(o.hosts.find((h) => h.name === "ponkila-ephemeral-sigma")?.description, `run ${i}`, `try ${i}: a stale overview`);
    }
  } finally {
    await s.close();
  }
});
