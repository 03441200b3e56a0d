# The appliance's secrets, written by the installer into the installed system (root-only, never
# the Nix store): the break-glass account's password hash, the enrollment token (optional), the
# restic repository password and its credentials. Sourced by compliance-appliance-install
# (nix/installer.nix) with the installed root as $1; nix/ci/installer-secrets.test.ts runs it
# against a temporary root. Answers come on stdin, one per line. The files, their mode (0400)
# and owner are nix/lib/secrets.nix's table (the test holds the two equal).
# With $2 = sops the site's configuration carries the secrets encrypted: only the site's age
# identity is asked for, and sops-nix decrypts the rest on the appliance.
set -euo pipefail
root=$1
from=${2:-installer}

ask() { # ask <prompt> -> the line read (not echoed on a terminal)
  printf '%s\n' "$1" >&2
  local answer
  if [ -t 0 ]; then read -r -s answer; else read -r answer; fi
  printf '%s' "$answer"
}
write() { # write <file> <content>: root-only and read-only from its first byte
  (umask 077; printf '%s' "$2" > "$1.tmp")
  chmod 0400 "$1.tmp"
  mv -f "$1.tmp" "$1"
}

if [ "$from" = sops ]; then
  install -d -m 0700 "$root/var/lib/sops-nix"
  key=$(ask "The site's age identity (AGE-SECRET-KEY-1..., a Pulumi stack secret):")
  case "$key" in
    AGE-SECRET-KEY-1*) ;;
    *) echo "not an age identity (AGE-SECRET-KEY-1...)" >&2; exit 1 ;;
  esac
  write "$root/var/lib/sops-nix/key.txt" "$key"$'\n'
  unset key
  echo "The age identity is stored root-only; sops-nix decrypts the site's secrets at boot." >&2
  exit 0
fi

secrets=$root/var/lib/compliance-agent-secrets
install -d -m 0700 "$secrets" "$secrets/enrollment"

# Break glass: console login and sudo for msp-breakglass (root stays locked). Kept by the MSP
# under two-person control.
while :; do
  password=$(ask "Break-glass password for msp-breakglass (at least 12 characters):")
  again=$(ask "Type it again:")
  if [ "${#password}" -ge 12 ] && [ "$password" = "$again" ]; then break; fi
  echo "Not accepted (too short or not the same); again." >&2
done
write "$secrets/breakglass-password-hash" "$(printf '%s' "$password" | openssl passwd -6 -stdin)"
unset password again

token=$(ask "Enrollment token (Pulumi stack secret), or Enter to enroll by operator approval:")
if [ -n "$token" ]; then write "$secrets/enrollment/token" "$token"; fi
unset token

restic_password=$(ask "Restic repository password (Pulumi stack output backupPassword):")
[ -n "$restic_password" ] || { echo "a restic password is required" >&2; exit 1; }
write "$secrets/restic-password" "$restic_password"
unset restic_password

# The repository's credentials as the EnvironmentFile of the restic unit (for S3:
# AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=...), one VAR=value per line; an empty line ends.
env_text=""
echo "Restic repository credentials, VAR=value per line, empty line to finish:" >&2
while :; do
  line=$(ask "")
  [ -n "$line" ] || break
  case "$line" in
    [A-Z_]*=*) env_text="$env_text$line"$'\n' ;;
    *) echo "not VAR=value; ignored" >&2 ;;
  esac
done
write "$secrets/restic-env" "$env_text"
unset env_text
echo "Secrets stored root-only in /var/lib/compliance-agent-secrets." >&2
