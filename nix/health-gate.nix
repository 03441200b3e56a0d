# The upgrade health gate: after the appliance boots into (or switches to) a generation it has
# not yet seen healthy, the gate waits for the agent and the baseline's critical units; if they
# are not all active within the timeout, it rolls back to the generation that last passed (the
# profile set to that system path, as the agent's runbook does) and switches to it. A generation
# that passed is remembered, so a plain reboot never rolls back. The agent records the
# generation change as evidence on its next cycle. The script is ./health-gate.sh.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.appliance.healthGate;
  # The record of the last system that passed, shared with the agent's nixos.rollback.
  goodSystem = (builtins.fromJSON (builtins.readFile ../agent/src/host/health-gate.json)).goodSystemRecord;
  stateDirectory = builtins.head (builtins.match "/var/lib/([^/]+)/[^/]+" goodSystem);
  gate = pkgs.writeShellApplication {
    name = "compliance-agent-health-gate";
    runtimeInputs = [
      config.systemd.package
      config.nix.package
      pkgs.coreutils
    ];
    text = ''
      export GATE_GOOD_SYSTEM=${goodSystem} GATE_CURRENT=/run/current-system
      export GATE_PROFILE=/nix/var/nix/profiles/system GATE_TIMEOUT=${toString cfg.timeoutSeconds}
      set -- ${lib.escapeShellArgs cfg.units}
      ${builtins.readFile ./health-gate.sh}
    '';
  };
in
{
  options.appliance.healthGate = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Roll back automatically when a new generation is not healthy in time.";
    };
    timeoutSeconds = lib.mkOption {
      type = lib.types.ints.between 30 3600;
      default = 600;
      description = "How long a new generation has to bring every gated unit up.";
    };
    units = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [
        "compliance-agent.service"
        "sshd.service"
        "chronyd.service"
        "auditd.service"
        "nftables.service"
        "systemd-journald.service"
      ];
      description = "Units that must be active for a generation to pass.";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.compliance-agent-health-gate = {
      description = "Upgrade health gate (rolls back an unhealthy generation)";
      wantedBy = [ "multi-user.target" ];
      after = [ "multi-user.target" ];
      # Not restarted by switch-to-configuration itself: the path unit below starts it.
      restartIfChanged = false;
      serviceConfig = {
        Type = "oneshot";
        ExecStart = lib.getExe gate;
        TimeoutStartSec = cfg.timeoutSeconds + 60;
        StateDirectory = stateDirectory;
      };
    };
    # The gate's script, for inspection (nix build .#nixosConfigurations.<site>.config.system.build.healthGate).
    system.build.healthGate = gate;
    # A switch without a reboot replaces /run/current-system: gate that generation too.
    systemd.paths.compliance-agent-health-gate = {
      wantedBy = [ "multi-user.target" ];
      pathConfig.PathChanged = "/run/current-system";
    };
  };
}
