# STUB of nixpkgs' nixos/modules (not available here): declares every NixOS option listed in
# shared/data/nixos-options.json (nixos-unstable, late 2024) with its type where the type text
# maps to a lib type (`anything` otherwise) and its default where that is a literal, the
# submodule's name or another option's value. It implements no behaviour and no assertion:
# what nixpkgs' modules would assert is re-stated, with citations, in ../checks.
optionsJson:
{ config, lib, ... }:
let
  inherit (lib) types mkOption;
  unescape = builtins.replaceStrings [ "&quot;" "&gt;" "&lt;" "&amp;" ] [ "\"" ">" "<" "&" ];
  entries = lib.mapAttrsToList (path: o: {
    inherit path;
    rest = lib.splitString "." path;
    type = unescape o.type;
    default = unescape o.default;
  }) (builtins.fromJSON (builtins.readFile optionsJson));

  # A trie of option paths: each node has the option declared there (or null) and its children.
  trie = es: lib.mapAttrs (_: group: {
    opt = lib.findFirst (e: builtins.length e.rest == 1) null group;
    children = trie (map (e: e // { rest = builtins.tail e.rest; }) (builtins.filter (e: builtins.length e.rest > 1) group));
  }) (builtins.groupBy (e: builtins.head e.rest) es);

  m = re: s: builtins.match re s;
  unparen = s: let r = m "\\((.*)\\)" s; in if r != null then builtins.head r else s;

  # Type text → lib type; unions and anything unusual become `anything`.
  leaf = t:
    if t == "boolean" then types.bool
    else if m ".*convertible to it.*" t != null then types.unspecified
    else if m "null or (.*)" t != null then types.nullOr (leaf (unparen (builtins.head (m "null or (.*)" t))))
    else if m "list of (.*)" t != null then types.listOf (leaf (unparen (builtins.head (m "list of (.*)" t))))
    else if m "lazy attribute set of (.*)" t != null then types.lazyAttrsOf (leaf (unparen (builtins.head (m "lazy attribute set of (.*)" t))))
    else if m "attribute set of (.*)" t != null then types.attrsOf (leaf (unparen (builtins.head (m "attribute set of (.*)" t))))
    else if m ".* or .*" t != null then types.anything
    else if t == "attribute set" then types.attrs
    else if m "16 bit unsigned integer.*" t != null then types.port
    else if m "8 bit unsigned integer.*" t != null then types.ints.u8
    else if m "unsigned integer, meaning >=0" t != null then types.ints.unsigned
    else if m "positive integer, meaning >0" t != null then types.ints.positive
    else if t == "signed integer" then types.int
    else if m "integer between (-?[0-9]+) and (-?[0-9]+).*" t != null then
      let b = m "integer between (-?[0-9]+) and (-?[0-9]+).*" t; in types.ints.between (lib.toInt (builtins.elemAt b 0)) (lib.toInt (builtins.elemAt b 1))
    else if t == "floating point number" then types.float
    else if t == "strings concatenated with “\\n”" then types.lines
    else if m "(string|non-empty string|\\(optionally newline-terminated\\) single-line string|string[, ].*)" t != null then types.str
    else if t == "path" || t == "absolute path" then types.path
    else if t == "package" then types.package
    else if t == "raw value" then types.raw
    else if m "one of “.*" t != null then
      types.enum (map builtins.head (builtins.filter builtins.isList (builtins.split "“([^”]*)”" t)))
    else types.anything;

  # Defaults the option list leaves out (it says `none`), as the nixpkgs source has them.
  sourceDefaults = {
    # nixos/modules/tasks/filesystems.nix @0148e16d1446: `options = mkOption { default = [ "defaults" ]; ... }`.
    "fileSystems.<name>.options" = [ "defaults" ];
  };

  defaultOf = name: o:
    let d = o.default; in
    if sourceDefaults ? ${o.path} then { default = sourceDefaults.${o.path}; }
    else if d == "none" then { }
    else if d == "true" then { default = true; }
    else if d == "false" then { default = false; }
    else if d == "null" then { default = null; }
    else if d == "[ ]" then { default = [ ]; }
    else if d == "{ }" then { default = { }; }
    else if m "-?[0-9]+" d != null then { default = lib.toInt d; }
    else if d == "\"‹name›\"" || d == "\"<name>\"" then { default = name; }
    else if m "\"[^\"\\\\$]*\"" d != null then { default = builtins.fromJSON d; }
    else if m "!config(\\.[A-Za-z0-9_-]+)+" d != null then
      { default = !(lib.getAttrFromPath (builtins.tail (lib.splitString "." (lib.removePrefix "!" d))) config); }
    else if m "config(\\.[A-Za-z0-9_-]+)+" d != null then
      { default = lib.getAttrFromPath (builtins.tail (lib.splitString "." d)) config; }
    else { default = throw "STUB: the default of ${o.path} is `${d}` in NixOS; it is not modelled here: set it"; };

  submod = children: freeform: types.submodule ({ name, ... }: {
    options = declareAll name children;
  } // lib.optionalAttrs freeform { freeformType = types.anything; });

  typeOf = node:
    let
      t = node.opt.type;
      ch = node.children;
      nullable = m "null or .*" t != null;
      wrap = ty: if nullable then types.nullOr ty else ty;
    in
    # A type that takes another and converts it (networking.defaultGateway takes a string,
    # boot.initrd.supportedFilesystems a list): coercion is not modelled; lists concatenate.
    if m ".*convertible to it.*" t != null then types.unspecified
    else if ch ? "<name>" then wrap ((if m ".*lazy attribute set.*" t != null then types.lazyAttrsOf else types.attrsOf) (submod ch."<name>".children false))
    else if ch ? "*" then wrap (types.listOf (submod ch."*".children false))
    else if ch != { } then wrap (submod ch (m ".*submodule.*" t == null))
    else leaf t;

  declare = name: node:
    if node.opt == null then declareAll name node.children
    else mkOption ({ type = typeOf node; description = "STUB of NixOS option ${node.opt.path}"; } // defaultOf name node.opt);
  declareAll = name: children: lib.mapAttrs (_: declare name) (builtins.removeAttrs children [ "<name>" "*" ]);
in
{
  options = declareAll "‹name›" (trie entries);
}
