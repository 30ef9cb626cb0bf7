# STUB of nixpkgs nixos/modules/profiles/qemu-guest.nix: empty. The profile only adds virtio
# kernel modules, which no check depends on.
{ ... }: { }
