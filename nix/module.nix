# services.compliance-agent: the MSP compliance agent on a NixOS appliance.
#
# What it deploys is rendered by the pure functions in ./lib (builtins only), which CI evaluates
# on test values and checks with nft, systemd-analyze and the agent's own config parser
# (nix/ci/*.test.ts): the agent's config file, its systemd unit and the privileged helper's
# socket and service (installed as unit text, byte for byte), the host's nftables ruleset, and
# the hipaa-v1 baseline's NixOS settings (from nix/baseline/hipaa-v1.json, rendered from
# baseline/hipaa-v1.yaml). docs/appliance.md explains the design.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    mkMerge
    types
    ;
  cfg = config.services.compliance-agent;
  own = import ./lib;
  d = own.defaults;
  baselineData = builtins.fromJSON (builtins.readFile ./baseline/hipaa-v1.json);
  toggle = id: baselineData.toggles.${id};

  absolutePath = types.strMatching "/.+" // {
    description = "absolute path";
  };
  cidr = types.strMatching "[0-9a-fA-F.:]+(/[0-9]{1,3})?" // {
    description = "IPv4 or IPv6 address or CIDR";
  };
  checkIds = [
    "patching"
    "services"
    "logging"
    "firewall"
    "encryption"
    "backups"
  ];
  weekdays = [
    "mon"
    "tue"
    "wed"
    "thu"
    "fri"
    "sat"
    "sun"
  ];

  egressEntry = types.submodule {
    options = {
      address = mkOption {
        type = cidr;
        example = "203.0.113.10";
        description = "Destination address or network (nftables rules and systemd IPAddressAllow= take addresses, not names).";
      };
      protocol = mkOption {
        type = types.enum [
          "tcp"
          "udp"
        ];
        default = "tcp";
        description = "Transport protocol.";
      };
      ports = mkOption {
        type = types.nonEmptyListOf types.port;
        example = [ 443 ];
        description = "Destination ports.";
      };
      purpose = mkOption {
        type = types.enum [
          "control-plane"
          "worm"
          "dns"
          "ntp"
          "backup"
          "nix-cache"
          "other"
        ];
        description = ''
          Why the appliance talks to it. The agent's own unit may reach only control-plane,
          worm and dns entries (IPAddressAllow=); the others are for chronyd, restic and nix.
        '';
      };
    };
  };

  readOnlyBaseline = id: type: description: mkOption {
    inherit type description;
    default = toggle id;
    readOnly = true;
  };

  configFile = pkgs.writeText "compliance-agent-config.json" (builtins.toJSON artifacts.config);
  rulesetFile = pkgs.writeText "compliance-agent-nftables.nft" artifacts.ruleset;

  # The baseline ruleset as `nft -j list ruleset` prints it once loaded (the form the firewall
  # check compares with): loaded into a throw-away network namespace at build time, the same
  # steps CI runs in nix/ci/netns.test.ts. /etc/protocols and /etc/services come from iana-etc.
  rulesetJson =
    pkgs.runCommand "compliance-agent-nftables.json"
      {
        nativeBuildInputs = [
          pkgs.nftables
          pkgs.util-linux
        ];
      }
      ''
        export NIX_REDIRECTS=/etc/protocols=${pkgs.iana-etc}/etc/protocols:/etc/services=${pkgs.iana-etc}/etc/services
        export LD_PRELOAD=${pkgs.libredirect}/lib/libredirect.so
        unshare --net --map-root-user sh -c 'nft -f ${rulesetFile} && nft -j list ruleset' > $out
      '';

  # Resolved settings: the option values plus what the module derives from its package.
  settings = cfg // {
    agentExecutable = lib.getExe cfg.package;
    configFile = "${configFile}";
    catalogDir = if cfg.catalogDir == null then null else "${cfg.catalogDir}";
    firewallRulesetPath = if cfg.firewall.enable then "${rulesetJson}" else null;
    agentPath = programPath."compliance-agent.service";
    helperPath =
      programPath."compliance-agent-privileged.service"
      ++ map (p: "${p}/bin") cfg.privilegedHelper.extraPackages
      # Last: NixOS's per-job restic-<job> wrappers (repository and password file) live only in
      # the system profile; the helper runs nothing but its allowlisted argv shapes anyway.
      ++ [ "/run/current-system/sw/bin" ];
    restoreTestPath = programPath."compliance-restore-test@.service" ++ [ "/run/current-system/sw/bin" ];
    maintenanceWindow = cfg.maintenanceWindow;
  };
  artifacts = own.artifacts settings;

  # Each unit's PATH: the packages of the programs it runs (the agent's registry).
  programPath = own.programs (
    name:
    {
      systemd = config.systemd.package;
      nix = config.nix.package;
      openssh = config.services.openssh.package;
      nixos-version = config.system.build.nixos-version;
    }
    .${name} or pkgs.${name}
  );
