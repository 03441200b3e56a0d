# The clinic appliance: one NixOS system per site, from the site's values (nix/sites/<site>.json,
# written from the operator's Pulumi stack outputs). Disk layout matches the installer
# (nix/installer.nix): a GPT disk with an ESP labelled ESP and a LUKS2 partition labelled
# cryptroot holding an ext4 root labelled nixos. Upgrades are gated (nix/health-gate.nix).
{ site, siteDir }:
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:
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
    passwordFile = "/var/lib/compliance-agent-secrets/restic-password";
    environmentFile = "/var/lib/compliance-agent-secrets/restic-env";
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
  };
}
