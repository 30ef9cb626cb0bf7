// A synthetic fleet of n RAM-booted Ethereum hosts, for the benchmarks.
import { stringify } from "yaml";

export const ADMIN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILeL0yNt4ihLjfN2C/jhnpl4w/LYBEHFCGTG8+jYyIrw admin@example";

export function fleetFiles(n: number): Record<string, string> {
  const files: Record<string, string> = { "fleet.yaml": stringify({ name: "bench", admins: { ops: { sshKeys: [ADMIN] } } }) };
  for (let i = 0; i < n; i++) {
    files[`hosts/h${i}.yaml`] = stringify({
      ephemeral: true,
      network: { dhcp: false, addresses: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/8`] },
      storage: { volumes: { data: { type: "btrfs", format: false, devices: [`/dev/disk/by-id/nvme-${i}`], subvolumes: { secrets: { mountpoint: "/var/mnt/secrets" }, geth: { mountpoint: "/var/mnt/geth" }, lighthouse: { mountpoint: "/var/mnt/lighthouse" } } } } },
      services: { execution: { client: "geth", dataDir: "/var/mnt/geth" }, consensus: { client: "lighthouse", dataDir: "/var/mnt/lighthouse" }, mevBoost: {} },
    });
  }
  return files;
}
