# FAKE nixpkgs lib, for tests only: just enough of mkOption and types to read the option
# declarations of hearth's static modules (nixpkgs itself is not available on this machine).
let
  t = description: extra: { _type = description; } // extra;
  types = {
    bool = t "boolean" { };
    str = t "string" { };
    int = t "signed integer" { };
    package = t "package" { };
    path = t "path" { };
    listOf = e: t "list of ${e._type}" { _elem = e; };
    attrsOf = e: t "attribute set of ${e._type}" { _attrs = e; };
    nullOr = e: t "null or ${e._type}" { };
    enum = vs: t "one of ${builtins.concatStringsSep ", " vs}" { };
    submodule = f: t "submodule" { _options = (f { name = "<name>"; config = { }; lib = lib; }).options; };
  };
  lib = {
    inherit types;
    mkOption = o: { _option = true; type = o.type._type or "unspecified"; _decl = o.type; };
    mkEnableOption = d: { _option = true; type = "boolean"; _decl = types.bool; };
  };
in
lib
