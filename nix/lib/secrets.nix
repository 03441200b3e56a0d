# The appliance's secrets: one table for both ways they reach the box. Pure: builtins only.
#   - installer: compliance-appliance-install asks for each and writes it under `dir`
#     (nix/installer-secrets.sh writes exactly these files, with this mode and owner);
#   - sops: the site's configuration carries them encrypted (nix/sites/<site>.secrets.yaml, SOPS
#     with an age key the installer stores at `ageKeyFile`), and sops-nix decrypts them at
#     activation into /run/secrets (a ramfs), never into the Nix store.
# Each entry's name is its sops-nix secret name, which is also its key in the site's YAML
# ("a/b": key b under a).
rec {
  dir = "/var/lib/compliance-agent-secrets";
  # The age identity sops-nix decrypts with (written by the installer; never in the store).
  ageKeyFile = "/var/lib/sops-nix/key.txt";
  # Every secret file: root-only, read by root (systemd hands the agent a private copy of the
  # token through LoadCredential=).
  mode = "0400";
  owner = "root";
  group = "root";
  files = {
    # crypt(3) hash of msp-breakglass's password; NixOS reads it when it creates users, so with
    # sops-nix it is decrypted early (neededForUsers).
    breakglass-password-hash = {
      installed = "${dir}/breakglass-password-hash";
      neededForUsers = true;
    };
    # Optional: without it the agent enrolls by an operator's approval. Alone in its folder: the
    # agent's unit loads the folder (LoadCredential=).
    "enrollment/token" = {
      installed = "${dir}/enrollment/token";
      neededForUsers = false;
    };
    restic-password = {
      installed = "${dir}/restic-password";
      neededForUsers = false;
    };
    # The restic unit's EnvironmentFile: the repository's credentials, VAR=value per line.
    restic-env = {
      installed = "${dir}/restic-env";
      neededForUsers = false;
    };
  };
}
