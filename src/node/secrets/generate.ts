// Makes secret values, one generator per kind, with Node's crypto. Values stay in memory;
// the caller encrypts them and wipes the buffers.
import { generateKeyPairSync, randomBytes, randomInt } from "node:crypto";
import { newEd25519Key } from "./openssh.js";
import { newAgeIdentity } from "./age.js";
import type { SecretKind } from "../../core/secrets/kinds.js";

export interface Made {
  value: Buffer;
  /** Public half, recorded in the manifest. */
  public?: string;
}

const text = (s: string) => Buffer.from(s, "utf8");

// systemd-cryptenroll's recovery-key alphabet (modhex), so the key reads like one systemd made.
const MODHEX = "cbdefghijklnrtuv";
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

export async function makeSecret(kind: SecretKind, label: string): Promise<Made> {
  switch (kind) {
    case "ssh-host-key": {
      const k = newEd25519Key(label);
      return { value: k.privateFile, public: k.publicLine };
    }
    case "wireguard-key": {
      const { privateKey, publicKey } = generateKeyPairSync("x25519");
      const d = (privateKey.export({ format: "jwk" }) as { d: string }).d;
      const x = (publicKey.export({ format: "jwk" }) as { x: string }).x;
      // wg genkey / wg pubkey print standard base64 with a newline.
      return { value: text(Buffer.from(d, "base64url").toString("base64") + "\n"), public: Buffer.from(x, "base64url").toString("base64") };
    }
    case "jwt-hex":
    case "k3s-token":
    case "wallet-password":
    case "grafana-secret-key":
      return { value: text(randomBytes(32).toString("hex")) };
    case "headscale-preauth":
      return { value: text(randomBytes(24).toString("hex")) };
    case "grafana-admin-password":
      return { value: text(randomBytes(16).toString("hex")) };
    case "zfs-raw-key":
      return { value: randomBytes(32) };
    case "luks-passphrase": {
      // 6 groups of 5 base32 letters: 150 bits, and typeable at a console.
      const groups = Array.from({ length: 6 }, () => Array.from({ length: 5 }, () => BASE32[randomInt(32)]).join(""));
      return { value: text(groups.join("-")) };
    }
    case "luks-recovery-key": {
      const hex = [...randomBytes(32)].map((b) => MODHEX[b >> 4]! + MODHEX[b & 15]!).join("");
      return { value: text(hex.match(/.{8}/g)!.join("-")) };
    }
    case "age-identity": {
      const id = await newAgeIdentity();
      return { value: text(id.text), public: id.recipient };
    }
    case "user":
    case "validator-keystore":
    case "validator-password":
      throw new Error("user secrets are set with `hearth secrets set`, not generated");
  }
}
