import { execFile } from "node:child_process";

/**
 * systemd notification (sd_notify: READY=1, WATCHDOG=1, STOPPING=1). Node has no unix datagram
 * sockets without a native addon, so the message goes through `systemd-notify` run with an argv
 * (never a shell); the unit needs NotifyAccess=all for systemd to accept it from that child.
 * Without NOTIFY_SOCKET nothing is sent. Failures are logged by the caller, never fatal.
 * WatchdogSec must exceed step_timeout_s: a step may run that long between two pings.
 */
export type Notifier = (state: "READY=1" | "WATCHDOG=1" | "STOPPING=1") => Promise<void>;

export const silentNotifier: Notifier = async () => {};

export function systemdNotifier(
  env: Readonly<Record<string, string | undefined>>,
  binary = "systemd-notify",
): Notifier {
  if (!env.NOTIFY_SOCKET) return silentNotifier;
  return (state) =>
    new Promise((resolve, reject) => {
      // --no-block: do not wait for systemd's barrier reply (systemd-notify ≥ 246).
      execFile(binary, ["--no-block", state], { timeout: 5_000, env: { ...env } }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
}
