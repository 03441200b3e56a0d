# CI's entry into the module's own pure functions (nix/lib): the test settings (JSON, in the
# module's option names) over the module's defaults, rendered exactly as the module renders them:
# the agent's config, the ruleset, the assertions and the baseline's settings. The unit files are
# checked as NixOS writes them, from the evaluator (nix/ci/nixos, nix/ci/nixos-units.test.ts).
#   nix-instantiate --eval --strict --json nix/ci/render.nix --argstr settingsJson '{...}'
{ settingsJson }:
let
  lib = import ../lib;
  given = builtins.fromJSON settingsJson;
  s =
    lib.defaults
    // given
    // {
      firewall = lib.defaults.firewall // (given.firewall or { });
      privilegedHelper = lib.defaults.privilegedHelper // (given.privilegedHelper or { });
    };
  a = lib.artifacts s;
  failed = builtins.filter (x: !x.assertion) (lib.assertions s);
  baseline = builtins.fromJSON (builtins.readFile ../baseline/hipaa-v1.json);
in
{
  # NixOS refuses to build when any of these is non-empty; the tests do the same.
  failedAssertions = map (x: x.message) failed;
  configJson = builtins.toJSON a.config;
  inherit (a) ruleset agentAddresses;
  nodeFlags = lib.nodeFlags;
  bunRuntime = lib.bunRuntime;
  baselineCoverage = lib.baseline.coverage;
  baselineSettings = lib.baseline.settings {
    b = baseline;
    inherit (s) backupJobs timeServers breakglassKeys breakglassPasswordFile;
  };
}
