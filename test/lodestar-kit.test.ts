// The Lodestar harness (test/support/lodestar-kit.ts) end to end on a real dev chain: 8 genesis
// validators, 0..5 signing inside the beacon node, 6 and 7 in separate `lodestar validator`
// processes from EIP-2335 keystores (6 through --importKeystores, 7 through the
// keystores/ + secrets/ layout hearth writes for unattended start); both must get attestations
// included. Then a third client with the same keys and doppelganger protection must detect them
// and stop without signing, and the slashing-protection export/import must round-trip.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DOPPELGANGER_DETECTED,
  KEYS_LOADED,
  LodestarKitUnavailable,
  PUBLISHED_ATTESTATIONS,
  attestedIn,
  chainSpec,
  doppelgangerDetected,
  ensureLodestarKit,
  finalizedEpoch,
  headSlot,
  interchangeWithoutGenesisEntries,
  interopKeystores,
  keystoreLocks,
  liveness,
  slashingProtection,
  startDevChain,
  startValidatorClient,
  stopAll,
  validatorIndices,
  waitForAttestation,
  writePersistedKeystores,
  type DevChain,
  type InteropKeystore,
  type LodestarProcess,
} from "./support/lodestar-kit.js";

const REST_PORT = 19596;
const P2P_PORT = 19500;
const PASSWORD = "hearth-test-keystore-password";

let skip: string | undefined;
let dir: string;
let chain: DevChain;
let keys: InteropKeystore[]; // index 6 and 7
let vcImport: LodestarProcess; // index 6, --importKeystores
let vcLayout: LodestarProcess; // index 7, keystores/ + secrets/ layout
const started = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

