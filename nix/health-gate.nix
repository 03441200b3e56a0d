# The upgrade health gate: after the appliance boots into (or switches to) a generation it has
# not yet seen healthy, the gate waits for the agent and the baseline's critical units; if they
# are not all active within the timeout, it rolls the system profile back to the previous
# generation and switches to it. A generation that passed is remembered, so a plain reboot
# never rolls back. The agent records the generation change as evidence on its next cycle.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.appliance.healthGate;
  stateDir = "/var/lib/compliance-agent-health-gate";
  gate = pkgs.writeShellApplication {
    name = "compliance-agent-health-gate";
    runtimeInputs = [
      config.systemd.package
      config.nix.package
      pkgs.coreutils
    ];
    text = ''
      current=$(readlink -f /run/current-system)
      good_file=${stateDir}/good-system
      if [ -f "$good_file" ] && [ "$(cat "$good_file")" = "$current" ]; then
        echo "health gate: $current already passed"
        exit 0
      fi
      deadline=$(( $(date +%s) + ${toString cfg.timeoutSeconds} ))
      while :; do
        failed=""
        for unit in ${lib.escapeShellArgs cfg.units}; do
          systemctl is-active --quiet "$unit" || failed="$failed $unit"
        done
        if [ -z "$failed" ]; then
          mkdir -p ${stateDir}
          printf '%s\n' "$current" > "$good_file.tmp"
          mv "$good_file.tmp" "$good_file"
          echo "health gate: $current is healthy"
          exit 0
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
        sleep 5
      done
      echo "health gate: not active after ${toString cfg.timeoutSeconds} s:$failed; rolling back" >&2
      if [ ! -f "$good_file" ]; then
        echo "health gate: no generation has passed yet (first boot); not rolling back" >&2
        exit 1
      fi
      nix-env --profile /nix/var/nix/profiles/system --rollback
      # In its own transient unit, so the switch survives the gate being stopped by it.
      systemd-run --unit=compliance-agent-rollback --collect --no-block \
        /nix/var/nix/profiles/system/bin/switch-to-configuration switch
      exit 1
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
        StateDirectory = "compliance-agent-health-gate";
      };
    };
    # A switch without a reboot replaces /run/current-system: gate that generation too.
    systemd.paths.compliance-agent-health-gate = {
      wantedBy = [ "multi-user.target" ];
      pathConfig.PathChanged = "/run/current-system";
    };
  };
}
