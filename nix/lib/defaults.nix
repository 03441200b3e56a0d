# Default values of services.compliance-agent options that have one, shared by the module's
# option declarations and CI's rendering (nix/ci/render.nix), so both start from the same values.
let
  secrets = import ./secrets.nix;
in
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
  enrollmentTokenFile = secrets.files."enrollment/token".installed;
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
  breakglassPasswordFile = secrets.files.breakglass-password-hash.installed;
  timeServers = [
    "time.cloudflare.com"
    "nts.netnod.se"
  ];
}
