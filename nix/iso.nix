# The installer ISO (packages.appliance-iso): NixOS's minimal installation CD plus the appliance
# system's whole closure and the installer command, so installing needs no network.
{ appliance }:
{ lib, pkgs, ... }:
let
  toplevel = appliance.config.system.build.toplevel;
  installer = pkgs.callPackage ./installer.nix {
    inherit toplevel;
    secretsFrom = if (appliance.config.sops.secrets or { }) != { } then "sops" else "installer";
  };
in
{
  isoImage.isoName = lib.mkForce "compliance-appliance-${appliance.config.services.compliance-agent.siteId}.iso";
  isoImage.storeContents = [ toplevel ];
  environment.systemPackages = [ installer ];
  services.getty.helpLine = ''

    MSP compliance appliance installer. To install onto a disk (ERASES IT):
      sudo compliance-appliance-install /dev/<disk>
  '';
  # The installer works offline; nothing on the ISO reaches out.
  nix.settings.substituters = lib.mkForce [ ];
  networking.wireless.enable = lib.mkForce false;
}
