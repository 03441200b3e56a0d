# The systemd units of the appliance agent and its privileged helper, as data (sections of
# key → list of values) plus the renderer to unit-file text. Pure: builtins only. The NixOS module
# installs exactly this text (systemd.units.<name>.text); CI renders the same text and runs
# `systemd-analyze verify` and `systemd-analyze security --offline=true` on it.
let
  concat = builtins.concatStringsSep;

  # Sections in unit-file order; each value is a list so a key can repeat in order
  # (SystemCallFilter= allow-list first, then the ~deny-list that narrows it).
  render =
    sections:
    concat "\n" (
      map (
        section:
        let
          body = sections.${section};
          keys = builtins.attrNames body;
          line = key: value: "${key}=${toString value}";
        in
        "[${section}]\n"
        + concat "" (map (key: concat "" (map (value: line key value + "\n") body.${key})) keys)
      ) (builtins.filter (section: sections ? ${section}) [ "Unit" "Service" "Socket" "Install" ])
    );

  stateDirectoryName =
    stateDir:
    let
      m = builtins.match "/var/lib/([A-Za-z0-9._-]+)" stateDir;
    in
    if m == null then
      throw "services.compliance-agent.stateDir must be one folder under /var/lib (systemd's StateDirectory=), not ${stateDir}"
    else
      builtins.head m;

  socketPath = "/run/compliance-agent-privileged.sock";

  # Shared by both services: what costs them nothing.
  common = {
    NoNewPrivileges = [ "yes" ];
    LockPersonality = [ "yes" ];
    RestrictRealtime = [ "yes" ];
    SystemCallArchitectures = [ "native" ];
    SystemCallErrorNumber = [ "EPERM" ];
    KeyringMode = [ "private" ];
    UMask = [ "0077" ];
  };
