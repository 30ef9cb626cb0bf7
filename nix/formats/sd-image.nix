# SD card image for Raspberry Pi hosts.
{ modulesPath, ... }:
{
  imports = [ (modulesPath + "/installer/sd-card/sd-image-aarch64.nix") ];
  sdImage.compressImage = false;
}
