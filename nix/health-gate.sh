# The upgrade health gate's script (nix/health-gate.nix supplies the settings below as variables
# and the PATH; nix/ci/health-gate.test.ts runs it with stand-in commands).
#   GATE_GOOD_SYSTEM  the record of the last system that passed (one line, its store path;
#                     agent/src/host/health-gate.json: the agent's nixos.rollback reads it too)
#   GATE_CURRENT    the link to the running system (/run/current-system)
#   GATE_PROFILE    the system profile (/nix/var/nix/profiles/system)
#   GATE_TIMEOUT    seconds a new generation has to bring every unit up
# Arguments: the units that must be active.
#   GATE_INTERVAL   seconds between checks (5)
# Rolling back is the same mechanism as the agent's nixos.rollback: set the system profile to an
# explicit system path (`nix-env --set`) and switch to it. The one "known good" generation is
# this good-system record, for the gate and the agent alike, never "the previous profile
# generation", which after a runbook's `--set` may be the broken one.
set -euo pipefail
current=$(readlink -f "$GATE_CURRENT")
good_file=$GATE_GOOD_SYSTEM
if [ -f "$good_file" ] && [ "$(cat "$good_file")" = "$current" ]; then
  echo "health gate: $current already passed"
  exit 0
fi
deadline=$(($(date +%s) + GATE_TIMEOUT))
failed=""
while :; do
  failed=""
  for unit in "$@"; do
    systemctl is-active --quiet "$unit" || failed="$failed $unit"
  done
  if [ -z "$failed" ]; then
    mkdir -p "$(dirname "$good_file")"
    printf '%s\n' "$current" >"$good_file.tmp"
    mv "$good_file.tmp" "$good_file"
    echo "health gate: $current is healthy"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
  sleep "${GATE_INTERVAL:-5}"
done
echo "health gate: not active after $GATE_TIMEOUT s:$failed; rolling back" >&2
if [ ! -f "$good_file" ]; then
  echo "health gate: no generation has passed yet (first boot); not rolling back" >&2
  exit 1
fi
good=$(cat "$good_file")
nix-env --profile "$GATE_PROFILE" --set "$good"
# In its own transient unit, so the switch survives the gate being stopped by it.
systemd-run --unit=compliance-agent-rollback --collect --no-block \
  "$good/bin/switch-to-configuration" switch
exit 1
