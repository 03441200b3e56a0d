# The clinic appliance: one NixOS system per site, from the site's values (nix/sites/<site>.json,
# written from the operator's Pulumi stack outputs). Disk layout matches the installer
# (nix/installer.nix): a GPT disk with an ESP labelled ESP and a LUKS2 partition labelled
# cryptroot holding an ext4 root labelled nixos. Upgrades are gated (nix/health-gate.nix).
# Secrets (nix/lib/secrets.nix) come from the installer, or, when the site names an encrypted
# file (site.secrets.sopsFile), from that file through sops-nix (the flake imports its module).
{ site, siteDir }:
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:
let
  secrets = import ./lib/secrets.nix;
  useSops = site ? secrets;
  # The operator-approval enrollment needs no token: a site may leave it out of its file.
  withToken = !useSops || (site.secrets.enrollmentToken or true);
  wanted = lib.filterAttrs (name: _: name != "enrollment/token" || withToken) secrets.files;
  # Where each secret is read from: sops-nix's path for it, or the file the installer wrote.
  file = name: if useSops then config.sops.secrets.${name}.path else secrets.files.${name}.installed;
in
{
  imports = [
    (modulesPath + "/profiles/minimal.nix")
    (modulesPath + "/installer/scan/not-detected.nix")
    ./health-gate.nix
  ];

  system.stateVersion = "26.05";
  networking.hostName = "appliance-${site.siteId}";
  time.timeZone = site.timeZone;
  networking.useDHCP = true;

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;
  # Keep generations for rollback; the agent's nix.collect_garbage keeps the newest few.
  boot.loader.systemd-boot.configurationLimit = 10;
  boot.initrd.systemd.enable = true;
  boot.initrd.availableKernelModules = [
    "ahci"
    "nvme"
    "sd_mod"
    "usb_storage"
    "xhci_pci"
    "virtio_pci"
    "virtio_blk"
  ];
  # Unlocked by the TPM when the installer could enroll one (systemd-cryptenroll), else by the
  # passphrase typed at the console.
  boot.initrd.luks.devices.cryptroot = {
    device = "/dev/disk/by-partlabel/cryptroot";
    allowDiscards = true;
    crypttabExtraOpts = [ "tpm2-device=auto" ];
  };
  fileSystems."/" = {
    device = "/dev/mapper/cryptroot";
    fsType = "ext4";
  };
  fileSystems."/boot" = {
    device = "/dev/disk/by-label/ESP";
    fsType = "vfat";
    options = [ "umask=0077" ];
  };
  swapDevices = [ ];

  services.openssh.enable = true;
  # Not profiles/hardened.nix: its kernel-module lock and allocator swap break nftables reloads
  # and Node; the baseline's own settings (services.compliance-agent.baseline) apply instead.

  nix.settings = {
    # Offline by default: generations arrive as closures the MSP pushed; nothing is fetched.
    substituters = lib.mkForce [ ];
    experimental-features = [
      "nix-command"
      "flakes"
    ];
  };

  services.restic.backups.${site.backup.job} = {
    inherit (site.backup) repository paths;
    passwordFile = file "restic-password";
    environmentFile = file "restic-env";
    initialize = true;
  };

  services.compliance-agent = {
    enable = true;
    inherit (site)
      siteId
      controlPlaneUrl
      controlPlanePublicKey
      egressAllowlist
      timeServers
      breakglassKeys
      mode
      ;
    caFile = siteDir + "/${site.caFile}";
    maintenanceWindow = site.maintenanceWindow // {
      timeZone = site.timeZone;
    };
    firewall.managementNetworks = site.managementNetworks;
    backupJobs = [ site.backup.job ];
    expectedLuksVolumes = [ "cryptroot" ];
    enrollmentTokenFile = if withToken then file "enrollment/token" else null;
    breakglassPasswordFile = file "breakglass-password-hash";
  };

  sops = lib.mkIf useSops {
    # Beside the site's JSON (nix/sites/<site>.secrets.yaml); encrypted, so the store may hold it.
    defaultSopsFile =
      if builtins.isPath site.secrets.sopsFile then site.secrets.sopsFile else siteDir + "/${site.secrets.sopsFile}";
    # The site's own age identity, stored root-only by the installer: the SSH host key (sops-nix's
    # default) does not exist before the first boot, so nothing could be encrypted to it.
    age.keyFile = secrets.ageKeyFile;
    age.sshKeyPaths = [ ];
    gnupg.sshKeyPaths = [ ];
    secrets = builtins.mapAttrs (name: e: {
      inherit (secrets) mode owner group;
      inherit (e) neededForUsers;
      restartUnits = lib.optional (lib.hasPrefix "restic-" name) "restic-backups-${site.backup.job}.service";
    }) wanted;
  };
}
