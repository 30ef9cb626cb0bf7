// MEV-boost sidecar between the consensus client and the builder relays.
import { z } from "zod";
import { port } from "../../schema/common.js";
import { probeHost, type ServiceKind } from "../types.js";
import { DEFAULT_RELAYS, ethPackage, networkOf, resolveBind, serviceOptions } from "./common.js";
import { ethNetwork } from "../../schema/common.js";

const schema = z.strictObject({
  network: ethNetwork.optional().describe("Ethereum network; defaults to the fleet's ethereum.network"),
  relays: z
    .array(z.string().url())
    .optional()
    .describe("Relay URLs (https://0xPUBKEY@host); defaults to the Flashbots relay of the network"),
  address: z.string().default("127.0.0.1").describe("Address MEV-boost listens on (default 127.0.0.1)"),
  port: port(18550, "Listening port"),
  minBid: z.number().min(0).optional().describe("Minimum bid in ETH below which local blocks are built"),
  extraArgs: z.array(z.string()).default([]).describe("Extra command-line arguments"),
});
export type MevBoostCfg = z.infer<typeof schema>;

const proc = (c: MevBoostCfg, ctx: Parameters<ServiceKind["nixos"]>[1]) => {
  const net = networkOf(c, ctx);
  return {
    unit: "mev-boost",
    package: ethPackage("mev-boost"),
    packageLabel: "ethereum-nix#mev-boost",
    binary: "mev-boost",
    args: [
      `-${net}`, "-addr", `${resolveBind(c.address, ctx, "127.0.0.1")}:${c.port}`, "-relay-check",
      "-relays", (c.relays ?? DEFAULT_RELAYS[net]).join(","),
      ...(c.minBid !== undefined ? ["-min-bid", String(c.minBid)] : []),
      ...c.extraArgs,
    ],
    user: "mev-boost",
    dataDirs: [],
    after: [],
    description: `MEV-boost (${net})`,
  };
};

const mevBoost: ServiceKind<MevBoostCfg> = {
  id: "mev-boost",
  role: "mevBoost",
  schema,
  ports: (c) => [{ name: "http", port: c.port, protocol: "tcp", expose: "local", field: ["port"] }],
  dataDirs: () => [],
  secrets: () => [],
  processes: (c, ctx) => [proc(c, ctx)],
  // Only that it answers: its status is 503 while the relays are unreachable, which an update
  // of this host cannot cause or fix.
  health: (c, ctx) => [{ name: "mev-boost", kind: "tcp", host: probeHost(resolveBind(c.address, ctx, "127.0.0.1")), port: c.port }],
  nixos: (c, ctx) => serviceOptions(proc(c, ctx)),
};
export default mevBoost;