describe("Lodestar 1.5.1 kit: dev chain, validator clients, doppelganger, slashing protection", { timeout: 240_000 }, () => {
  before(async () => {
    try {
      await ensureLodestarKit();
    } catch (e) {
      if (e instanceof LodestarKitUnavailable) skip = e.message.split("\n")[0];
      else throw e;
    }
    dir = mkdtempSync(join(tmpdir(), "hearth-lodestar-"));
  });

  after(async () => {
    await stopAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a dev chain with 6 of 8 validators in process answers the Beacon API", async (t) => {
    if (skip) return t.skip(skip);
    chain = await startDevChain({ dir: join(dir, "beacon"), genesisValidators: 8, inProcessValidators: "0..5", restPort: REST_PORT, p2pPort: P2P_PORT, slotSeconds: 2 });
    t.diagnostic(`beacon API up at ${since()}, genesis ${chain.genesisTime}`);
    assert.deepEqual(await chainSpec(chain.url), { slotsPerEpoch: 8, secondsPerSlot: 2 });
    assert.equal(await finalizedEpoch(chain.url), 0);
    keys = [...(await interopKeystores({ indices: [6], dir: join(dir, "keys-import"), password: PASSWORD })), ...(await interopKeystores({ indices: [7], dir: join(dir, "keys-layout"), password: PASSWORD }))];
    const ks = JSON.parse(readFileSync(keys[0]!.file, "utf8"));
    assert.equal(ks.version, 4);
    assert.equal(ks.crypto.kdf.function, "pbkdf2");
    const indices = await validatorIndices(chain.url, keys.map((k) => k.pubkey));
    assert.deepEqual([...indices.entries()].sort(), [[keys[0]!.pubkey, 6], [keys[1]!.pubkey, 7]], "the keystores hold genesis validators 6 and 7");
  });

  test("validator clients for 6 (--importKeystores) and 7 (keystores/ + secrets/ layout) get attestations included", async (t) => {
    if (skip) return t.skip(skip);
    const { slotsPerEpoch, secondsPerSlot } = await chainSpec(chain.url);
    // Start them in epoch 1 or later, so epoch 0 shows that the inclusion check can say no.
    while ((await headSlot(chain.url)) < slotsPerEpoch) await sleep(secondsPerSlot * 500);
    const startEpoch = Math.floor((await headSlot(chain.url)) / slotsPerEpoch);
    writeFileSync(join(dir, "password.txt"), `${PASSWORD}\n`);
    vcImport = startValidatorClient({ name: "vc-import", dataDir: join(dir, "vc-import"), beaconUrl: chain.url, keystores: [join(dir, "keys-import")], passwordFile: join(dir, "password.txt") });

    // The layout `lodestar validator import` writes, loaded without any key flag. A lock left by a
    // killed client blocks the start: exit 1 naming the lock file.
    const layoutDir = join(dir, "vc-layout");
    writePersistedKeystores(layoutDir, [keys[1]!], PASSWORD);
    const lock = join(layoutDir, "keystores", keys[1]!.pubkey, "voting-keystore.json.lock");
    writeFileSync(lock, "");
    const blocked = startValidatorClient({ name: "vc-layout-stale-lock", dataDir: layoutDir, beaconUrl: chain.url });
    const blockedExit = await Promise.race([blocked.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000).unref())]);
    assert.equal(blockedExit?.code, 1, `a stale keystore lock stops the client with exit 1:\n${blocked.tail(20)}`);
    assert.match(blocked.tail(20), /EEXIST: file already exists, open '.*voting-keystore\.json\.lock'/);
    rmSync(lock);
    vcLayout = startValidatorClient({ name: "vc-layout", dataDir: layoutDir, beaconUrl: chain.url });

    assert.equal(KEYS_LOADED.exec(await vcImport.waitFor(KEYS_LOADED, 30_000))?.[1], "1");
    assert.equal(KEYS_LOADED.exec(await vcLayout.waitFor(KEYS_LOADED, 30_000))?.[1], "1");
    assert.deepEqual(keystoreLocks(layoutDir).length, 1, "the running client holds a lock next to its keystore");
    await vcImport.waitFor(PUBLISHED_ATTESTATIONS, 40_000);
    await vcLayout.waitFor(PUBLISHED_ATTESTATIONS, 40_000);

    const found = await waitForAttestation(chain.url, [6, 7], { afterEpoch: startEpoch - 1, timeoutMs: 60_000 });
    t.diagnostic(`included attestations of 6 and 7 (epochs ${[...found.values()].join(", ")}) at ${since()}`);
    for (const [index, epoch] of found) {
      assert.ok(await attestedIn(chain.url, index, epoch), `validator ${index} attested in epoch ${epoch}`);
      assert.ok(epoch >= startEpoch);
    }
    // Before their clients started 6 and 7 did not attest; the in-process 0..5 did.
    for (const i of [6, 7]) assert.equal(await attestedIn(chain.url, i, startEpoch - 1), false, `${i} did not attest in epoch ${startEpoch - 1}, before its client started`);
    for (const i of [0, 1, 2, 3, 4, 5]) assert.ok(await attestedIn(chain.url, i, 0), `in-process validator ${i} attested in epoch 0`);
    const head = await headSlot(chain.url);
    // Liveness ("seen on gossip or in a block", only for epochs next to the current one) agrees.
    const liveEpoch = Math.max(...found.values());
    const epochSeconds = slotsPerEpoch * secondsPerSlot;
    const intoEpoch = Date.now() / 1000 - chain.genesisTime;
    const clockEpoch = Math.floor(intoEpoch / epochSeconds);
    if (liveEpoch >= clockEpoch - 1 && intoEpoch % epochSeconds < epochSeconds - 3) {
      const live = await liveness(chain.url, [6, 7], liveEpoch);
      assert.deepEqual([...live].sort(), [[6, true], [7, true]], `liveness in epoch ${liveEpoch} at slot ${head}`);
      t.diagnostic(`liveness agrees for epoch ${liveEpoch}`);
    } else t.diagnostic(`liveness not checked: epoch ${liveEpoch} is too far behind the clock (epoch ${clockEpoch})`);
  });

  test("a second client with the same keys and doppelganger protection detects them and stops without signing", async (t) => {
    if (skip) return t.skip(skip);
    const { slotsPerEpoch, secondsPerSlot } = await chainSpec(chain.url);
    // Keys registered in epoch 0 skip the check (nothing can be live before genesis in Lodestar's view).
    while ((await headSlot(chain.url)) < slotsPerEpoch) await sleep(secondsPerSlot * 500);
    // Copies of the keystores: the same files would fail on their .lock before doppelganger runs.
    const doppelKeys = join(dir, "keys-doppelganger");
    mkdirSync(doppelKeys);
    for (const k of keys) copyFileSync(k.file, join(doppelKeys, `keystore-${k.index}.json`));
    const t0 = Date.now();
    const doppel = startValidatorClient({ name: "vc-doppelganger", dataDir: join(dir, "vc-doppelganger"), beaconUrl: chain.url, keystores: [doppelKeys], passwordFile: join(dir, "password.txt"), doppelganger: true });
    await doppel.waitFor(/doppelganger protection enabled/, 30_000);
    const result = await doppelgangerDetected(doppel, 4 * slotsPerEpoch * secondsPerSlot * 1000);
    t.diagnostic(`doppelganger detected after ${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${JSON.stringify(result.exit)}: ${doppel.lines().find((l) => DOPPELGANGER_DETECTED.test(l))}`);
    assert.deepEqual(result.indices.sort(), [6, 7]);
    assert.equal(result.publishedAttestations, false, "the doppelganger client signed nothing");
    assert.equal(result.exit.code, 0, "Lodestar 1.5.1 exits 0 after detecting a doppelganger");
    assert.ok(doppel.lines().some((l) => /Process shutdown requested\s+Doppelganger\(s\) detected/.test(l)));
    assert.equal(vcImport.exit(), undefined, "the original clients keep running");
    assert.equal(vcLayout.exit(), undefined);
  });

  test("slashing protection export and import (client stopped)", async (t) => {
    if (skip) return t.skip(skip);
    const exit = await vcImport.stop();
    t.diagnostic(`vc-import stopped: ${JSON.stringify(exit)}`);
    assert.deepEqual(keystoreLocks(join(dir, "keys-import")), [], "a clean stop removes the keystore lock");
    const file = join(dir, "interchange.json");
    await slashingProtection("export", { dataDir: join(dir, "vc-import"), file, beaconUrl: chain.url });
    const interchange = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(interchange.metadata.interchange_format_version, "4", "1.5.1 exports the pre-final 'complete' v4 format");
    const pubkeys = interchange.data.map((d: { pubkey: string }) => d.pubkey);
    assert.ok(pubkeys.includes("0x47454e455349535f54494d45"), "the GENESIS_TIME pseudo-entry is exported");
    const strict = interchangeWithoutGenesisEntries(interchange);
    assert.deepEqual(strict.data.map((d: { pubkey: string }) => d.pubkey), [keys[0]!.pubkey]);
    assert.ok(strict.data[0].signed_attestations.length > 0, "validator 6's attestations are recorded");

    // Into a fresh client's database, as EIP-3076 v5 without the pseudo-entries.
    const v5 = { metadata: { interchange_format_version: "5", genesis_validators_root: interchange.metadata.genesis_validators_root }, data: strict.data };
    writeFileSync(join(dir, "interchange-v5.json"), JSON.stringify(v5));
    const fresh = join(dir, "vc-fresh");
    mkdirSync(fresh);
    const out = await slashingProtection("import", { dataDir: fresh, file: join(dir, "interchange-v5.json"), beaconUrl: chain.url });
    assert.match(out, /Import completed successfully/);
    await slashingProtection("export", { dataDir: fresh, file: join(dir, "roundtrip.json"), beaconUrl: chain.url });
    const back = JSON.parse(readFileSync(join(dir, "roundtrip.json"), "utf8"));
    assert.deepEqual(back.data.map((d: { pubkey: string }) => d.pubkey), [keys[0]!.pubkey]);
    t.diagnostic(`done at ${since()}, finalized epoch ${await finalizedEpoch(chain.url)}`);
  });
});
