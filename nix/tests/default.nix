# checks.<system>: the NixOS VM tests of the plan's five scenarios (nixosTest). They need a real
# Nix with nixpkgs and KVM, so they were written but NOT run on the machine this was built on
# (docs/appliance.md says what was verified there).
{
  pkgs,
  self,
}:
let
  scenario = import ./appliance-scenarios.nix { inherit pkgs self; };
in
{
  vm-bad-signature = scenario "bad-signature";
  vm-expired-ttl = scenario "expired-ttl";
  vm-control-plane-down = scenario "control-plane-down";
  vm-rebuild-failure = scenario "rebuild-failure";
  vm-dns-failure = scenario "dns-failure";
}
