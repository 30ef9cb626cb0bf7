// The compiled CLI as bin/hearth.js runs it: the bundle through its V8 code cache, which may be
// missing, from another Node (rejected), or unwritable, and must never change what a command does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../src/node/fleet-dir.js";

/** A copy of the installed layout (bin, dist/cli, examples, node_modules) with an empty src/, so the build counts as fresh. */
function installCopy(): string {
  const root = mkdtempSync(join(tmpdir(), "hearth-cli-"));
  cpSync(join(REPO_ROOT, "bin"), join(root, "bin"), { recursive: true });
  cpSync(join(REPO_ROOT, "dist/cli"), join(root, "dist/cli"), { recursive: true });
  mkdirSync(join(root, "src"));
  symlinkSync(join(REPO_ROOT, "node_modules"), join(root, "node_modules"));
  symlinkSync(join(REPO_ROOT, "examples"), join(root, "examples"));
  writeFileSync(join(root, "package.json"), readFileSync(join(REPO_ROOT, "package.json")));
  // The stamp is newer than the (empty) sources.
  writeFileSync(join(root, "dist/cli/.built"), new Date().toISOString());
  return root;
}

function hearth(root: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin/hearth.js"), ...args], { encoding: "utf8", env: { ...process.env, HEARTH_CODE_CACHE: "debug" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, cache: /code cache (\w+)/.exec(r.stderr)?.[1] };
}

test("the build ships a code cache V8 accepts, and validate gives the same answer through it", () => {
  const root = installCopy();
  try {
    const r = hearth(root, "validate", join(root, "examples/homestaking"));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.cache, "accepted", "npm run build:cli warms the cache with this Node");
    assert.match(r.stdout, /homestaking: 4 host\(s\) valid/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a corrupt or missing code cache is replaced, and an unwritable one only costs speed", () => {
  const root = installCopy();
  const cache = join(root, "dist/cli/hearth.cjs.v8cache");
  try {
    writeFileSync(cache, Buffer.alloc(4096, 7));
    const bad = hearth(root, "validate", join(root, "examples/pi-cluster"));
    assert.equal(bad.status, 0, bad.stderr);
    assert.equal(bad.cache, "rejected");
    assert.equal(hearth(root, "--help").cache, "accepted", "the rejected cache was rewritten");

    rmSync(cache);
    assert.equal(hearth(root, "--help").cache, "missing");
    assert.ok(existsSync(cache), "a missing cache is made");

    // A read-only install (root bypasses modes, so the cache path is made a directory instead).
    rmSync(cache);
    mkdirSync(cache);
    chmodSync(join(root, "dist/cli"), 0o555);
    const ro = hearth(root, "validate", join(root, "examples/keystone"));
    assert.equal(ro.status, 0, ro.stderr);
    assert.match(ro.stdout, /keystone: \d+ host\(s\) valid/);
    assert.doesNotMatch(ro.stderr, /Error|EISDIR|EACCES/);
  } finally {
    chmodSync(join(root, "dist/cli"), 0o755);
    rmSync(root, { recursive: true, force: true });
  }
});

test("a command's exit status and errors are the same through the compiled CLI", () => {
  const root = installCopy();
  try {
    const r = hearth(root, "validate", join(root, "no-such-fleet"));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no-such-fleet/);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
