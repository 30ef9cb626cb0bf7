# hearth's own check (no upstream assertion): lanzaboote signs with the keys under pkiBundle
# (lanzaboote v1.1.0 nix/modules/lanzaboote.nix: publicKeyFile/privateKeyFile default to
# ${pkiBundle}/keys/db/db.{pem,key}); hearth delivers no Secure Boot keys before the first
# install, so the host must generate them itself (generate-sb-keys, `sbctl create-keys`) and the
# first install must be allowed unsigned (allowUnsigned defaults to autoGenerateKeys.enable).
{ config, options, lib, ... }:
let
  lz = config.boot.lanzaboote or { };
  on = options ? boot.lanzaboote.enable && lz.enable;
in
{
  assertions = lib.optional on {
    assertion = lz.autoGenerateKeys.enable && lz.allowUnsigned;
    message = "[lanzaboote v1.1.0 nix/modules/lanzaboote.nix] boot.lanzaboote.pkiBundle (${toString lz.pkiBundle}) holds no keys before the first install and nothing puts them there: set boot.lanzaboote.autoGenerateKeys.enable (the first install is then unsigned and keys are made on first boot), or deliver the sbctl keys with the install.";
  };
}
