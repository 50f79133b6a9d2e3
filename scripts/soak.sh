#!/usr/bin/env bash
# Soak test of `tenantd run` on the local Docker engine:
#
#   scripts/soak.sh [DURATION_SECONDS]        (default 600)
#
# Builds tenantd (release) and the stub runtime image, starts the daemon on a temp directory
# under its own instance (soak<pid>), churns tenant specs for DURATION seconds (scripts/soak.py:
# creates, edits, secret rotations, deletions, invalid files, killed containers), then waits for
# convergence and checks what the daemon left behind. Exits non-zero when a check fails.
# Everything of the instance (containers, networks, volumes) and the temp directories are
# removed at the end, also on failure or interrupt.
#
# Environment: SOAK_SEED replays a run's random choices; SOAK_CONVERGE_TIMEOUT (default 120)
# bounds the final wait; SOAK_LOG_LEVEL is the daemon's TENANTD_LOG, by default debug so that
# the search for secret values covers every line tenantd can log (about 7 MB a minute);
# SOAK_VERBOSE=1 prints every action; SOAK_KEEP_LOG=1 keeps the daemon log (it is always kept
# when the run fails).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration="${1:-600}"
case "$duration" in
    '' | *[!0-9]*) echo "usage: scripts/soak.sh [DURATION_SECONDS]" >&2; exit 2 ;;
esac
seed="${SOAK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
instance="soak$$"
label="io.tenantd.instance=$instance"
image=tenantd-stub:test
tenantd="$PWD/target/release/tenantd"
# Below the kernel's ephemeral ports (32768+) and above the integration tests' slices (20000-29999).
port_lo=$((30000 + ($$ % 40) * 64))
port_hi=$((port_lo + 59))

work=""
shm=""
daemon_pid=""
driver_pid=""

# True while the process exists and is not a zombie (an exited child not yet waited for). A
# process that vanishes while this reads its status counts as gone.
alive() {
    local state
    [ -n "$1" ] || return 1
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if alive "$driver_pid"; then
        kill -TERM "$driver_pid"
        wait "$driver_pid" 2>/dev/null
    fi
    if [ -n "$daemon_pid" ]; then
        if alive "$daemon_pid"; then
            local t0=$SECONDS
            kill -TERM "$daemon_pid"
            for _ in $(seq 300); do
                alive "$daemon_pid" || break
                sleep 0.1
            done
            if alive "$daemon_pid"; then
                echo "FAIL  graceful stop: tenantd still running 30 s after SIGTERM; SIGKILL" >&2
                kill -KILL "$daemon_pid"
                [ "$rc" -eq 0 ] && rc=1
            fi
            wait "$daemon_pid"
            local daemon_rc=$?
            if [ "$daemon_rc" -eq 0 ]; then
                echo "PASS  graceful stop: tenantd exited 0 $((SECONDS - t0)) s after SIGTERM"
            else
                echo "FAIL  graceful stop: tenantd exited $daemon_rc after SIGTERM" >&2
                [ "$rc" -eq 0 ] && rc=1
            fi
        else
            wait "$daemon_pid"
            echo "tenantd had already exited ($?)" >&2
        fi
    fi
    local ids left
    ids="$(docker ps -aq --filter "label=$label")"
    [ -n "$ids" ] && docker rm -f $ids >/dev/null
    ids="$(docker network ls -q --filter "label=$label")"
    [ -n "$ids" ] && docker network rm $ids >/dev/null
    ids="$(docker volume ls -q --filter "label=$label")"
    [ -n "$ids" ] && docker volume rm $ids >/dev/null
    if [ -n "$work" ] && [ -f "$work/daemon.log" ] && { [ "$rc" -ne 0 ] || [ "${SOAK_KEEP_LOG:-}" = 1 ]; }; then
        cp "$work/daemon.log" "/tmp/tenantd-$instance.log" && echo "daemon log kept: /tmp/tenantd-$instance.log"
    fi
    [ -n "$work" ] && rm -rf "$work"
    [ -n "$shm" ] && rm -rf "$shm"
    left="$(docker ps -aq --filter "label=$label") $(docker network ls -q --filter "label=$label") $(docker volume ls -q --filter "label=$label")"
    if [ -n "${left// /}" ]; then
        echo "cleanup: objects of $instance remain: $left" >&2
        [ "$rc" -eq 0 ] && rc=1
    fi
    echo "cleaned up $instance (exit $rc, ${SECONDS} s in all)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "soak: seed $seed, instance $instance, ports $port_lo-$port_hi, ${duration} s of churn"

t=$SECONDS
cargo build --release
scripts/build-stub-image.sh "$image" >/dev/null
echo "soak: built tenantd and $image in $((SECONDS - t)) s"

work="$(mktemp -d "/tmp/tenantd-$instance.XXXXXX")"
shm="/dev/shm/tenantd-$instance"
mkdir -p "$work/tenants.d" "$work/state" "$shm"
chmod 0700 "$shm"

write_config() {
    cat >"$work/tenantd.toml" <<TOML
tenants_dir = "tenants.d"
state_dir = "state"
instance = "$instance"
port_range = [$port_lo, $port_hi]

[daemon]
resync_interval = "30s"

[secrets]
identity_file = "age.key"
dir = "$shm/secrets"
$1
TOML
}
write_config ""
"$tenantd" --config "$work/tenantd.toml" secrets keygen --output "$work/age.key" 2>"$work/keygen.err"
recipient="$(grep -o 'age1[0-9a-z]*' "$work/keygen.err" | head -n1)"
[ -n "$recipient" ] || { echo "no recipient from tenantd secrets keygen: $(cat "$work/keygen.err")" >&2; exit 1; }
write_config "recipients = [\"$recipient\"]"

# Nothing of a caller's service manager or tenantd configuration reaches the daemon.
env -u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID -u CONTAINER_RUNTIME -u TENANTD_CONFIG \
    TENANTD_LOG="${SOAK_LOG_LEVEL:-debug}" NO_COLOR=1 \
    "$tenantd" --config "$work/tenantd.toml" run --allow-empty </dev/null >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 300); do
    grep -q "tenantd is running" "$work/daemon.log" && break
    alive "$daemon_pid" || break
    sleep 0.1
done
if ! grep -q "tenantd is running" "$work/daemon.log"; then
    echo "tenantd run did not start:" >&2
    cat "$work/daemon.log" >&2
    exit 1
fi
echo "soak: tenantd run is pid $daemon_pid, log $work/daemon.log"

verbose=()
[ "${SOAK_VERBOSE:-}" = 1 ] && verbose=(--verbose)
python3 scripts/soak.py \
    --tenantd "$tenantd" --config "$work/tenantd.toml" --tenants "$work/tenants.d" \
    --state "$work/state" --secrets "$shm/secrets" --work "$work" --instance "$instance" \
    --image "$image" --log "$work/daemon.log" --daemon-pid "$daemon_pid" \
    --duration "$duration" --seed "$seed" --converge-timeout "${SOAK_CONVERGE_TIMEOUT:-120}" \
    "${verbose[@]}" &
driver_pid=$!
rc=0
wait "$driver_pid" || rc=$?
driver_pid=""
exit "$rc"
