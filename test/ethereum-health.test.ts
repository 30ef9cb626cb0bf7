// Issue 15, Ethereum health: readEthHealth() against a real beacon node (Lodestar 1.5.1's dev
// chain from the kit in ../shared/kits) and a real validator client, then the alert engine and a
// webhook receiver on 127.0.0.1: stopping the client that runs validators 6 and 7 shows them
// missing attestations, and the webhook hears about it exactly once over many polls.
//
// Lodestar 1.5.1 facts this relies on, read in the installed kit (node_modules/.cache/hearth/
// lodestar-1.5.1/node_modules/@lodestar/…, every package at 1.5.1):
// - Paths (api/lib/beacon/routes/node.js: getPeerCount /eth/v1/node/peer_count, getSyncingStatus
//   /eth/v1/node/syncing; beacon/block.js: getBlockHeader /eth/v1/beacon/headers/{block_id};
//   beacon/index.js: getGenesis /eth/v1/beacon/genesis; config.js: getSpec /eth/v1/config/spec;
//   beacon/state.js: getStateFinalityCheckpoints /eth/v1/beacon/states/{state_id}/finality_checkpoints,
//   getStateValidators /eth/v1/beacon/states/{state_id}/validators with query id: UintOrStringArray;
//   validator.js: getProposerDuties GET /eth/v1/validator/duties/proposer/{epoch}, getLiveness
//   GET /eth/v1/validator/liveness with query indices: UintArray, epoch — there is no standard
//   POST /eth/v1/validator/liveness/{epoch} in 1.5.1, so the reader falls back to this GET form.
// - Field names: syncing is jsonType("snake") of beacon-node/lib/sync/sync.js getSyncStatus()
//   {headSlot, syncDistance, isSyncing, isOptimistic} → head_slot, sync_distance, is_syncing,
//   is_optimistic; sync_distance is "0" whenever the node's state is Synced, so "behind" must come
//   from the wall clock (genesis_time + SECONDS_PER_SLOT). peer_count: {disconnected, connecting,
//   connected, disconnecting} (node.js PeerCount). Finality: {previous_justified,
//   current_justified, finalized: {epoch, root}} (state.js FinalityCheckpoints, jsonCase eth2).
//   Validators: [{index, balance, status, validator: {pubkey …}}] (state.js ValidatorResponse);
//   status strings from beacon-node/lib/api/impl/beacon/state/utils.js getValidatorStatus
//   (pending_initialized, pending_queued, active_ongoing, active_exiting, active_slashed,
//   exited_unslashed, exited_slashed, withdrawal_possible, withdrawal_done). Proposer duties:
//   [{slot, validator_index, pubkey}] (validator.js ProposerDuty), only for the current and next
//   epoch (beacon-node/lib/api/impl/validator/index.js getProposerDuties). Liveness: [{index,
//   epoch, is_live}] (validator/index.js getLiveness, jsonType("snake")), only for epochs
//   current-1..current+1, and is_live = seen attesting/aggregating/proposing on gossip, via the
//   API or in a block (beacon-node/lib/chain/chain.js validatorSeenAtEpoch). A header of an empty
//   slot is a 404 "No block found for id" (beacon-node/lib/api/impl/beacon/blocks/utils.js
//   resolveBlockId).
// - Validator-client ports, keys and the dev chain: see test/support/lodestar-kit.ts (the
//   in-process validators use --beaconNodes, so no port 9596; 8 s to slot 1; finality of epoch
//   2 about 76 s after start). Ports here: REST 19696, p2p 19600 (lodestar.test.ts and
//   lodestar-kit.test.ts use 19596/19500).
// MEV-boost's GET /eth/v1/builder/status answers 200 when at least one relay answers (with
// -relay-check, which hearth passes) and 503 "all relays are unavailable" otherwise
// (flashbots/mev-boost server/service.go handleStatus). Execution JSON-RPC shapes: eth_syncing
// false or {startingBlock, currentBlock, highestBlock} in hex (ethereum/execution-apis
// src/eth/client.yaml). No execution client or MEV-boost runs on this machine: those parts are
// shown on answers of those shapes (labelled below), and on endpoints that do not answer.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alertsFromEthHealth, ETH_ALERT_RULES, ethHealthFrom, type EthHealth } from "../src/core/monitor/ethereum.js";
import { evaluateAlerts, type AlertPolicy, type AlertState, type Notification } from "../src/core/monitor/alerts.js";
import { readEthHealth } from "../src/node/monitor/ethereum.js";
import { deliver, type WebhookChannel } from "../src/node/monitor/notify.js";
import { copyExample, tempDir } from "./support/fleet.js";
import { composeServer } from "../src/server/serve.js";
import type { MonitorOverview } from "../src/server/wire.js";
import { parseDocument } from "yaml";
import { readFileSync } from "node:fs";
import { ensureLodestarKit, interopKeystores, KEYS_LOADED, LodestarKitUnavailable, startDevChain, startValidatorClient, stopAll } from "./support/lodestar-kit.js";

