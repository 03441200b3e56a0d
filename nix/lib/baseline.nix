# The hipaa-v1 baseline made real: its toggle values (nix/baseline/hipaa-v1.json, rendered from
# baseline/hipaa-v1.yaml) become NixOS settings. Pure: builtins only, so CI evaluates the same
# function the module applies. Settings are plain values (normal priority): a site
# configuration that contradicts the baseline fails to evaluate instead of silently winning.
#
# `coverage` says, for every toggle, where it is made real; a test keeps it equal to the YAML.
let
  concat = builtins.concatStringsSep;
  # "7 daily, 5 weekly, 12 monthly" → [ "--keep-daily 7" "--keep-weekly 5" "--keep-monthly 12" ]
  pruneOpts =
    text:
    map (
      part:
      let
        m = builtins.match " *([0-9]+) (daily|weekly|monthly|yearly) *" part;
      in
      if m == null then
        throw "baseline backup-retention: cannot read '${part}' (use '<n> daily|weekly|monthly')"
      else
        "--keep-${builtins.elemAt m 1} ${builtins.elemAt m 0}"
    ) (builtins.filter builtins.isString (builtins.split "," text));
  stripService = unit: builtins.head (builtins.match "(.*)\\.service" unit);
in
{
  coverage = {
    ssh-password-auth-disabled = "nixos";
    ssh-root-login-disabled = "nixos";
    ssh-idle-timeout = "nixos";
    ssh-verbose-logging = "nixos";
    ssh-management-network-only = "ruleset";
    users-declarative = "nixos";
    root-password-locked = "nixos";
    sudo-reauthenticates = "nixos";
    unique-user-ids = "alert-only";
    emergency-access-account = "nixos";
    login-failure-alert = "module";
    ssh-modern-crypto = "nixos";
    agent-tls-min-version = "module";
    agent-certificate-renewal = "module";
    journald-persistent = "nixos";
    journald-max-use = "nixos";
    audit-rules-loaded = "nixos";
    nixos-expected-generation = "nixos";
    patch-age-max-days = "module";
    firewall-inbound-default-drop = "ruleset";
    firewall-egress-allowlist = "ruleset";
    luks-volumes-encrypted = "installer";
    swap-encrypted = "assertion";
    backup-daily = "nixos";
    backup-max-age-hours = "module";
    backup-encrypted-offsite = "assertion";
    backup-retention = "nixos";
    restore-test-weekly = "module";
    backup-integrity-verified = "nixos";
    time-sync-chrony = "nixos";
    time-max-offset = "module";
    critical-units-running = "nixos";
    unneeded-services-disabled = "nixos";
    disk-free-min-percent = "module";
    cpu-load-max = "module";
  };

  # b: the rendered baseline JSON; backupJobs: restic job names; timeServers: NTS servers;
  # breakglassKeys: SSH keys of the emergency account (held by the MSP under two-person control);
  # breakglassPasswordFile: its hashed password, written root-only by the installer.
  settings =
    {
      b,
      backupJobs,
      timeServers,
      breakglassKeys,
      breakglassPasswordFile,
    }:
    let
      t = b.toggles;
      idle = t.ssh-idle-timeout;
    in
    {
      services.openssh.settings = {
        PasswordAuthentication = t.ssh-password-auth-disabled;
        KbdInteractiveAuthentication = t.ssh-password-auth-disabled;
        PermitRootLogin = t.ssh-root-login-disabled;
        LogLevel = t.ssh-verbose-logging;
        # Idle sessions close after `idle` seconds; a dead client is dropped after 3 × idle/3.
        ChannelTimeout = "session=${toString idle}s";
        ClientAliveInterval = idle / 3;
        ClientAliveCountMax = 3;
        Ciphers = t.ssh-modern-crypto;
        # The toggle names the ciphers; its text fixes key exchange (curve25519 or post-quantum
        # hybrids) and MACs (encrypt-then-MAC only).
        KexAlgorithms = [
          "mlkem768x25519-sha256"
          "sntrup761x25519-sha512@openssh.com"
          "curve25519-sha256"
          "curve25519-sha256@libssh.org"
        ];
        Macs = [
          "hmac-sha2-512-etm@openssh.com"
          "hmac-sha2-256-etm@openssh.com"
          "umac-128-etm@openssh.com"
        ];
      };
      # The firewall is the module's own nftables ruleset (nix/lib/nftables.nix); the module turns
      # NixOS's own firewall off only when that ruleset replaces it (firewall.enable), so the host
      # is never left without one.
      services.openssh.openFirewall = false;
      networking.nftables.enable = true;

      users.mutableUsers = t.users-declarative;
      # The break-glass path: the baseline's emergency account is always there, in wheel, with
      # the hashed password the installer stored (root-only, never in the Nix store) so sudo,
      # which asks for it, works; plus the MSP's SSH keys when the site gives them. Root stays
      # locked, and NixOS's lock-out assertion holds because this wheel user can log in.
      users.users = {
        root.hashedPassword = t.root-password-locked;
        ${t.emergency-access-account} = {
          isNormalUser = true;
          extraGroups = [ "wheel" ];
          hashedPasswordFile = breakglassPasswordFile;
          openssh.authorizedKeys.keys = breakglassKeys;
        };
      };
      security.sudo.wheelNeedsPassword = t.sudo-reauthenticates;
      security.sudo.execWheelOnly = t.sudo-reauthenticates;

      services.journald.storage = t.journald-persistent;
      services.journald.extraConfig = "SystemMaxUse=${t.journald-max-use}";
      security.auditd.enable = t.audit-rules-loaded;
      security.audit.enable = t.audit-rules-loaded;
      security.audit.rules = [
        "-w /etc/passwd -p wa -k identity"
        "-w /etc/group -p wa -k identity"
        "-w /etc/shadow -p wa -k identity"
        "-w /etc/sudoers -p wa -k privilege"
        "-w /etc/sudoers.d -p wa -k privilege"
        "-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change"
        "-a always,exit -F arch=b64 -S execve -F euid=0 -F auid>=1000 -F auid!=unset -k privileged"
      ];

      # The appliance never upgrades itself: the MSP approves each generation.
      system.autoUpgrade.enable = t.nixos-expected-generation != "expected";

      services.chrony = {
        enable = t.time-sync-chrony;
        enableNTS = t.time-sync-chrony;
        servers = timeServers;
      };
      services.timesyncd.enable = !t.time-sync-chrony;

      systemd.services = builtins.listToAttrs (
        map (unit: {
          name = stripService unit;
          # What lib.mkDefault writes: a unit whose own module already restarts it (sshd:
          # always) keeps that, which also restarts on failure.
          value.serviceConfig.Restart = {
            _type = "override";
            priority = 1000;
            content = "on-failure";
          };
        }) (builtins.filter (u: u != "systemd-journald.service") t.critical-units-running)
      );

      services.printing.enable = t.unneeded-services-disabled;
      services.avahi.enable = t.unneeded-services-disabled;
      services.xserver.enable = t.unneeded-services-disabled;

      services.restic.backups = builtins.listToAttrs (
        map (job: {
          name = job;
          value = {
            timerConfig = {
              OnCalendar = t.backup-daily;
              Persistent = true;
              RandomizedDelaySec = "1h";
            };
            pruneOpts = pruneOpts t.backup-retention;
            runCheck = t.backup-integrity-verified;
            checkOpts = [ "--read-data-subset=5%" ];
          };
        }) backupJobs
      );
    };
}
