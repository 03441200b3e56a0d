# Default values of services.compliance-agent options that have one, shared by the module's
# option declarations and CI's rendering (nix/ci/render.nix), so both start from the same values.
{
  stateDir = "/var/lib/compliance-agent";
  pollInterval = null;
  jitter = null;
  mode = "audit";
  auditOnlyChecks = [ ];
  maintenanceWindow = null;
  checkInterval = 300;
  criticalServices = null;
  backupJobs = [ ];
  expectedLuksVolumes = [ ];
  expectedSystem = null;
  enrollmentTokenFile = "/var/lib/compliance-agent-secrets/enrollment/token";
  egressAllowlist = [ ];
  firewall = {
    enable = true;
    managementNetworks = [ ];
  };
  privilegedHelper.enable = true;
  evidenceRetentionDays = 30;
  journalMaxMb = 1024;
  maxBackoff = 900;
  requestTimeout = 30;
  stepTimeout = 300;
  shutdownTimeout = 20;
  breakglassKeys = [ ];
  breakglassPasswordFile = "/var/lib/compliance-agent-secrets/breakglass-password-hash";
  timeServers = [
    "time.cloudflare.com"
    "nts.netnod.se"
  ];
}
