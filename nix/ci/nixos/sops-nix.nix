# A stand-in for sops-nix's NixOS module (github:Mic92/sops-nix, nixosModules.sops), which the
# oracle does not hold and this machine cannot fetch: the part of its option interface the
# appliance uses, declared with sops-nix's names, types and defaults, and the build-time checks
# sops-nix makes on them. It checks that the appliance's use of `sops.*` is well-formed against
# that interface; it is NOT sops-nix's code (nothing is decrypted, no activation script runs).
# docs/appliance.md says what only a real build shows.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.sops;
  notInStore = types.addCheck types.str (p: builtins.substring 0 1 p == "/" && !lib.hasPrefix builtins.storeDir p) // {
    description = "absolute path outside the Nix store";
  };
  secret = types.submodule (
    { name, config, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
        };
        key = mkOption {
          type = types.str;
          default = name;
        };
        path = mkOption {
          type = types.str;
          default = if config.neededForUsers then "/run/secrets-for-users/${name}" else "${cfg.defaultSymlinkPath}/${name}";
        };
        format = mkOption {
          type = types.enum [ "yaml" "json" "binary" "dotenv" "ini" ];
          default = cfg.defaultSopsFormat;
        };
        mode = mkOption {
          type = types.str;
          default = "0400";
        };
        owner = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        uid = mkOption {
          type = types.int;
          default = 0;
        };
        group = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        gid = mkOption {
          type = types.int;
          default = 0;
        };
        sopsFile = mkOption {
          type = types.path;
          default = cfg.defaultSopsFile;
        };
        restartUnits = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        reloadUnits = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        neededForUsers = mkOption {
          type = types.bool;
          default = false;
        };
      };
    }
  );
in
{
  options.sops = {
    secrets = mkOption {
      type = types.attrsOf secret;
      default = { };
    };
    defaultSopsFile = mkOption { type = types.path; };
    defaultSopsFormat = mkOption {
      type = types.str;
      default = "yaml";
    };
    validateSopsFiles = mkOption {
      type = types.bool;
      default = true;
    };
    defaultSymlinkPath = mkOption {
      type = types.str;
      default = "/run/secrets";
    };
    defaultSecretsMountPoint = mkOption {
      type = types.str;
      default = "/run/secrets.d";
    };
    age = {
      keyFile = mkOption {
        type = types.nullOr notInStore;
        default = null;
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = [ ];
      };
      generateKey = mkOption {
        type = types.bool;
        default = false;
      };
    };
    gnupg = {
      home = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = [ ];
      };
    };
  };

  config = lib.mkIf (cfg.secrets != { }) {
    assertions =
      [
        {
          assertion = cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ] || cfg.age.keyFile != null || cfg.age.sshKeyPaths != [ ];
          message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home";
        }
      ]
      ++ lib.optionals cfg.validateSopsFiles (
        lib.concatLists (
          lib.mapAttrsToList (name: s: [
            {
              assertion = builtins.pathExists s.sopsFile;
              message = "Cannot find path '${toString s.sopsFile}' set in sops.secrets.${name}.sopsFile";
            }
          ]) cfg.secrets
        )
      );
  };
}
