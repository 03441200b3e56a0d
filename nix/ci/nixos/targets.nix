# Every NixOS system the project ships or tests, evaluated against the real NixOS module files
# (./eval.nix): the flake is evaluated with the evaluator standing in for its nixpkgs input, so
# nixosConfigurations, the ISO's configuration and the VM tests' nodes are taken exactly as the
# flake wires them.
#   NIXOS_ORACLE=<oracle> nix-instantiate --eval --strict --json nix/ci/nixos/targets.nix \
#     --arg oracle <oracle> --argstr target appliance
{
  oracle,
  target ? null,
  # A module added to module-minimal (the tests' negative cases).
  extra ? null,
  # The SOPS-encrypted secrets file of the appliance-sops target (default: the test fixture).
  sopsFile ? ./fixtures/site.secrets.yaml,
}:
let
  e = import ./eval.nix { inherit oracle; };
  inherit (e) lib;
  nixpkgs = {
    outPath = toString ./fake-nixpkgs;
    lib = lib // {
      inherit (e) nixosSystem;
    };
    legacyPackages.x86_64-linux = e.pkgs;
  };
  # sops-nix cannot be fetched here: its option interface, declared by ./sops-nix.nix.
  sops-nix.nixosModules.sops = ./sops-nix.nix;
  repo = ../../..;
  flake = (import (repo + "/flake.nix")).outputs {
    self = flake;
    inherit nixpkgs sops-nix;
  };
  extraModule = if extra == null then { } else import extra;
  siteDir = repo + "/nix/sites";

  # The module alone: its defaults and the least a site must give (./minimal-site.nix).
  minimalSite = {
    services.compliance-agent = import ./minimal-site.nix // {
      enable = true;
      package = flake.packages.x86_64-linux.compliance-agent;
      caFile = siteDir + "/example-ca.pem";
    };
  };

  vm = name: flake.checks.x86_64-linux."vm-${name}";
  scenarios = [
    "bad-signature"
    "expired-ttl"
    "control-plane-down"
    "rebuild-failure"
    "dns-failure"
  ];

  systems = {
    module-minimal = e.nixosSystem { modules = [ flake.nixosModules.compliance-agent minimalSite extraModule ]; };
    appliance = flake.nixosConfigurations.appliance;
    # The same site with its secrets in an encrypted file of its configuration (sops-nix).
    appliance-sops = flake.lib.mkAppliance {
      site = builtins.fromJSON (builtins.readFile (siteDir + "/example.json")) // {
        secrets.sopsFile = sopsFile;
      };
      inherit siteDir;
    };
    installer = flake.nixosConfigurations.appliance-installer;
    brokenSystem = (vm "rebuild-failure").passthru.brokenSystem.evaluation;
  }
  // lib.listToAttrs (
    map (name: {
      name = "vm-${name}";
      value = (vm name).nodes.machine;
    }) scenarios
  );
  reportOf = name: e.report systems.${name};
in
if target == null then
  builtins.attrNames systems
else
  reportOf target
  // {
    # The system the installer copies onto the disk is the appliance's own toplevel.
    installerInstalls = if target == "installer" then flake.nixosConfigurations.appliance-installer.config.isoImage.storeContents == [ flake.nixosConfigurations.appliance.config.system.build.toplevel ] else null;
  }
