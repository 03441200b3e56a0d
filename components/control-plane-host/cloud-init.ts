import { stringify } from "yaml";

/**
 * The cloud-init user data that installs the control plane on a fresh Debian server and runs
 * it as a systemd service: a pure function of its inputs (tests read it back as YAML). The
 * install script is constant text that reads its two parameters from a root-only file, so no
 * input is ever spliced into a shell line; `runcmd` calls it as an argv list.
 */
export interface CloudInitInput {
  readonly hostname: string;
  /** The https folder holding the release's files (the manifest names the tarball). */
  readonly releaseBaseUrl: string;
  /** The signed manifest's exact text, its raw signature in base64 and the release key. */
  readonly releaseManifest: string;
  readonly releaseSignature: string;
  readonly releasePublicKeyPem: string;
  /** The data volume's device (/dev/disk/by-id/scsi-0HC_Volume_<id>), mounted on DATA_DIR. */
  readonly volumeDevice: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  readonly orderSigningKeyPem: string;
}

export const SERVICE_USER = "msp-cp";
export const DATA_DIR = "/var/lib/msp-control-plane";
export const ETC_DIR = "/etc/msp-control-plane";
export const INSTALL_DIR = "/opt/msp-control-plane";
const INSTALL_SCRIPT = "/usr/local/sbin/msp-control-plane-install";
export const VERIFY_SCRIPT = "/usr/local/sbin/msp-release-verify";
export const RELEASE_DIR = `${ETC_DIR}/release`;

/** Characters a release URL may hold: it ends up quoted in a file the install script sources. */
export const SAFE_URL = /^https:\/\/[A-Za-z0-9.\-_~/:%+@=]+$/;

export const CONTROL_PLANE_CONFIG = {
  data_dir: DATA_DIR,
  listen: { host: "::", port: 443 },
  tls: { cert: `${ETC_DIR}/tls/server.pem`, key: `${ETC_DIR}/tls/server.key` },
  log_level: "info",
} as const;

export const SYSTEMD_UNIT = `[Unit]
Description=MSP compliance control plane
Wants=network-online.target
After=network-online.target

[Service]
User=${SERVICE_USER}
Group=${SERVICE_USER}
ExecStart=${INSTALL_DIR}/node_modules/node/bin/node ${INSTALL_DIR}/control-plane/src/main.ts serve --config ${ETC_DIR}/config.json
Restart=on-failure
RestartSec=5
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
ReadWritePaths=${DATA_DIR}
UMask=0077

[Install]
WantedBy=multi-user.target
`;

/**
 * `msp-release-verify DIR [TARBALL]`: checks the manifest's Ed25519 signature with the pinned
 * release key (OpenSSL alone), then, with a tarball, its SHA-256 against the manifest's
 * control-plane entry. Without a tarball it prints that entry's file name. Exit 1 on any
 * mismatch. (python3 is there: cloud-init itself runs on it.)
 */
export const VERIFY = `#!/bin/sh
set -eu
dir=$1
if ! openssl pkeyutl -verify -pubin -inkey "$dir/release-key.pub.pem" -rawin \\
    -in "$dir/manifest.json" -sigfile "$dir/manifest.json.sig" >/dev/null 2>&1; then
  echo "msp-release-verify: the release manifest's signature does not verify" >&2
  exit 1
fi
field() {
  python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
a = [x for x in m["artifacts"] if x["name"] == "control-plane"]
print(a[0][sys.argv[2]] if len(a) == 1 else "")' "$dir/manifest.json" "$1"
}
if [ $# -lt 2 ]; then
  field file
  exit 0
fi
expected=$(field sha256)
if ! echo "$expected  $2" | sha256sum --check --strict --quiet - >/dev/null 2>&1; then
  echo "msp-release-verify: the tarball's SHA-256 is not the signed manifest's; refusing it" >&2
  exit 1
fi
`;

