# Pure rendering functions (builtins only, no nixpkgs): the NixOS module calls them, and CI
# evaluates the very same files with nix-instantiate (nix/ci/render.nix) to check the results
# with nft, systemd-analyze and the agent's own config parser.
{
  agentConfig = import ./agent-config.nix;
  nftablesRuleset = import ./nftables.nix;
  units = import ./units.nix;
  baseline = import ./baseline.nix;
  nodeFlags = import ./node-flags.nix;
  bunRuntime = import ./bun-runtime.nix;
  artifacts = import ./artifacts.nix;
  defaults = import ./defaults.nix;
  assertions = import ./assertions.nix;
  programs = import ./programs.nix;
  secrets = import ./secrets.nix;
}