const REST = 19696;
const P2P = 19600;
const PASSWORD = "hearth monitor test keystore";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let skip: string | false = false;
before(async () => {
  try {
    await ensureLodestarKit();
  } catch (e) {
    if (e instanceof LodestarKitUnavailable) skip = e.message;
    else throw e;
  }
});
const roots: string[] = [];
after(async () => {
  await stopAll();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A webhook receiver on 127.0.0.1 that keeps every body it gets. */
async function webhookReceiver() {
  const got: { text: string; notification: Notification }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      got.push(JSON.parse(data) as { text: string; notification: Notification });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

test("Lodestar dev chain: synced, finalizing, validators active; a stopped validator client is reported as missed attestations and delivered once", { timeout: 600_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const root = tempDir("hearth-eth-health-");
  roots.push(root);
  const chain = await startDevChain({ dir: join(root, "beacon"), genesisValidators: 8, inProcessValidators: "0..5", restPort: REST, p2pPort: P2P, slotSeconds: 2 });
  const url = chain.url;

  // Validators 6 and 7 in their own validator client (interop keys, the kit's own libraries).
  const keystores = await interopKeystores({ indices: [6, 7], dir: join(root, "keys"), password: PASSWORD });
  const pw = join(root, "keys", "password.txt");
  writeFileSync(pw, PASSWORD, { mode: 0o600 });
  const vc = startValidatorClient({ name: "vc-6-7", dataDir: join(root, "vc"), beaconUrl: url, keystores: keystores.map((k) => k.file), passwordFile: pw });
  assert.match(await vc.waitFor(KEYS_LOADED, 60_000), /2 local keystores/);

  const all = [0, 1, 2, 3, 4, 5, 6, 7];
  // Validator 7 by pubkey: the reader takes either.
  const watched: (number | string)[] = [0, 1, 2, 3, 4, 5, 6, keystores.find((k) => k.index === 7)!.pubkey];
  const read = () => readEthHealth({ beacon: url, validators: watched }, { timeoutMs: 5_000 });
  const seenProblems: string[] = [];

  // Healthy: wait (bounded) for finality and for an ended epoch in which all eight were live.
  let healthy: EthHealth | undefined;
  let last: EthHealth | undefined;
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    last = await read();
    seenProblems.push(...last.problems);
    const c = last.consensus!;
    const allLive = last.validators.every((v) => v.attestationEpochs.length === 1 && v.missedAttestationEpochs.length === 0);
    if ((c.finalizedEpoch ?? 0) >= 1 && allLive && last.problems.length === 0) {
      healthy = last;
      break;
    }
    await sleep(2_000);
  }
  assert.ok(healthy, `no finalized, fully live reading within 240 s; last:\n${JSON.stringify(last, null, 1)}\n${chain.process.tail(20)}`);
  const c = healthy.consensus!;
  t.diagnostic(`healthy at wall slot ${c.wallSlot}: head ${c.headSlot}, finalized epoch ${c.finalizedEpoch} (distance ${c.finalityDistance}), peers ${c.peers}`);
  assert.equal(c.reachable, true);
  assert.equal(c.isSyncing, false);
  assert.equal(c.secondsPerSlot, 2);
  assert.equal(c.slotsPerEpoch, 8, "the dev chain's minimal preset");
  assert.equal(c.genesisTime, chain.genesisTime);
  assert.ok(c.slotsBehind !== null && c.slotsBehind <= 2, `head ${c.headSlot} vs wall-clock slot ${c.wallSlot}`);
  assert.equal(c.peers, 0, "a lone dev chain has no peers");
  assert.ok(c.finalityDistance !== null && c.finalityDistance >= 1 && c.finalityDistance <= 3, `finality distance ${c.finalityDistance}`);
  assert.deepEqual(healthy.validators.map((v) => v.index), all);
  for (const v of healthy.validators) {
    assert.equal(v.status, "active_ongoing", `validator ${v.index}`);
    assert.ok(v.balanceGwei !== null && v.balanceGwei >= 31_900_000_000 && v.balanceGwei <= 32_100_000_000, `validator ${v.index} balance ${v.balanceGwei}`);
    assert.match(v.pubkey!, /^0x[0-9a-f]{96}$/);
  }
  assert.equal(healthy.validators[7]!.pubkey, keystores.find((k) => k.index === 7)!.pubkey);
  // What is true of this chain: nothing wrong but its peer count (a lone node), which a dev chain's thresholds allow.
  const thresholds = { minConsensusPeers: 0 };
  assert.deepEqual(alertsFromEthHealth("bn", healthy, thresholds), []);
  assert.deepEqual(alertsFromEthHealth("bn", healthy).map((x) => x.key), ["eth.consensus.peers"]);

  // Polls as the server makes them: read, alerts, engine (states through JSON), delivery.
  const hook = await webhookReceiver();
  t.after(hook.close);
  const channel: WebhookChannel = { type: "webhook", name: "chat", url: hook.url, timeoutMs: 5_000, retries: 1, backoffMs: 200 };
  // forSeconds 4: two 2-s polls, so one bad poll does not page.
  const policy: AlertPolicy = { forSeconds: 4, channels: [{ name: "chat" }], rules: ETH_ALERT_RULES };
  let states: AlertState[] = [];
  const poll = async () => {
    const h = await read();
    seenProblems.push(...h.problems);
    const r = evaluateAlerts(states, alertsFromEthHealth("bn", h, thresholds), h.at, policy);
    states = JSON.parse(JSON.stringify(r.states)) as AlertState[];
    const d = await deliver(r.notifications, [channel]);
    assert.ok(d.every((x) => x.ok), JSON.stringify(d));
    return h;
  };
  // The same through hearth serve's monitor: a fleet whose host (no SSH address, so no machine
  // state) runs this beacon node, alerts to a second receiver, thresholds for a lone dev chain.
  const serverHook = await webhookReceiver();
  t.after(serverHook.close);
  const fleetDir = copyExample("homestaking");
  roots.push(fleetDir);
  const doc = parseDocument(readFileSync(join(fleetDir, "fleet.yaml"), "utf8"));
  doc.set("alerts", { webhook: serverHook.url, thresholds: { peersMin: 0, missedAttestations: 1 } });
  writeFileSync(join(fleetDir, "fleet.yaml"), doc.toString());
  const ETH_HOST = "hetzner-ephemeral-alpha";
  const server = composeServer({ fleetDir, bind: "127.0.0.1", stateDir: join(root, "state"), monitor: { manual: true, timeoutMs: 2000, ethEndpoints: { [ETH_HOST]: { beacon: url, validators: watched } } } });
  t.after(() => server.close());
  const overview = async () => (await (await server.app.request("http://localhost/api/monitor")).json()) as MonitorOverview;
  const serverPoll = () => server.monitor.pollNow();

  for (let i = 0; i < 3; i++) {
    await Promise.all([poll(), serverPoll()]);
    await sleep(2_000);
  }
  assert.equal(hook.got.length, 0, `a healthy chain pages nobody: ${hook.got.map((g) => g.text).join(" | ")}`);
  const calm = (await overview()).hosts.find((h) => h.host === ETH_HOST)!;
  assert.equal(calm.eth?.validators.length, 8, "the page shows the host's eight validators");
  assert.deepEqual(calm.alerts, [], JSON.stringify(calm.alerts));

  // Stop the client of validators 6 and 7.
  const stopSlot = (await read()).consensus!.wallSlot!;
  const stopped = await vc.stop();
  t.diagnostic(`validator client stopped (${stopped.code ?? stopped.signal}) from wall slot ${stopSlot}`);

  const missedBy = new Map<number, number[]>();
  const proposalsMissed = new Map<number, number[]>();
  let firedAt = -1;
  const pollsDeadline = Date.now() + 150_000;
  let polls = 0;
  // Until both are reported (within a couple of 16-s epochs), then 8 more polls (16 s) to show no repeat.
  while (Date.now() < pollsDeadline && (firedAt < 0 || polls < firedAt + 8)) {
    const [h] = await Promise.all([poll(), serverPoll()]);
    polls++;
    for (const v of h.validators) {
      if (v.missedAttestationEpochs.length) missedBy.set(v.index!, [...(missedBy.get(v.index!) ?? []), ...v.missedAttestationEpochs]);
      if (v.missedProposalSlots.length) proposalsMissed.set(v.index!, [...(proposalsMissed.get(v.index!) ?? []), ...v.missedProposalSlots]);
    }
    const raised = new Set(hook.got.map((g) => g.notification.key));
    if (firedAt < 0 && raised.has("validator.6.missed") && raised.has("validator.7.missed")) firedAt = polls;
    await sleep(2_000);
  }
  t.diagnostic(`missed attestations by epoch: ${JSON.stringify([...missedBy])}; missed proposals: ${JSON.stringify([...proposalsMissed])}; ${polls} polls after the stop`);
  t.diagnostic(`webhook received:\n${hook.got.map((g) => g.text).join("\n")}`);
  if (seenProblems.length) t.diagnostic(`problems seen: ${[...new Set(seenProblems)].join("; ")}`);
  // Epochs are asked as the node's API clock counts them (ahead by up to 1 s for duties): no refusals.
  assert.deepEqual(seenProblems.filter((p) => /duties|liveness/.test(p)), []);
  assert.ok(firedAt > 0, `validators 6 and 7 were not both raised within 150 s of the stop; webhook got: ${hook.got.map((g) => g.text).join(" | ")}`);
  assert.deepEqual([...missedBy.keys()].sort(), [6, 7], "only the stopped client's validators miss attestations");
  for (const [i, epochs] of missedBy) assert.ok(epochs.every((e) => e >= Math.floor(stopSlot / 8)), `validator ${i} missed epochs ${epochs} before the stop`);
  for (const [i, slots] of proposalsMissed) {
    assert.ok(i === 6 || i === 7, `validator ${i} reported a missed proposal`);
    // Checked apart from the reader: no block by that validator at that slot.
    for (const slot of new Set(slots)) {
      assert.ok(slot >= stopSlot, `slot ${slot} is before the stop`);
      const r = await fetch(`${url}/eth/v1/beacon/headers/${slot}`);
      const proposer = r.status === 200 ? ((await r.json()) as { data: { header: { message: { proposer_index: string } } } }).data.header.message.proposer_index : null;
      assert.ok(r.status === 404 || (r.status === 200 && proposer !== String(i)), `slot ${slot}: ${r.status} proposer ${proposer}`);
    }
  }

  // Exactly once each, over all the polls since, and nothing else: no repeat storm.
  const texts = hook.got.map((g) => g.text);
  const byKey = (k: string) => hook.got.filter((g) => g.notification.key === k);
  for (const i of [6, 7]) {
    const n = byKey(`validator.${i}.missed`);
    assert.equal(n.length, 1, texts.join("\n"));
    assert.equal(n[0]!.notification.kind, "raised");
    assert.match(n[0]!.text, new RegExp(`^RAISED \\[critical\\] bn: validator ${i} missed attestations in epoch \\d+`));
  }
  const others = hook.got.filter((g) => !/^validator\.[67]\.(missed|proposal)$/.test(g.notification.key ?? ""));
  assert.deepEqual(others.map((g) => g.text), [], "nothing else was wrong with the chain");
  // A missed proposal is an event (ETH_ALERT_RULES): raised, never "resolved" when its epoch has passed.
  assert.deepEqual(hook.got.filter((g) => g.notification.kind !== "raised").map((g) => g.text), []);
  assert.ok(polls >= firedAt + 8, "several polls ran after the alert without repeating it");

  // hearth serve's monitor saw the same: the page's data shows 6 and 7 missing attestations with
  // their alerts, and its webhook heard of each exactly once.
  const host = (await overview()).hosts.find((h) => h.host === ETH_HOST)!;
  const keys = host.alerts.map((a) => a.key);
  assert.ok(keys.includes("validator.6.missed") && keys.includes("validator.7.missed"), JSON.stringify(host.alerts));
  const mine = serverHook.got.filter((g) => g.notification.host === ETH_HOST);
  for (const i of [6, 7]) assert.equal(mine.filter((g) => g.notification.key === `validator.${i}.missed` && g.notification.kind === "raised").length, 1, mine.map((g) => g.text).join("\n"));
  assert.deepEqual(mine.filter((g) => !/^validator\.[67]\.(missed|proposal)$/.test(g.notification.key ?? "")).map((g) => g.text), []);
});

// ---------------------------------------------------------------------------------------------
// Endpoints that do not answer, and the shapes of the clients that do not run here

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test("unreachable endpoints are problems in words and alerts, never a throw; a hung one is cut by the timeout", async () => {
  const port = await closedPort();
  const hung = createServer(() => {}); // accepts, never answers
  await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r));
  const hungUrl = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
  try {
    const t0 = Date.now();
    const h = await readEthHealth(
      { beacon: `http://127.0.0.1:${port}`, execution: hungUrl, mevBoost: `http://127.0.0.1:${port}`, relays: [`http://0x${"ab".repeat(48)}@127.0.0.1:${port}`], validators: [3] },
      { timeoutMs: 500 },
    );
    assert.ok(Date.now() - t0 < 5_000, "bounded by the timeout");
    assert.equal(h.consensus!.reachable, false);
    assert.equal(h.execution!.reachable, false);
    assert.equal(h.mevBoost!.reachable, false);
    assert.ok(h.problems.includes(`beacon node http://127.0.0.1:${port}: GET /eth/v1/node/syncing: connection refused (is it running, on this port?)`), h.problems.join("\n"));
    assert.ok(h.problems.includes(`execution client ${hungUrl}: eth_syncing: no answer within 0.5 s`), h.problems.join("\n"));
    assert.ok(h.problems.some((p) => p.startsWith(`relay http://127.0.0.1:${port}: GET /eth/v1/builder/status: connection refused`)), "the relay's pubkey is not in the words");
    assert.equal(h.validators[0]!.status, "unread");
    assert.deepEqual(alertsFromEthHealth("sigma", h).map((x) => `${x.severity} ${x.key}`), [
      "critical eth.consensus.unreachable",
      "critical eth.execution.unreachable",
      "warning eth.mevboost.unreachable",
      `warning eth.relay.http://127.0.0.1:${port}`,
    ]);
  } finally {
    hung.closeAllConnections();
    await new Promise<void>((r) => hung.close(() => r()));
  }
});

