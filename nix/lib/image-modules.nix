# The modules a node class's image is made of (nixosConfigurations."image-<class>"): the pull agent
# and the class's own ./images/<name>. No agenix and none of hearth's service modules: the image
# holds no secret and runs no host's services; the configuration the agent switches to brings them.
inputs: root: name: [
  (root + "/modules/hearth-agent.nix")
  (root + "/images/${name}")
]
