# Imported into the workstation through `extraModules:`.
# A Wayland desktop with Hyprland, the compositor seed 002 chose. The user's own
# Hyprland configuration (seed 002's home-manager `desktop` module) is left to
# Home Manager and not part of this example.
{ pkgs, ... }:
{
  programs.hyprland.enable = true;
  # A terminal and a launcher so there is something to start after login.
  environment.systemPackages = [ pkgs.kitty pkgs.wofi ];
  # PipeWire for audio, as most Wayland desktops expect.
  security.rtkit.enable = true;
  services.pipewire = {
    enable = true;
    alsa.enable = true;
    pulse.enable = true;
  };
}