in
{
  inherit render socketPath;
  user = "compliance-agent";
  group = "compliance-agent";

  # The agent: unprivileged static user, every sandbox switch the agent's work survives.
  # s: execStart (list), configFile, stateDir, siteId, stepTimeout, shutdownTimeout,
  #    allowedAddresses (egress of this unit only), enrollmentTokenFile (or null), path.
  agent = s: {
    Unit = {
      Description = [ "MSP compliance agent (site ${s.siteId})" ];
      Wants = [ "network-online.target" ];
      After = [
        "network-online.target"
        "nss-lookup.target"
        "time-sync.target"
        "compliance-agent-privileged.socket"
      ];
      StartLimitIntervalSec = [ "0" ];
    };
    Service = common // {
      Type = [ "notify" ];
      # The READY/WATCHDOG notifications come from a systemd-notify child.
      NotifyAccess = [ "all" ];
      # The JSON log (stdout) goes to the journal; the agent's few plain lines for the person at
      # the appliance (stderr: the evidence key id at enrollment) also go to the console.
      StandardError = [ "journal+console" ];
      ExecStart = [ (concat " " (s.execStart ++ [ "--config" s.configFile ])) ];
      User = [ "compliance-agent" ];
      Group = [ "compliance-agent" ];
      # journalctl for the logging check reads the system journal through this group.
      SupplementaryGroups = [ "systemd-journal" ];
      StateDirectory = [ (stateDirectoryName s.stateDir) ];
      StateDirectoryMode = [ "0700" ];
      Restart = [ "always" ];
      RestartSec = [ "10s" ];
      # Above step_timeout_s (the agent pings between steps) and shutdown_timeout_s + 5.
      WatchdogSec = [ "${toString (s.stepTimeout + 60)}s" ];
      TimeoutStopSec = [ "${toString (s.shutdownTimeout + 10)}s" ];
      KillSignal = [ "SIGTERM" ];
      CapabilityBoundingSet = [ "" ];
      AmbientCapabilities = [ "" ];
      ProtectSystem = [ "strict" ];
      ProtectHome = [ "yes" ];
      PrivateTmp = [ "yes" ];
      PrivateDevices = [ "yes" ];
      DevicePolicy = [ "closed" ];
      ProtectKernelTunables = [ "yes" ];
      ProtectKernelModules = [ "yes" ];
      ProtectKernelLogs = [ "yes" ];
      ProtectControlGroups = [ "yes" ];
      ProtectClock = [ "yes" ];
      ProtectHostname = [ "yes" ];
      ProtectProc = [ "invisible" ];
      RestrictNamespaces = [ "yes" ];
      RestrictSUIDSGID = [ "yes" ];
      RemoveIPC = [ "yes" ];
      # Bun runs without its JIT (nix/lib/bun-runtime.nix) and Node with --jitless
      # (nix/lib/node-flags.nix), so neither asks for W+X memory.
      MemoryDenyWriteExecute = [ "yes" ];
      RestrictAddressFamilies = [ "AF_UNIX AF_INET AF_INET6" ];
      SystemCallFilter = [
        "@system-service"
        "~@privileged"
      ];
      IPAddressDeny = [ "any" ];
      IPAddressAllow = [ (concat " " ([ "localhost" ] ++ s.allowedAddresses)) ];
      # systemd gives a unit no PATH beyond its own bin: the packages of every program the agent
      # runs (nix/lib/programs.nix, from the agent's registry).
      Environment = [
        "PATH=${concat ":" s.path}"
      ]
      ++ (
        if s.enrollmentTokenFile == null then
          [ ]
        else
          [ "COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH=%d/enrollment_${baseNameOf s.enrollmentTokenFile}" ]
      );
    }
    // (
      if s.enrollmentTokenFile == null then
        { }
      else
        {
          # The token's folder, not the file: systemd loads every file of a folder (none when the
          # installer skipped the token, and the agent then waits for an operator's approval),
          # while a missing file would fail the unit with 243/CREDENTIALS at every start. The
          # folder stays root-only; systemd hands the agent a private copy.
          LoadCredential = [ "enrollment:${dirOf s.enrollmentTokenFile}" ];
        }
    );
    Install = {
      WantedBy = [ "multi-user.target" ];
    };
  };

  # The privileged helper's socket (contracts: root-owned, group compliance-agent, 0660).
  helperSocket = {
    Unit = {
      Description = [ "MSP compliance agent: privileged helper socket" ];
    };
    Socket = {
      ListenStream = [ socketPath ];
      SocketMode = [ "0660" ];
      SocketUser = [ "root" ];
      SocketGroup = [ "compliance-agent" ];
      Accept = [ "no" ];
      RemoveOnStop = [ "yes" ];
    };
    Install = {
      WantedBy = [ "sockets.target" ];
    };
  };

  # The weekly test restore of one backup job (the agent's restore-test subcommand), started by
  # the helper as compliance-restore-test@<files>-<job>.service (agent/src/restore-test/). Root,
  # because only root reads the repository password; network, because the repository is
  # off-site; a private /tmp for the scratch copy; the rest of the system read-only except the
  # record it writes into the agent's state folder.
  # s: execStart (list), configFile, stateDir, path (folders for PATH).
  restoreTest = s: {
    Unit = {
      Description = [ "MSP compliance agent: test restore %i" ];
    };
    Service = common // {
      Type = [ "oneshot" ];
      ExecStart = [
        (concat " " (
          s.execStart
          ++ [
            "restore-test"
            "--config"
            s.configFile
            "--instance"
            "%i"
          ]
        ))
      ];
      User = [ "root" ];
      Environment = [
        "PATH=${concat ":" s.path}"
        "RESTIC_CACHE_DIR=/var/cache/compliance-restore-test"
      ];
      CacheDirectory = [ "compliance-restore-test" ];
      ProtectSystem = [ "strict" ];
      ReadWritePaths = [ s.stateDir ];
      ProtectHome = [ "read-only" ];
      PrivateTmp = [ "yes" ];
      PrivateDevices = [ "yes" ];
      ProtectKernelTunables = [ "yes" ];
      ProtectKernelModules = [ "yes" ];
      ProtectKernelLogs = [ "yes" ];
      ProtectControlGroups = [ "yes" ];
      ProtectClock = [ "yes" ];
      ProtectHostname = [ "yes" ];
      CapabilityBoundingSet = [ "CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_CHOWN CAP_FOWNER" ];
      RestrictAddressFamilies = [ "AF_UNIX AF_INET AF_INET6" ];
      RestrictNamespaces = [ "yes" ];
      # @privileged holds chown, which restic restore calls to give each file its owner: allowed
      # back after the deny-list (CAP_CHOWN above is useless without the system call).
      SystemCallFilter = [
        "@system-service"
        "~@privileged @resources"
        "@chown"
      ];
      TimeoutStartSec = [ "2h" ];
    };
  };

  # The privileged helper: root, because its allowlisted commands (systemctl restart, nft -f,
  # switch-to-configuration, cryptsetup status, journalctl --vacuum-size, restic restore,
  # nix-collect-garbage) act on the whole host. It keeps only the capabilities those commands
  # use (docs/appliance.md lists why each one), and takes no mount-namespacing option
  # (ProtectSystem=, PrivateTmp=, Protect*=...): switch-to-configuration must change the
  # host's own /etc, /boot, /run and mount table, which a private mount namespace would hide.
  # s: execStart (list), configFile, path (folders for PATH).
  helper = s: {
    Unit = {
      Description = [ "MSP compliance agent: privileged helper (allowlisted root actions only)" ];
      Requires = [ "compliance-agent-privileged.socket" ];
      After = [ "compliance-agent-privileged.socket" ];
    };
    Service = common // {
      Type = [ "simple" ];
      ExecStart = [
        (concat " " (
          s.execStart
          ++ [
            "privileged-helper"
            "--config"
            s.configFile
          ]
        ))
      ];
      User = [ "root" ];
      Environment = [ "PATH=${concat ":" s.path}" ];
      CapabilityBoundingSet = [
        (concat " " [
          "CAP_NET_ADMIN"
          "CAP_SYS_ADMIN"
          "CAP_DAC_OVERRIDE"
          "CAP_DAC_READ_SEARCH"
          "CAP_CHOWN"
          "CAP_FOWNER"
          "CAP_FSETID"
          "CAP_SETUID"
          "CAP_SETGID"
          "CAP_KILL"
        ])
      ];
      RestrictAddressFamilies = [ "AF_UNIX AF_NETLINK AF_INET AF_INET6" ];
      RestrictNamespaces = [ "yes" ];
      SystemCallFilter = [ "~@clock @cpu-emulation @debug @module @obsolete @raw-io @reboot @swap" ];
      Restart = [ "on-failure" ];
      TimeoutStopSec = [ "30s" ];
    };
  };
}
