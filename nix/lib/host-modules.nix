# The modules every host of a hearth fleet is made of, besides its own ./hosts/<name>. One list
# for the flake (./outputs.nix) and for hearth's evaluation tests, so both see the same system.
inputs: root: name: [
  (root + "/modules/hearth-service.nix")
  (root + "/modules/zfs-credstore.nix")
  (root + "/modules/initrd-ssh-key.nix")
  (root + "/modules/headscale-preauth.nix")
  (root + "/modules/hearth-agent.nix")
  inputs.agenix.nixosModules.default
  (root + "/hosts/${name}")
]
