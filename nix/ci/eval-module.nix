# A developer's check of nix/module.nix against the real NixOS module system, without NixOS:
# nixpkgs' lib.evalModules with stub options for the NixOS namespaces the module writes or reads
# (free-form, so every value the module sets is kept and merged as NixOS would) and stub
# packages. It shows the option types and defaults, the assertions, the read-only baseline
# options and the rendered units as NixOS would see them. Needs a nixpkgs lib (any checkout's
# lib/ folder), which CI does not have offline, so it is not part of npm test:
#   nix-instantiate --eval --strict --json nix/ci/eval-module.nix \
#     --arg libPath /path/to/nixpkgs/lib --arg repo ./. [--arg extra '{ ... }']
{ libPath, repo, extra ? { } }:
let
  lib = import libPath;
  drv = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; meta.mainProgram = name; };
  pkgs = {
    writeText = name: text: "/nix/store/11111111111111111111111111111111-${name}";
    runCommand = name: env: script: "/nix/store/22222222222222222222222222222222-${name}";
    nftables = drv "nftables"; util-linux = drv "util-linux"; iana-etc = drv "iana-etc";
    libredirect = drv "libredirect"; cryptsetup = drv "cryptsetup"; restic = drv "restic"; coreutils = drv "coreutils";
  };
  pkg = drv "compliance-agent" // { catalogDir = "share/compliance-agent/catalog"; };
  result = lib.evalModules {
    specialArgs = { inherit pkgs; };
    modules = [
      (repo + "/nix/module.nix")
      ({ lib, ... }:
        let
          free = lib.mkOption { type = lib.types.submodule { freeformType = lib.types.attrsOf lib.types.anything; }; default = { }; };
        in {
        options.assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
        options.swapDevices = lib.mkOption { type = lib.types.listOf lib.types.anything; default = [ ]; };
        options.users = free; options.environment = free; options.systemd = free; options.networking = free;
        options.security = free; options.system = free; options.boot = free; options.nix = free;
        options.services = lib.genAttrs [ "openssh" "restic" "journald" "chrony" "timesyncd" "printing" "avahi" "xserver" ] (_: free);
      })
      ({
        systemd.package = drv "systemd";
        nix.package = drv "nix";
        swapDevices = [ ];
        boot.initrd.luks.devices.cryptroot.device = "/dev/disk/by-partlabel/cryptroot";
        services.restic.backups.clinic-data.repository = "s3:https://backup.invalid/x";
        services.compliance-agent = {
          enable = true;
          package = pkg;
          siteId = "example-dental";
          controlPlaneUrl = "https://cp.example.net";
          controlPlanePublicKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
          caFile = "/etc/ca.pem";
          mode = "enforce";
          maintenanceWindow = { days = [ "sat" ]; start = "02:00"; timeZone = "America/Chicago"; };
          backupJobs = [ "clinic-data" ];
          expectedLuksVolumes = [ "cryptroot" ];
          enrollmentTokenFile = "/var/lib/compliance-agent-secrets/enrollment-token";
          firewall.managementNetworks = [ "10.20.0.0/24" ];
          egressAllowlist = [ { address = "192.0.2.10"; ports = [ 443 ]; purpose = "control-plane"; } ];
        };
      })
      extra
    ];
  };
  c = result.config;
in
{
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
  units = builtins.mapAttrs (_: u: u.text) c.systemd.units;
  wanted = builtins.mapAttrs (_: u: u.wantedBy) c.systemd.units;
  ruleset = c.networking.nftables.ruleset;
  ssh = c.services.openssh.settings;
  restic = c.services.restic.backups;
  sysd = c.systemd.services;
  users = c.users;
  etc = builtins.attrNames c.environment.etc;
  readOnly = c.services.compliance-agent.checks;
  catalogDir = c.services.compliance-agent.catalogDir;
}
