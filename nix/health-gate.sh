# The upgrade health gate's script (nix/health-gate.nix supplies the settings below as variables
# and the PATH; nix/ci/health-gate.test.ts runs it with stand-in commands).
#   GATE_STATE_DIR  where the last generation that passed is recorded (good-system)
#   GATE_CURRENT    the link to the running system (/run/current-system)
#   GATE_PROFILE    the system profile (/nix/var/nix/profiles/system)
#   GATE_TIMEOUT    seconds a new generation has to bring every unit up
# Arguments: the units that must be active.
#   GATE_INTERVAL   seconds between checks (5)
# Rolling back is the same mechanism as the agent's RB-PATCH-001-generation runbook: set the
# system profile to an explicit system path (`nix-env --set`) and switch to it. The one "known
# good" generation is the gate's good-system record, never "the previous profile generation",
# which after a runbook's `--set` may be the broken one.
set -euo pipefail
current=$(readlink -f "$GATE_CURRENT")
good_file=$GATE_STATE_DIR/good-system
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
    mkdir -p "$GATE_STATE_DIR"
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