in
{
  options.services.compliance-agent = {
    enable = mkEnableOption "the MSP compliance agent (pull-only; signed, hash-chained evidence)";

    package = mkOption {
      type = types.package;
      description = "The agent package (the flake's packages.compliance-agent): bin/compliance-agent and the catalog.";
    };

    siteId = mkOption {
      type = types.strMatching "[a-z0-9][a-z0-9-]{0,62}";
      example = "example-dental";
      description = ''
        The clinic's site id as the operator's Pulumi stack names it. Shown in the unit's
        description and the console; enrollment itself finds the site by MAC address and proves
        itself with the enrollment token or an operator's approval, never by this name.
      '';
    };

    controlPlaneUrl = mkOption {
      type = types.str;
      example = "https://cp.example.net";
      description = "https://host[:port] of the control plane; the agent contacts nothing else.";
    };

    controlPlanePublicKey = mkOption {
      type = types.str;
      description = "The control plane's Ed25519 order-signing key, raw 32 bytes in base64 (44 characters). Every enrollment answer, poll response, order and receipt must verify with it.";
    };

    caFile = mkOption {
      type = types.path;
      description = "PEM bundle of the CA(s) that may sign the control plane's server certificate (system CAs are never used).";
    };

    enrollmentTokenFile = mkOption {
      type = types.nullOr absolutePath;
      default = d.enrollmentTokenFile;
      example = "/var/lib/compliance-agent-secrets/enrollment-token";
      description = ''
        Root-only file holding the one-time enrollment token (a Pulumi stack secret), alone in
        its folder. Never a store path: the unit loads the folder as systemd credentials
        (LoadCredential=), so a token the installer skipped leaves it empty and enrollment waits
        for an operator's approval of the key fingerprint shown on the console.
      '';
    };

    stateDir = mkOption {
      type = absolutePath;
      default = d.stateDir;
      description = "The agent's journal, keys, enrollment and status (one folder under /var/lib, mode 0700).";
    };

    pollInterval = mkOption {
      type = types.nullOr (types.ints.between 1 3600);
      default = d.pollInterval;
      description = "Local override of the poll period in seconds; null: the control plane's signed settings (60 s).";
    };

    jitter = mkOption {
      type = types.nullOr types.float;
      default = d.jitter;
      example = 0.1;
      description = "Uniform jitter of the poll period (0.1 = ±10 %, at most 0.5); null: signed settings.";
    };

    maxBackoff = mkOption {
      type = types.ints.between 1 86400;
      default = d.maxBackoff;
      description = "Longest wait in seconds between contact attempts while the control plane is unreachable.";
    };

    requestTimeout = mkOption {
      type = types.ints.between 1 600;
      default = d.requestTimeout;
      description = "Each HTTPS request is cut off after this many seconds.";
    };

    stepTimeout = mkOption {
      type = types.ints.between 1 3600;
      default = d.stepTimeout;
      description = "Each check or runbook step is cut off after this many seconds (the unit's WatchdogSec= is 60 s more).";
    };

    shutdownTimeout = mkOption {
      type = types.ints.between 1 300;
      default = d.shutdownTimeout;
      description = "After SIGTERM the current step may take this long before the agent exits anyway.";
    };

    mode = mkOption {
      type = types.enum [
        "audit"
        "enforce"
      ];
      default = d.mode;
      description = ''
        audit: detect drift and record evidence, never change the host. enforce: also heal
        through the catalog's runbooks (L1 rules, signed orders), via the privileged helper.
        Turn enforcement on deliberately, after the first audits look right.
      '';
    };

    auditOnlyChecks = mkOption {
      type = types.listOf (types.enum checkIds);
      default = d.auditOnlyChecks;
      description = "Checks whose drift is recorded but never healed, whatever the mode.";
    };

    maintenanceWindow = mkOption {
      default = d.maintenanceWindow;
      description = "When disruptive runbooks (a generation switch) may run; null: never automatically (each is recorded as deferred).";
      type = types.nullOr (
        types.submodule {
          options = {
            days = mkOption {
              type = types.listOf (types.enum weekdays);
              example = [
                "sat"
                "sun"
              ];
              description = "Days the window opens on.";
            };
            start = mkOption {
              type = types.str;
              example = "02:00";
              description = "Local start time, 24-hour HH:MM.";
            };
            durationMinutes = mkOption {
              type = types.int;
              default = 120;
              description = "Length of the window (15 to 1440 minutes).";
            };
            timeZone = mkOption {
              type = types.str;
              example = "America/Chicago";
              description = "IANA time zone of the clinic.";
            };
          };
        }
      );
    };

    checkInterval = mkOption {
      type = types.ints.between 10 86400;
      default = d.checkInterval;
      description = "How often, in seconds, the six drift checks run.";
    };

    criticalServices = mkOption {
      type = types.nullOr (types.listOf types.str);
      default = d.criticalServices;
      example = [
        "sshd.service"
        "postgresql.service"
      ];
      description = "Units that must be active; null: the baseline's critical-units-running list.";
    };

    backupJobs = mkOption {
      type = types.listOf types.str;
      default = d.backupJobs;
      example = [ "clinic-data" ];
      description = ''
        services.restic.backups jobs the agent checks (freshness, test restores). With
        baseline.enable, the baseline's schedule, retention and integrity check are applied to
        them; their repository and password stay the site's.
      '';
    };

    expectedLuksVolumes = mkOption {
      type = types.listOf types.str;
      default = d.expectedLuksVolumes;
      example = [ "cryptroot" ];
      description = "LUKS mappings (boot.initrd.luks.devices names) that must be open.";
    };

    expectedSystem = mkOption {
      type = types.nullOr types.str;
      default = d.expectedSystem;
      description = "The system store path the MSP approved; null: not compared locally (the control plane's signed expectation applies).";
    };

    catalogDir = mkOption {
      type = types.nullOr types.path;
      default = "${cfg.package}/${cfg.package.catalogDir or "share/compliance-agent/catalog"}";
      defaultText = lib.literalExpression ''"''${cfg.package}/share/compliance-agent/catalog"'';
      description = "Folder with baseline/ and runbooks/: the local runbook allowlist. Required in enforce mode.";
    };

    evidenceRetentionDays = mkOption {
      type = types.ints.between 0 3650;
      default = d.evidenceRetentionDays;
      description = "Receipted evidence is kept locally this long; unreceipted evidence is never pruned. (The WORM copy is kept six years by the control plane.)";
    };

    journalMaxMb = mkOption {
      type = types.ints.positive;
      default = d.journalMaxMb;
      description = "Cap on the local evidence journal, MiB.";
    };

    egressAllowlist = mkOption {
      type = types.listOf egressEntry;
      default = d.egressAllowlist;
      description = "Everything the appliance may send to. The output chain drops the rest; the agent's unit narrows it further to control-plane, worm and dns entries.";
    };

    firewall = {
      enable = mkOption {
        type = types.bool;
        default = d.firewall.enable;
        description = "Install the baseline nftables ruleset (inbound and outbound default drop) as the host's whole firewall.";
      };
      managementNetworks = mkOption {
        type = types.listOf cidr;
        default = d.firewall.managementNetworks;
        example = [ "10.20.0.0/24" ];
        description = "The MSP management networks SSH (port 22) is reachable from; empty: SSH is not reachable at all.";
      };
    };

    privilegedHelper = {
      enable = mkOption {
        type = types.bool;
        default = d.privilegedHelper.enable;
        description = "Run the privileged helper (root, socket-activated, allowlisted actions only). Without it the agent changes nothing that needs root.";
      };
      extraPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
        description = "More packages on the helper's PATH (its allowlisted commands come from systemd, nftables, cryptsetup, restic, nix and coreutils).";
      };
    };

    baseline.enable = mkOption {
      type = types.bool;
      default = true;
      description = "Apply the hipaa-v1 baseline's NixOS settings (SSH, accounts, journald, auditd, chrony, upgrades, backups, services).";
    };

    timeServers = mkOption {
      type = types.nonEmptyListOf types.str;
      default = d.timeServers;
      description = "NTS-capable time servers for chrony (their addresses belong in egressAllowlist with purpose ntp, TCP 4460 and UDP 123).";
    };

    breakglassKeys = mkOption {
      type = types.listOf types.str;
      default = d.breakglassKeys;
      description = "SSH public keys of the baseline's emergency account (msp-breakglass), held by the MSP under two-person control. Empty: console login only.";
    };

    breakglassPasswordFile = mkOption {
      type = absolutePath;
      default = d.breakglassPasswordFile;
      description = ''
        Root-only file with the crypt(3) hash (yescrypt or SHA-512) of the emergency account's
        password, written by the installer (never a store path). The account logs in with it on
        the console (or with breakglassKeys over SSH) and sudo asks for it.
      '';
    };

    # Baseline values the agent reads from the catalog itself; shown here, not settable, so the
    # baseline stays the one source.
    tls.minVersion = readOnlyBaseline "agent-tls-min-version" types.str "Lowest TLS version the agent accepts (baseline agent-tls-min-version).";
    tls.renewBeforeDays = readOnlyBaseline "agent-certificate-renewal" types.int "Days before expiry the mTLS certificate is renewed (baseline agent-certificate-renewal).";
    checks.patching.maxAgeDays = readOnlyBaseline "patch-age-max-days" types.int "Oldest acceptable generation, days (baseline patch-age-max-days).";
    checks.backups.maxAgeHours = readOnlyBaseline "backup-max-age-hours" types.int "Oldest acceptable good backup, hours (baseline backup-max-age-hours).";
    checks.backups.restoreTestMaxAgeDays = readOnlyBaseline "restore-test-weekly" types.int "Longest time between passing test restores, days (baseline restore-test-weekly).";
    checks.logging.maxClockOffsetMs = readOnlyBaseline "time-max-offset" types.int "Largest acceptable clock offset, ms (baseline time-max-offset).";
    checks.logging.loginFailureThreshold = readOnlyBaseline "login-failure-alert" types.int "Failed logins in 15 minutes that raise an alert (baseline login-failure-alert).";
    checks.services.minDiskFreePercent = readOnlyBaseline "disk-free-min-percent" types.int "Free space every volume keeps, percent (baseline disk-free-min-percent).";
    checks.services.maxLoadPerCore = readOnlyBaseline "cpu-load-max" types.number "Highest sustained 15-minute load per core (baseline cpu-load-max).";
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions =
        own.assertions settings
        ++ map (
          job:
          let
            # The baseline's schedule creates the job's attribute either way: ask for a repository.
            backup = config.services.restic.backups.${job} or { };
          in
          {
            assertion = (backup.repository or null) != null || (backup.repositoryFile or null) != null;
            message = "services.compliance-agent.backupJobs names ${job}, but services.restic.backups.${job} has no repository (or repositoryFile).";
          }
        ) cfg.backupJobs
        # A secret in the Nix store is readable by every user and copied with every closure.
        ++ lib.concatMap (
          job:
          map
            (field: {
              assertion =
                let
                  value = config.services.restic.backups.${job}.${field} or null;
                in
                value == null || !lib.hasPrefix "/nix/store/" (toString value);
              message = "services.restic.backups.${job}.${field} points into the Nix store, which every user can read. Give the root-only path the installer writes, or a sops-nix secret's path.";
            })
            [
              "passwordFile"
              "environmentFile"
              "repositoryFile"
            ]
        ) cfg.backupJobs
        ++ map (volume: {
          assertion = config.boot.initrd.luks.devices ? ${volume};
          message = "services.compliance-agent.expectedLuksVolumes names ${volume}, but boot.initrd.luks.devices.${volume} is not defined.";
        }) cfg.expectedLuksVolumes;

      users.users.compliance-agent = {
        isSystemUser = true;
        group = "compliance-agent";
        description = "MSP compliance agent (unprivileged)";
      };
      users.groups.compliance-agent = { };

      # The secrets the installer writes (docs/appliance.md): root-only folders that exist even
      # when a secret was skipped, so LoadCredential= on the token's folder never fails.
      systemd.tmpfiles.rules = [
        "d /var/lib/compliance-agent-secrets 0700 root root -"
      ]
      # (Not for a token sops-nix decrypts: it makes its own folders under /run/secrets.)
      ++ lib.optional (
        cfg.enrollmentTokenFile != null && !lib.hasPrefix "/run/" cfg.enrollmentTokenFile
      ) "d ${dirOf cfg.enrollmentTokenFile} 0700 root root -";

      # For operators and the helper's nftables.restore_baseline; the units use the store paths.
      environment.etc."compliance-agent/config.json".source = configFile;

      systemd.units = builtins.mapAttrs (_: sections: {
        text = artifacts.renderUnit sections;
        wantedBy = (sections.Install or { }).WantedBy or [ ];
      }) artifacts.units;
    }

    (mkIf cfg.firewall.enable {
      networking.nftables.enable = true;
      networking.firewall.enable = false;
      # The egress chain allows only the allowlisted DNS servers: resolve through them, not the
      # server the clinic's DHCP offers.
      networking.nameservers = lib.unique (
        map (e: e.address) (builtins.filter (e: e.purpose == "dns") cfg.egressAllowlist)
      );
      networking.dhcpcd.extraConfig = "nooption domain_name_servers";
      networking.nftables.ruleset = artifacts.ruleset;
      environment.etc."compliance-agent/nftables.nft".source = rulesetFile;
      environment.etc."compliance-agent/nftables.json".source = rulesetJson;
    })

    (mkIf cfg.baseline.enable (mkMerge [
      (own.baseline.settings {
        b = baselineData;
        inherit (cfg) backupJobs timeServers breakglassKeys breakglassPasswordFile;
      })
      {
        assertions =
          [
            {
              assertion = builtins.match "/nix/store/.*" cfg.breakglassPasswordFile == null;
              message = "services.compliance-agent.breakglassPasswordFile points into the Nix store, which every user can read. Give the root-only path the installer writes.";
            }
          ]
          ++ map (swap: {
            assertion = swap.randomEncryption.enable;
            message = "baseline swap-encrypted: swap device ${swap.device} must set randomEncryption.enable = true.";
          }) config.swapDevices
          ++ map (job: {
            assertion =
              let
                repository = config.services.restic.backups.${job}.repository or null;
              in
              repository == null || builtins.match "/.*" repository == null;
            message = "baseline backup-encrypted-offsite: services.restic.backups.${job}.repository is a local path; use an off-site repository.";
          }) cfg.backupJobs;
      }
    ]))
  ]);
}
