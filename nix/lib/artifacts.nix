# Everything the module deploys that CI can check, from one set of resolved settings: the
# module's option values plus the store paths it resolved (agentExecutable, configFile,
# catalogDir, agentPath, helperPath, restoreTestPath, firewallRulesetPath). The module and nix/ci/render.nix both call this.
s:
let
  units = import ./units.nix;
  agentConfig = import ./agent-config.nix;
  # The agent itself may reach only these allowlist entries; NTP, backups and the Nix cache are
  # for other units (chronyd, restic), so the agent's own unit denies them.
  agentPurposes = [
    "control-plane"
    "worm"
    "dns"
  ];
  # One entry per address: DNS over UDP and TCP to one resolver is one address to allow.
  agentAddresses = builtins.foldl' (kept: a: if builtins.elem a kept then kept else kept ++ [ a ]) [ ] (
    map (e: e.address) (builtins.filter (e: builtins.elem e.purpose agentPurposes) s.egressAllowlist)
  );
  execStart = [ s.agentExecutable ];
  privilegedSocketPath = if s.privilegedHelper.enable then units.socketPath else null;
in
{
  config = agentConfig (s // { inherit privilegedSocketPath; });
  ruleset = import ./nftables.nix s;
  inherit agentAddresses;
  units = {
    "compliance-agent.service" = units.agent {
      inherit execStart;
      inherit (s)
        configFile
        stateDir
        siteId
        stepTimeout
        shutdownTimeout
        enrollmentTokenFile
        ;
      allowedAddresses = agentAddresses;
      path = s.agentPath;
    };
  }
  // (
    if s.privilegedHelper.enable then
      {
        "compliance-agent-privileged.socket" = units.helperSocket;
        "compliance-agent-privileged.service" = units.helper {
          inherit execStart;
          inherit (s) configFile;
          path = s.helperPath;
        };
        "compliance-restore-test@.service" = units.restoreTest {
          inherit execStart;
          inherit (s) configFile stateDir;
          path = s.restoreTestPath;
        };
      }
    else
      { }
  );
  renderUnit = units.render;
}
