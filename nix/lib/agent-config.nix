# The agent's config.json (agent/src/config.ts, AgentConfig) from the module's option values.
# Pure: builtins only, so the NixOS module and CI (nix-instantiate) render the same bytes.
# `s` has the module's option names (camelCase) plus `catalogDir`, `privilegedSocketPath` and
# `firewallRulesetPath` resolved by the caller (null when absent). The enrollment token is not
# here: the unit passes it as a systemd credential (units.nix).
s:
let
  ifSet = name: value: if value == null then { } else { ${name} = value; };
  window = w: {
    inherit (w) days start;
    duration_minutes = w.durationMinutes;
    time_zone = w.timeZone;
  };
in
{
  control_plane_url = s.controlPlaneUrl;
  order_signing_public_key = s.controlPlanePublicKey;
  ca_bundle_path = s.caFile;
  state_dir = s.stateDir;
  evidence_key_path = "${s.stateDir}/evidence-key.pem";
  tls_key_path = "${s.stateDir}/tls-key.pem";
  max_backoff_s = s.maxBackoff;
  request_timeout_s = s.requestTimeout;
  step_timeout_s = s.stepTimeout;
  retention_days = s.evidenceRetentionDays;
  journal_max_mb = s.journalMaxMb;
  shutdown_timeout_s = s.shutdownTimeout;
  host = {
    backup_jobs = s.backupJobs;
    luks_volumes = s.expectedLuksVolumes;
  }
  // ifSet "expected_system" s.expectedSystem
  // ifSet "critical_services" s.criticalServices
  // ifSet "firewall_ruleset_path" s.firewallRulesetPath;
  healing = {
    inherit (s) mode;
    audit_only_checks = s.auditOnlyChecks;
    check_interval_s = s.checkInterval;
  }
  // (if s.maintenanceWindow == null then { } else { maintenance_window = window s.maintenanceWindow; });
}
// ifSet "catalog_dir" s.catalogDir
// ifSet "privileged_socket_path" s.privilegedSocketPath
// ifSet "poll_interval_s" s.pollInterval
// ifSet "poll_jitter" s.jitter
