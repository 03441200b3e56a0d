# Option declarations for the NixOS namespaces the real module files (../../../<oracle>/nixos) do
# not declare. Free-form or `anything`: a value set here is kept and merged as NixOS would, but
# its name and type are NOT checked. Keep this list short and say so in docs/appliance.md; the
# evaluator's report prints it.
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  free = mkOption {
    type = types.submodule { freeformType = types.attrsOf types.anything; };
    default = { };
  };
  # A service or program NixOS declares elsewhere: off unless set, anything else free.
  # (A set of options, not a submodule: the real modules read `enable` while defining siblings.)
  service = {
    enable = mkOption {
      type = types.bool;
      default = false;
    };
  };
  anyList = mkOption { type = types.listOf types.anything; default = [ ]; };
  anyAttrs = mkOption { type = types.attrsOf types.anything; default = { }; };
  any = default: mkOption { type = types.anything; inherit default; };
  # Options the real modules set but that no oracle file declares (NixOS declares them in modules
  # the oracle does not hold): accepted as anything.
  setOnly = [
    "networking.dhcpcd.extraConfig"
    "virtualisation.additionalPaths"
    "services.getty.helpLine"
    "isoImage.storeContents"
    "isoImage.makeEfiBootable"
    "isoImage.isoName"
    "xdg.sounds"
    "xdg.mime"
    "xdg.icons"
    "xdg.autostart"
    "programs.fish.generateCompletions"
    "hardware.enableRedistributableFirmware"
    "documentation.nixos"
    "documentation.man"
    "documentation.info"
    "documentation.doc"
    "security.wrappers"
    "services.logrotate.settings"
    "security.pam.services"
    "programs.ssh.knownHosts"
    "networking.networkmanager.dispatcherScripts"
    "systemd.tmpfiles"
    "environment.profiles"
  ];
in
{
  # What NixOS's networking module (not in the oracle) puts in /etc and the nftables check reads.
  # NixOS's version module (not in the oracle) builds nixos-version.
  config.system.build.nixos-version = pkgs.nixos-version;
  config.environment.etc = {
    hosts.text = "127.0.0.1 localhost\n::1 localhost\n";
    protocols.source = "${pkgs.iana-etc}/etc/protocols";
    services.source = "${pkgs.iana-etc}/etc/services";
  };
  imports = map (path: { options = lib.setAttrByPath (lib.splitString "." path) (mkOption { type = types.anything; }); }) setOnly;
  options = {

    boot = {
      loader = free;
      kernelPackages = any { kernel.version = "6.12.0"; };
      kernelModules = anyList;
      blacklistedKernelModules = anyList;
      extraSystemdUnitPaths = anyList;
      postBootCommands = any "";
      consoleLogLevel = any 4;
      extraModulePackages = anyList;
      extraModprobeConfig = any "";
      kernelParams = anyList;
      kernel.sysctl = anyAttrs;
      isContainer = any false;
      initrd = {
        systemd = {
          enable = any false;
          services = anyAttrs;
          storePaths = anyList;
          contents = anyAttrs;
          extraBin = anyAttrs;
          packages = anyList;
          additionalUpstreamUnits = anyList;
          suppressedUnits = anyList;
          tmpfiles = anyAttrs;
          targets = anyAttrs;
          paths = anyAttrs;
          mounts = anyList;
        };
        luks.devices = anyAttrs;
        availableKernelModules = anyList;
        kernelModules = anyList;
        services = free;
        supportedFilesystems = anyAttrs;
      };
      supportedFilesystems = anyAttrs;
      swraid = free;
    };
    fileSystems = anyAttrs;
    swapDevices = anyList;
    hardware = service;
    time.timeZone = any null;
    documentation = service;
    xdg = service;
    programs = lib.genAttrs [ "fish" "zsh" "xonsh" "command-not-found" "bash" "less" "nano" ] (_: service) // {
      ssh = service // {
        package = any pkgs.openssh;
        setXAuthLocation = any false;
      };
    };
    nix = {
      enable = any true;
      package = any pkgs.nix;
      settings = anyAttrs;
      gc = anyAttrs;
      extraOptions = mkOption { type = types.lines; default = ""; };
    };
    nixpkgs = free;
    specialisation = anyAttrs;
    virtualisation = service;
    isoImage = service;
    image = free;
    console = service;
    i18n.imperativeLocale = any false;
    i18n.defaultLocale = any "en_US.UTF-8";
    fonts = free;
    powerManagement = free;
    zramSwap = free;
    appstream = free;
    ids = free;
    networking = {
      hostName = any "nixos";
      domain = any null;
      useDHCP = any true;
      useNetworkd = any false;
      enableIPv6 = any true;
      nameservers = anyList;
      timeServers = anyList;
      hosts = anyAttrs;
      proxy = service // { envVars = anyAttrs; };
      networkmanager = service;
      wireless = service;
      dhcpcd = service;
      resolvconf = service;
      interfaces = anyAttrs;
      extraHosts = any "";
    };
    services = lib.genAttrs [
      "printing" "avahi" "xserver" "logrotate" "udisks2" "getty" "firewalld" "userborn" "syslog"
      "rsyslogd" "syslog-ng" "resolved" "fail2ban" "dbus" "udev" "nscd" "lvm" "timesyncd-stub"
    ] (_: service);
    security = lib.genAttrs [ "pam" "polkit" "googleOsLogin" "apparmor" "sudo-rs" "doas" ] (_: service);
    environment = {
      systemPackages = anyList;
      defaultPackages = anyList;
      stub-ld = free;
      memoryAllocator = any { provider = "libc"; };
      sessionVariables = anyAttrs;
      variables = anyAttrs;
      shellAliases = anyAttrs;
      pathsToLink = anyList;
      profileRelativeSessionVariables = anyAttrs;
      extraInit = mkOption { type = types.lines; default = ""; };
      noXlibs = any false;
    };
    system = {
      stateVersion = any "26.05";
      nssModules = mkOption {
        type = types.listOf types.anything;
        default = [ ];
        apply = list: { inherit list; path = lib.makeLibraryPath list; };
      };
      nssDatabases = free;
      fsPackages = anyList;
      activationScripts = anyAttrs;
      userActivationScripts = anyAttrs;
      requiredKernelConfig = anyList;
      autoUpgrade-stub = any null;
      nixos = free;
      nixos-init = any { enable = false; package = pkgs.drv "nixos-init" { }; };
      extraDependencies = anyList;
      checks = anyList;
      systemBuilderCommands = any "";
      systemBuilderArgs = anyAttrs;
      switch = free;
      extraSystemBuilderCmds = any "";
      path = any "/run/current-system";
      boot = free;
      copySystemConfiguration = any false;
      includeBuildDependencies = any false;
      forbiddenDependenciesRegexes = anyList;
    };
    systemd.sysusers = service;
    users.ldap = free;
    users.defaultUserShell = any pkgs.bashInteractive;
    meta = anyAttrs;
  };
}
