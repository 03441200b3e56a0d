# The packages each unit needs on its PATH, from the agent's registry of the programs it runs
# (agent/src/host/programs.json): nixpkgs' systemd gives a service only systemd's own bin, so a
# unit without these would not find logger, lsblk, nft, nixos-version... Pure: builtins only.
# resolve: package name -> package (the module passes the system's own systemd, nix, openssh).
resolve:
let
  registry = builtins.fromJSON (builtins.readFile ../../agent/src/host/programs.json);
  packagesOf =
    unit:
    let
      names = map (p: p.package) (builtins.attrValues registry.units.${unit});
      unique = builtins.foldl' (acc: n: if builtins.elem n acc then acc else acc ++ [ n ]) [ ] names;
    in
    map resolve unique;
in
builtins.mapAttrs (unit: _: map (p: "${p}/bin") (packagesOf unit)) registry.units