const INSTALL = `#!/bin/sh
# Mounts the data volume, installs the control-plane release only if its signed manifest and
# its SHA-256 verify, initialises the data directory once (with the order-signing key the
# Pulumi stack keeps; a replacement server finds it on the volume) and starts the service.
set -eu
. ${ETC_DIR}/release.env
i=0
while [ ! -b "$VOLUME_DEVICE" ] && [ $i -lt 150 ]; do sleep 2; i=$((i + 1)); done
if [ ! -b "$VOLUME_DEVICE" ]; then echo "data volume $VOLUME_DEVICE did not appear" >&2; exit 1; fi
install -d -m 0755 ${DATA_DIR}
grep -q " ${DATA_DIR} " /etc/fstab || echo "$VOLUME_DEVICE ${DATA_DIR} ext4 discard,nofail,defaults 0 2" >> /etc/fstab
mountpoint -q ${DATA_DIR} || mount ${DATA_DIR}
file=$(${VERIFY_SCRIPT} ${RELEASE_DIR})
tarball=/var/tmp/msp-control-plane.tar.gz
curl -fsSL --proto =https --tlsv1.2 --retry 5 -o "$tarball" "$RELEASE_BASE_URL/$file"
${VERIFY_SCRIPT} ${RELEASE_DIR} "$tarball"
install -d -m 0755 ${INSTALL_DIR}
tar -xzf "$tarball" -C ${INSTALL_DIR} --strip-components=1 --no-same-owner
chown ${SERVICE_USER}:${SERVICE_USER} ${DATA_DIR}
chmod 0700 ${DATA_DIR}
if [ ! -e ${DATA_DIR}/keys/order-signing.key ]; then
  runuser -u ${SERVICE_USER} -- ${INSTALL_DIR}/node_modules/node/bin/node \\
    ${INSTALL_DIR}/control-plane/src/main.ts init --data-dir ${DATA_DIR} \\
    --order-signing-key-file ${ETC_DIR}/order-signing.key \\
    --admin-token-file ${DATA_DIR}/admin-token --hosts "$CONTROL_PLANE_HOSTNAME"
fi
rm -f ${ETC_DIR}/order-signing.key
systemctl daemon-reload
systemctl enable --now msp-control-plane.service
`;

export function renderCloudInit(input: CloudInitInput): string {
  if (!SAFE_URL.test(input.releaseBaseUrl))
    throw new Error("releaseBaseUrl holds characters outside the safe set");
  if (!/^\/dev\/disk\/by-id\/[A-Za-z0-9_-]+$/.test(input.volumeDevice))
    throw new Error("volumeDevice must be a /dev/disk/by-id path");
  if (!/^[a-z0-9.-]+$/.test(input.hostname)) throw new Error("hostname must be a DNS name");
  const owned = `${SERVICE_USER}:${SERVICE_USER}`;
  const doc = {
    package_update: true,
    packages: ["curl", "ca-certificates", "openssl", "python3"],
    users: [
      "default",
      {
        name: SERVICE_USER,
        system: true,
        shell: "/usr/sbin/nologin",
        homedir: DATA_DIR,
        no_create_home: true,
      },
    ],
    write_files: [
      file(
        `${ETC_DIR}/release.env`,
        "0600",
        "root:root",
        `RELEASE_BASE_URL='${input.releaseBaseUrl.replace(/\/+$/, "")}'\nCONTROL_PLANE_HOSTNAME='${input.hostname}'\nVOLUME_DEVICE='${input.volumeDevice}'\n`,
      ),
      file(`${RELEASE_DIR}/manifest.json`, "0644", "root:root", input.releaseManifest),
      {
        ...file(`${RELEASE_DIR}/manifest.json.sig`, "0644", "root:root", input.releaseSignature),
        encoding: "b64",
      },
      file(`${RELEASE_DIR}/release-key.pub.pem`, "0644", "root:root", input.releasePublicKeyPem),
      file(VERIFY_SCRIPT, "0755", "root:root", VERIFY),
      file(
        `${ETC_DIR}/config.json`,
        "0644",
        "root:root",
        `${JSON.stringify(CONTROL_PLANE_CONFIG, null, 2)}\n`,
      ),
      file(`${ETC_DIR}/tls/server.pem`, "0644", "root:root", input.serverCertPem),
      file(`${ETC_DIR}/tls/server.key`, "0400", owned, input.serverKeyPem),
      file(`${ETC_DIR}/order-signing.key`, "0400", owned, input.orderSigningKeyPem),
      file("/etc/systemd/system/msp-control-plane.service", "0644", "root:root", SYSTEMD_UNIT),
      file(INSTALL_SCRIPT, "0700", "root:root", INSTALL),
    ],
    runcmd: [[INSTALL_SCRIPT]],
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

function file(path: string, permissions: string, owner: string, content: string) {
  // defer: written after users are created, so the service user can own its keys.
  return { path, permissions, owner, content, defer: true };
}
