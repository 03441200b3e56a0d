# The evaluator: nixpkgs' lib.evalModules over the real NixOS module files of the oracle (users,
# systemd, journald, timesyncd, nftables, firewall, sshd, chrony, restic, sudo, audit, auditd,
# auto-upgrade, /etc, assertions), the stub namespaces of ./stubs.nix and the stub packages of
# ./pkgs.nix. `nixosSystem` has the shape of nixpkgs' own, so the flake can be evaluated with
# this as its nixpkgs input (./fake-nixpkgs.nix).
{ oracle }:
let
  lib = import (oracle + "/nixpkgs-lib/lib");
  nixos = oracle + "/nixos";
  modulesPath = nixos + "/modules";
  pkgs = import ./pkgs.nix { inherit lib; } // {
    # The VM tests' nodes, evaluated as NixOS systems (nothing runs).
    testers.runNixOSTest = t: {
      inherit (t) name;
      passthru = t.passthru or { };
      nodes = builtins.mapAttrs (_: m: nixosSystem { modules = [ m ]; }) t.nodes;
    };
  };

  # system.build.toplevel as a stub derivation that, like NixOS's, cannot be had while an
  # assertion fails; `evaluation` keeps the evaluated system for the report.
  toplevel =
    { config, options, ... }:
    {
      system.build.toplevel =
        let
          failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
        in
        if failed != [ ] then
          throw "Failed assertions:\n${lib.concatMapStringsSep "\n" (m: "- ${m}") failed}"
        else
          pkgs.drv "nixos-system-${config.networking.hostName}" {
            evaluation = { inherit config options; };
          };
    };

  realModules = map (p: modulesPath + "/${p}") [
    "misc/assertions.nix"
    "misc/ids.nix"
    "misc/extra-arguments.nix"
    "config/users-groups.nix"
    "system/etc/etc.nix"
    "system/boot/systemd.nix"
    "system/boot/systemd/journald.nix"
    "system/boot/timesyncd.nix"
    "services/networking/nftables.nix"
    "services/networking/firewall.nix"
    "services/networking/ssh/sshd.nix"
    "services/networking/ntp/chrony.nix"
    "services/backup/restic.nix"
    "security/sudo.nix"
    "security/audit.nix"
    "security/auditd.nix"
    "tasks/auto-upgrade.nix"
  ];

  nixosSystem =
    {
      modules,
      system ? "x86_64-linux",
      specialArgs ? { },
      ...
    }:
    lib.evalModules {
      specialArgs = { inherit modulesPath; } // specialArgs;
      modules =
        realModules
        ++ [
          ./stubs.nix
          toplevel
          {
            _module.args.pkgs = pkgs;
            _module.args.baseModules = realModules;
            _module.args.extraModules = [ ];
            _module.args.noUserModules = { };
          }
        ]
        ++ modules;
    };

  # Forces what NixOS would build from: every option that has a value (so a wrongly typed value
  # fails), the assertions (a failed one throws, as NixOS's system.build.toplevel does) and the
  # rendered unit files. Returns the report the tests read.
  report =
    eval:
    let
      c = eval.config;
      failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
      # meta (maintainers, docs) needs nixpkgs beyond lib/ and is not configuration.
      options = lib.collect lib.isOption (removeAttrs eval.options [ "_module" "meta" ]);
      # Stub options (./stubs.nix) are not checked: forcing them would only read files the
      # oracle does not hold.
      isStub = o: builtins.all (d: lib.hasSuffix "/nix/ci/nixos/stubs.nix" (toString d)) o.declarations;
      # system.build holds build recipes (scripts from nixpkgs files the oracle does not hold).
      isBuild = o: lib.take 2 o.loc == [ "system" "build" ];
      defined = builtins.filter (o: o.isDefined && !isStub o && !isBuild o) options;
      # Submodule values hold options that stay unset until read (as NixOS leaves them): those are
      # forced to their attribute names here, and their contents through what NixOS renders from
      # them (unit files, /etc, users), below.
      force =
        o:
        if lib.hasInfix "submodule" (o.type.description or "") then
          builtins.seq (if builtins.isAttrs o.value then builtins.attrNames o.value else builtins.length (lib.toList o.value)) true
        else
          builtins.deepSeq (valueOf o) true;
      forced = builtins.foldl' (acc: o: builtins.seq (force o) (acc + 1)) 0 defined;
      valueOf = o: if lib.isDerivation o.value then o.value.outPath else strip o.value;
      strip =
        v:
        if builtins.isFunction v then null
        else if lib.isDerivation v then v.outPath
        else if builtins.isAttrs v then builtins.mapAttrs (_: strip) v
        else if builtins.isList v then map strip v
        else v;
      unitText = _: u: u.text or null;
      # The store as far as the units can see it: each stub package's path and the programs it
      # has in bin/ (the nixpkgs packages' own, ./package-bins.nix), for every package of the
      # table, the agent, the system profile's packages and the health gate's script. CI lays
      # these out as stand-in executables under a scratch root, so `systemd-analyze verify
      # --root` checks the very unit texts NixOS writes, ExecStart= paths included.
      derivations = builtins.filter lib.isDerivation;
      profile = derivations c.environment.systemPackages;
      known =
        derivations (map (n: pkgs.${n}) (builtins.attrNames pkgs.bins))
        ++ lib.optional (c.services.compliance-agent.enable or false) c.services.compliance-agent.package
        ++ profile
        ++ lib.optional (c.system.build ? healthGate) c.system.build.healthGate;
      store = builtins.listToAttrs (map (d: lib.nameValuePair d.outPath (d.bins or [ ])) known);
    in
    if failed != [ ] then
      throw "Failed assertions:\n${lib.concatMapStringsSep "\n" (m: "- ${m}") failed}"
    else
      builtins.seq forced {
        optionsForced = forced;
        warnings = c.warnings;
        units = lib.filterAttrs (_: t: t != null) (builtins.mapAttrs unitText c.systemd.units);
        ruleset = if c.networking.nftables.enable then c.networking.nftables.ruleset else null;
        nftablesEnabled = c.networking.nftables.enable;
        firewallEnabled = c.networking.firewall.enable;
        users = builtins.mapAttrs (_: u: {
          inherit (u) isNormalUser extraGroups hashedPassword hashedPasswordFile;
          keys = u.openssh.authorizedKeys.keys;
        }) (lib.filterAttrs (_: u: u.isNormalUser || u.name == "root") c.users.users);
        sudoWheelNeedsPassword = c.security.sudo.wheelNeedsPassword;
        nameservers = c.networking.nameservers;
        agent = c.services.compliance-agent or null;
        inherit store;
        # Every file an appliance secret is read from (none may be in the Nix store).
        secretPaths =
          lib.concatMapAttrs (job: b: {
            "services.restic.backups.${job}.passwordFile" = b.passwordFile;
            "services.restic.backups.${job}.environmentFile" = b.environmentFile;
            "services.restic.backups.${job}.repositoryFile" = b.repositoryFile;
          }) c.services.restic.backups
          // lib.optionalAttrs (c.services.compliance-agent.enable or false) {
            "services.compliance-agent.enrollmentTokenFile" = c.services.compliance-agent.enrollmentTokenFile;
            "services.compliance-agent.breakglassPasswordFile" = c.services.compliance-agent.breakglassPasswordFile;
          }
          // lib.mapAttrs' (name: u: lib.nameValuePair "users.users.${name}.hashedPasswordFile" u.hashedPasswordFile) (
            lib.filterAttrs (_: u: u.hashedPasswordFile != null) c.users.users
          );
        sopsSecrets = builtins.mapAttrs (_: s: {
          inherit (s) path mode;
          owner = toString s.owner;
          group = toString s.group;
        }) (c.sops.secrets or { });
        # /run/current-system/sw/bin: the system profile's programs (restic-<job> wrappers...).
        profileBins = lib.unique (lib.concatMap (d: d.bins or [ ]) profile);
      };
in
{
  inherit lib pkgs nixosSystem report realModules;
}
