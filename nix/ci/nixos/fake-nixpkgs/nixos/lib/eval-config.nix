# Stands in for nixpkgs' nixos/lib/eval-config.nix when the evaluator (../../../eval.nix) plays
# nixpkgs: the project's VM tests import it by path from `pkgs.path`. The oracle's location comes
# from the environment because an import by path cannot pass it.
args:
let
  oracle = builtins.getEnv "NIXOS_ORACLE";
in
if oracle == "" then
  throw "set NIXOS_ORACLE to the nixos-oracle folder (the evaluator's tests do)"
else
  (import ../../../eval.nix { oracle = /. + oracle; }).nixosSystem args
