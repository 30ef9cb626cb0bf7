# All harness checks that re-implement nixpkgs NixOS assertions (see docs/research/nixos-assertions.md).
{
  imports = [
    ./stage-1.nix
    ./systemd-initrd.nix
    ./systemd-tpm2.nix
    ./initrd-ssh.nix
    ./luksroot.nix
    ./filesystems.nix
    ./zfs.nix
    ./btrfs.nix
    ./users-groups.nix
    ./k3s.nix
    ./headscale.nix
    ./grub.nix
    ./systemd-boot.nix
    ./lanzaboote-keys.nix
    ./firewall.nix
    ./wireguard.nix
    ./nginx.nix
    ./acme.nix
    ./caddy.nix
    ./sshd.nix
    ./iso-image.nix
    ./grafana.nix
    ./prometheus.nix
  ];
}
