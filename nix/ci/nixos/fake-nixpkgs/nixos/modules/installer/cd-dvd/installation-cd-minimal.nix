# Stands in for nixpkgs' installation-cd-minimal.nix, which the evaluator does not have: the ISO
# image's own options (isoImage.*) are stubs (../../../../../stubs.nix), so nothing of the
# installation CD itself is checked, only what the project's iso.nix sets on top of it.
{ lib, ... }:
{
  isoImage.makeEfiBootable = lib.mkDefault true;
  system.stateVersion = lib.mkDefault "26.05";
  # As the real installation CD: a wheel user with an empty password on the console.
  users.users.nixos = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
    initialHashedPassword = "";
  };
}