test("execution JSON-RPC and MEV-boost answers (shapes of ethereum/execution-apis and mev-boost; no such client runs here)", () => {
  const rpc = (result: unknown) => ({ status: 200, body: { jsonrpc: "2.0", id: 1, result } });
  const syncing = ethHealthFrom(
    {
      execution: { url: "http://127.0.0.1:8545", syncing: rpc({ startingBlock: "0x0", currentBlock: "0x1518", highestBlock: "0x9567a3" }), peerCount: rpc("0x2"), blockNumber: rpc("0x1518") },
      mevBoost: { url: "http://127.0.0.1:18550", status: { status: 503, body: { code: 503, message: "all relays are unavailable" } }, relays: [] },
    },
    1_700_000_000,
  );
  assert.deepEqual(syncing.execution, { url: "http://127.0.0.1:8545", reachable: true, syncing: true, currentBlock: 0x1518, highestBlock: 0x9567a3, headBlock: 0x1518, peers: 2 });
  assert.deepEqual(alertsFromEthHealth("sigma", syncing).map((x) => x.summary), [
    "the execution client on sigma is not synced (9785995 blocks behind)",
    "the execution client on sigma has 2 peers (fewer than 5)",
    "MEV-boost on sigma reaches no relay (status 503)",
  ]);
  const synced = ethHealthFrom({ execution: { url: "u", syncing: rpc(false), peerCount: rpc("0x32"), blockNumber: rpc("0x10") }, mevBoost: { url: "m", status: { status: 200, body: {} } } }, 0);
  assert.equal(synced.execution!.syncing, false);
  assert.deepEqual(alertsFromEthHealth("sigma", synced), []);
  const rpcError = ethHealthFrom({ execution: { url: "u", syncing: { status: 200, body: { jsonrpc: "2.0", id: 1, error: { code: -32601, message: "the method net_peerCount does not exist" } } } } }, 0);
  assert.deepEqual(rpcError.problems, ["execution client u: eth_syncing: the method net_peerCount does not exist"]);
});
