import { stringify } from "yaml";

/**
 * The cloud-init user data that installs the control plane on a fresh Debian server and runs
 * it as a systemd service: a pure function of its inputs (tests read it back as YAML). The
 * install script is constant text that reads its two parameters from a root-only file, so no
 * input is ever spliced into a shell line; `runcmd` calls it as an argv list.
 */
export interface CloudInitInput {
  readonly hostname: string;
  readonly releaseUrl: string;
  readonly releaseSha256: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  readonly orderSigningKeyPem: string;
}

export const SERVICE_USER = "msp-cp";
export const DATA_DIR = "/var/lib/msp-control-plane";
export const ETC_DIR = "/etc/msp-control-plane";
export const INSTALL_DIR = "/opt/msp-control-plane";
const INSTALL_SCRIPT = "/usr/local/sbin/msp-control-plane-install";

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

const INSTALL = `#!/bin/sh
# Installs the control-plane release named in release.env, checks its SHA-256, initialises the
# data directory once (with the order-signing key the Pulumi stack keeps) and starts the service.
set -eu
. ${ETC_DIR}/release.env
tarball=/var/tmp/msp-control-plane.tar.gz
curl -fsSL --proto =https --tlsv1.2 --retry 5 -o "$tarball" "$RELEASE_URL"
echo "$RELEASE_SHA256  $tarball" | sha256sum --check --strict -
install -d -m 0755 ${INSTALL_DIR}
tar -xzf "$tarball" -C ${INSTALL_DIR} --strip-components=1 --no-same-owner
install -d -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0700 ${DATA_DIR}
if [ ! -e ${DATA_DIR}/keys/order-signing.key ]; then
  runuser -u ${SERVICE_USER} -- ${INSTALL_DIR}/node_modules/node/bin/node \\
    ${INSTALL_DIR}/control-plane/src/main.ts init --data-dir ${DATA_DIR} \\
    --order-signing-key-file ${ETC_DIR}/order-signing.key \\
    --admin-token-file ${DATA_DIR}/admin-token --hosts "$CONTROL_PLANE_HOSTNAME"
  rm -f ${ETC_DIR}/order-signing.key
fi
systemctl daemon-reload
systemctl enable --now msp-control-plane.service
`;

export function renderCloudInit(input: CloudInitInput): string {
  if (!SAFE_URL.test(input.releaseUrl))
    throw new Error("releaseUrl holds characters outside the safe set");
  if (!/^[0-9a-f]{64}$/.test(input.releaseSha256))
    throw new Error("releaseSha256 must be 64 hex digits");
  if (!/^[a-z0-9.-]+$/.test(input.hostname)) throw new Error("hostname must be a DNS name");
  const owned = `${SERVICE_USER}:${SERVICE_USER}`;
  const doc = {
    package_update: true,
    packages: ["curl", "ca-certificates"],
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
        `RELEASE_URL='${input.releaseUrl}'\nRELEASE_SHA256='${input.releaseSha256}'\nCONTROL_PLANE_HOSTNAME='${input.hostname}'\n`,
      ),
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
