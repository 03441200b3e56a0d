# compliance-appliance-install: run from the installer ISO. Partitions the target disk (GPT:
# ESP + LUKS2), installs the appliance system whose closure is on the ISO (no network: no
# substituter is asked), stores the appliance's secrets root-only, and reboots into the appliance,
# which enrolls on first boot (MAC lookup + token, or an operator's approval of the key
# fingerprint). Destroys the target disk after the operator types its name back.
{
  lib,
  writeShellApplication,
  coreutils,
  util-linux,
  parted,
  cryptsetup,
  e2fsprogs,
  dosfstools,
  nixos-install-tools,
  nix,
  systemd,
  openssl,
  toplevel,
  # "sops" when the site's configuration carries its secrets encrypted (nix/appliance.nix).
  secretsFrom ? "installer",
}:
writeShellApplication {
  name = "compliance-appliance-install";
  runtimeInputs = [
    coreutils
    util-linux
    parted
    cryptsetup
    e2fsprogs
    dosfstools
    nixos-install-tools
    nix
    systemd
    openssl
  ];
  text = ''
    if [ "$(id -u)" -ne 0 ]; then echo "run as root (sudo -i)" >&2; exit 1; fi
    disk=''${1:-}
    if [ -z "$disk" ]; then
      echo "Disks:"; lsblk -d -o NAME,SIZE,MODEL,TRAN,RM
      echo "usage: compliance-appliance-install /dev/<disk>" >&2; exit 2
    fi
    [ -b "$disk" ] || { echo "$disk is not a block device" >&2; exit 2; }
    echo "ALL DATA ON $disk WILL BE DESTROYED. Type the disk name ($disk) to continue:"
    read -r answer
    [ "$answer" = "$disk" ] || { echo "not confirmed; nothing changed"; exit 1; }

    part() { case "$disk" in *[0-9]) echo "''${disk}p$1" ;; *) echo "''${disk}$1" ;; esac; }

    wipefs --all "$disk"
    parted --script "$disk" -- mklabel gpt \
      mkpart ESP fat32 1MiB 1GiB set 1 esp on \
      mkpart cryptroot 1GiB 100%
    udevadm settle
    esp=$(part 1)
    root=$(part 2)

    # Baseline luks-volumes-encrypted: LUKS2, aes-xts-plain64, 512-bit key, argon2id.
    echo "Choose the disk passphrase (kept by the MSP; needed when no TPM unlocks the disk)."
    cryptsetup luksFormat --batch-mode --verify-passphrase --type luks2 \
      --cipher aes-xts-plain64 --key-size 512 --pbkdf argon2id "$root"
    cryptsetup open "$root" cryptroot
    if [ -e /sys/class/tpm/tpm0 ]; then
      echo "Enrolling the TPM (PCR 7: Secure Boot state) so the appliance boots unattended."
      systemd-cryptenroll --tpm2-device=auto --tpm2-pcrs=7 "$root" || echo "TPM enrollment failed; the passphrase stays the only key" >&2
    fi
    mkfs.ext4 -q -L nixos /dev/mapper/cryptroot
    mkfs.vfat -F 32 -n ESP "$esp"
    mount /dev/mapper/cryptroot /mnt
    mkdir -p /mnt/boot
    mount -o umask=0077 "$esp" /mnt/boot

    # The closure is in the ISO's store: install it without asking any substituter.
    nixos-install --system ${toplevel} --no-root-passwd --no-channel-copy \
      --option substituters ""

    # Break-glass password hash, enrollment token, restic password and credentials (or, for a
    # site with a SOPS file, its age identity): root-only files in the installed system
    # (installer-secrets.sh, tested on its own).
    bash ${./installer-secrets.sh} /mnt ${secretsFrom}

    umount -R /mnt
    cryptsetup close cryptroot
    echo "Installed. Remove the USB stick; the appliance enrolls on first boot. Reboot now with: systemctl reboot"
  '';
}
