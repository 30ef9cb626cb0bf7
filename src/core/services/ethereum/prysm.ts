// Prysm beacon chain and validator. Flags: data/client-flags/prysm.json.
import { consensusClient, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrls, builderUrl, engineUrl, jwtOf, metricsAddressOf } from "./common.js";

export const PRYSM_WALLET_PASSWORD = "/run/agenix/prysm-wallet-password";

export const beacon = consensusClient({
  id: "prysm",
  packageAttr: "prysm",
  binary: "beacon-chain",
  defaults: { dataDir: "/var/lib/prysm", p2p: 13000, http: 3500, metrics: 8080 },
  // Prysm discovers peers over UDP on its own port; QUIC (--p2p-quic-port) takes the p2p port's UDP side.
  extraPorts: () => [{ name: "discovery", port: 12000, protocol: "udp", expose: "public", field: ["ports", "p2p"] }],
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    const checkpoint = c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net];
    return [
      "--accept-terms-of-use", `--${net}`, "--datadir", c.dataDir,
      "--p2p-tcp-port", String(c.ports.p2p), "--p2p-quic-port", String(c.ports.p2p), "--p2p-udp-port", "12000",
      "--execution-endpoint", engineUrl(c, ctx), "--jwt-secret", jwtOf(c),
      "--checkpoint-sync-url", checkpoint, "--genesis-beacon-api-url", checkpoint,
      "--http-host", a, "--http-port", String(c.ports.http),
      ...(builder ? ["--http-mev-relay", builder] : []),
      ...(c.feeRecipient ? ["--suggested-fee-recipient", c.feeRecipient] : []),
      // Prysm stores blocks blinded unless told to keep payloads (config/features/flags.go).
      ...(c.keepPayloads ? ["--save-full-execution-payloads"] : []),
      ...(c.metrics ? ["--monitoring-host", metricsAddressOf(c, ctx), "--monitoring-port", String(c.ports.metrics)] : ["--disable-monitoring"]),
    ];
  },
});

/**
 * Prysm keeps keys in a wallet (default under $HOME, which a system user has not): hearth makes
 * one in the data dir with a generated password, once, and imports each keystore into it before
 * every start; a key already in the wallet is skipped as a duplicate
 * (validator/accounts/accounts_import.go).
 */
const wallet = (d: string) => `${d}/wallet`;

export const validator = validatorClient({
  id: "prysm",
  packageAttr: "prysm",
  binary: "validator",
  defaults: { dataDir: "/var/lib/prysm-validator", metrics: 8081 },
  keys: {
    keystore: (d, pk) => `${d}/import/${pk}/keystore-${pk}.json`,
    password: (d, pk) => `${d}/import-secrets/${pk}`,
    dirs: (d, pks) => [`${d}/import`, ...pks.map((pk) => `${d}/import/${pk}`), `${d}/import-secrets`],
  },
  secrets: () => [{ id: "prysm-wallet-password", kind: "wallet-password", path: PRYSM_WALLET_PASSWORD, owner: "prysm-validator", group: "prysm-validator", mode: "0400" }],
  preStart: (c) => [
    {
      args: ["wallet", "create", "--wallet-dir", wallet(c.dataDir), "--keymanager-kind", "imported", "--wallet-password-file", PRYSM_WALLET_PASSWORD, "--accept-terms-of-use"],
      unless: `${wallet(c.dataDir)}/direct`,
    },
    ...c.keys.map((pk) => ({
      args: [
        "accounts", "import", "--wallet-dir", wallet(c.dataDir), "--keys-dir", `${c.dataDir}/import/${pk}/keystore-${pk}.json`,
        "--wallet-password-file", PRYSM_WALLET_PASSWORD, "--account-password-file", `${c.dataDir}/import-secrets/${pk}`, "--accept-terms-of-use",
      ],
    })),
  ],
  args: (c, ctx, net) => [
    "--accept-terms-of-use", `--${net}`, "--datadir", c.dataDir,
    "--wallet-dir", wallet(c.dataDir), "--wallet-password-file", PRYSM_WALLET_PASSWORD,
    // A comma-separated list is failover since v7.1.7 (CHANGELOG, PR 17084).
    "--beacon-rest-api-provider", beaconUrls(c, ctx).join(","),
    "--suggested-fee-recipient", c.feeRecipient,
    ...(ctx.host.services.mevBoost ? ["--enable-builder"] : []),
    ...(c.graffiti ? ["--graffiti", c.graffiti] : []),
    ...(c.doppelganger ? ["--enable-doppelganger"] : []),
    ...(c.metrics ? ["--monitoring-host", metricsAddressOf(c, ctx), "--monitoring-port", String(c.ports.metrics)] : ["--disable-monitoring"]),
  ],
});
