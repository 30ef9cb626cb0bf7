# ISO image: the host's system on a bootable ISO, copied to RAM in stage 1 (seed 001's isoImage).
{ modulesPath, ... }:
{
  imports = [ (modulesPath + "/installer/cd-dvd/iso-image.nix") ];
  isoImage.makeEfiBootable = true;
  isoImage.makeUsbBootable = true;
  boot.kernelParams = [ "copytoram" ];
}
