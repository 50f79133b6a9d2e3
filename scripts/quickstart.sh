#!/usr/bin/env bash
# The samples on the local Docker engine, kept converged by the daemon:
#
#   ./scripts/quickstart.sh [up] [--no-daemon]   builds tenantd and the stub runtime, seeds the
#       quickstart's tenants directory (.tenantd-local/tenants.d) with the samples in tenants.d/
#       and an OpenClaw tenant whose gateway token is age-encrypted to a key made here, applies,
#       then runs the daemon (`tenantd run`) in the foreground: Ctrl-C stops the daemon and the
#       tenants keep running. --no-daemon stops after the apply.
#   ./scripts/quickstart.sh down                  stops a daemon this script started, removes
#       the quickstart's tenants (their volumes are kept, as always) and its tenants directory.
#
# Settings, from the environment (the defaults suit a person; tests give their own):
#   TENANTD_QUICKSTART_DIR        the local directory for config, specs, key and state
#                                 (default .tenantd-local in the checkout)
#   TENANTD_QUICKSTART_INSTANCE   the instance name every object is named and labelled with
#                                 (default quickstart)
#   TENANTD_QUICKSTART_PORTS      host port range for the runtimes, "LOW-HIGH" (default tenantd's)
#   TENANTD_QUICKSTART_BIN        a tenantd binary to use instead of building one (release)
#   TENANTD_QUICKSTART_GATEWAY_TOKEN  the OpenClaw gateway token to encrypt when the tenant is
#                                 first written (default: a random one, shown nowhere)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

command="up"
no_daemon=""
for arg in "$@"; do
    case "$arg" in
        up | down) command="$arg" ;;
        --no-daemon) no_daemon=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "usage: $0 [up] [--no-daemon] | $0 down" >&2
            exit 64
            ;;
    esac
done

local_dir="${TENANTD_QUICKSTART_DIR:-$repo/.tenantd-local}"
instance="${TENANTD_QUICKSTART_INSTANCE:-quickstart}"
mkdir -p "$local_dir"
local_dir="$(cd "$local_dir" && pwd)"
config="$local_dir/tenantd.toml"

if [ -n "${TENANTD_QUICKSTART_BIN:-}" ]; then
    tenantd="$TENANTD_QUICKSTART_BIN"
else
    cargo build --release --quiet
    tenantd="$repo/target/release/tenantd"
fi

# tenantd keeps tenants off the host's own services with nftables rules, which only root (or
# CAP_NET_ADMIN) with `nft` can install. Elsewhere the quickstart runs without them, and says so.
network=""
if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null; then
    network=$'[network]\nhost_firewall = "external"'
    echo "warning: not root or no nft: the sample tenants run WITHOUT tenantd's host rules" \
        "(host_firewall = \"external\"; see README, Safety)" >&2
fi
ports=""
if [ -n "${TENANTD_QUICKSTART_PORTS:-}" ]; then
    ports="port_range = [${TENANTD_QUICKSTART_PORTS%-*}, ${TENANTD_QUICKSTART_PORTS#*-}]"
fi

# Decrypted secrets go only to tmpfs (tenantd refuses anything else): under the first of these
# that is a tmpfs this user may write to, else (as root) on a tmpfs mounted in the local directory.
secrets_base=""
for base in /run /dev/shm; do
    if [ -d "$base" ] && [ -w "$base" ] && [ "$(stat -f -c %T "$base")" = tmpfs ]; then
        secrets_base="$base/tenantd-$instance"
        break
    fi
done
mounted_tmpfs="$local_dir/run"
if [ -z "$secrets_base" ] && [ "$(id -u)" = 0 ]; then
    secrets_base="$mounted_tmpfs"
fi

daemon_pid="$local_dir/daemon.pid"
# A daemon this script started before holds the state directory: it is stopped (SIGTERM leaves
# the tenants running) before anything else uses that directory.
stop_daemon() {
    [ -f "$daemon_pid" ] || return 0
    pid="$(cat "$daemon_pid")"
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$config run"; then
        kill -TERM "$pid"
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1 # polling interval while it exits
        done
        echo "stopped the daemon (pid $pid)"
    fi
    rm -f "$daemon_pid"
}
stop_daemon

write_config() { # tenants directory, relative to the local directory
    local secrets=""
    if [ -n "$secrets_base" ] && [ -f "$local_dir/age-identity" ]; then
        secrets="[secrets]
identity_file = \"age-identity\"
dir = \"$secrets_base/secrets\"
recipients = [\"$(cat "$local_dir/age-recipient")\"]"
    fi
    cat >"$config" <<TOML
# Written by scripts/quickstart.sh; relative paths are relative to this file.
tenants_dir = "$1"
state_dir = "state"
instance = "$instance"
$ports
$secrets
$network
TOML
}

if [ "$command" = "down" ]; then
    # An empty tenants directory, explicitly allowed: every quickstart tenant is deleted.
    mkdir -p "$local_dir/empty.d"
    write_config "empty.d"
    "$tenantd" --config "$config" apply --allow-empty
    rm -rf "$local_dir/tenants.d" "$local_dir/empty.d"
    if [ "$secrets_base" = "$mounted_tmpfs" ] && mountpoint -q "$mounted_tmpfs"; then
        umount "$mounted_tmpfs"
    fi
    [ -n "$secrets_base" ] && [ -d "$secrets_base" ] && rm -rf "$secrets_base"
    echo "Volumes are kept; remove them with: docker volume rm \$(docker volume ls -q --filter label=io.tenantd.instance=$instance)"
    if [ -z "$network" ]; then
        echo "The host rules stay, now empty; remove them with: nft delete table inet tenantd_$instance"
    fi
    exit 0
fi

"$repo/examples/stub-runtime/build.sh"

# The quickstart's own tenants directory, seeded with the samples (an edited copy is kept when
# the script runs again). The links let the copies' relative paths (the build context, the
# schema modeline) lead back into the checkout.
mkdir -p "$local_dir/tenants.d"
ln -sfn "$repo/examples" "$local_dir/examples"
ln -sfn "$repo/schemas" "$local_dir/schemas"
for sample in "$repo"/tenants.d/*.yaml; do
    [ -e "$local_dir/tenants.d/$(basename "$sample")" ] || cp "$sample" "$local_dir/tenants.d/"
done

# The OpenClaw tenant: tenantd generates its openclaw.json and delivers its gateway token,
# decrypted, into tmpfs. Handing that file to the container's user takes root (CAP_CHOWN).
openclaw="$local_dir/tenants.d/openclaw.yaml"
if [ "$(id -u)" != 0 ] || [ -z "$secrets_base" ]; then
    echo "warning: not root, or no tmpfs for secrets: the OpenClaw tenant is left out" >&2
    rm -f "$openclaw"
else
    if [ "$secrets_base" = "$mounted_tmpfs" ] && ! mountpoint -q "$mounted_tmpfs"; then
        mkdir -p "$mounted_tmpfs"
        mount -t tmpfs -o size=1m,mode=0700 tmpfs "$mounted_tmpfs"
    fi
    install -d -m 0700 "$secrets_base"
    if [ ! -f "$local_dir/age-identity" ]; then
        recipient="$("$tenantd" secrets keygen --output "$local_dir/age-identity" 2>&1 >/dev/null |
            grep -o 'age1[0-9a-z]*')"
        echo "$recipient" >"$local_dir/age-recipient"
        rm -f "$openclaw" # encrypted to a key that is gone
    fi
    write_config "tenants.d"
    if [ ! -f "$openclaw" ]; then
        token="${TENANTD_QUICKSTART_GATEWAY_TOKEN:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}"
        sealed="$(printf '%s' "$token" | "$tenantd" --config "$config" secrets encrypt | sed 's/^/      /')"
        unset token
        cat >"$openclaw.tmp" <<YAML
# yaml-language-server: \$schema=../schemas/tenant.schema.json
# Written by scripts/quickstart.sh: a runtime whose openclaw.json tenantd generates (see it with
# \`tenantd render openclaw\`), and whose gateway token is age-encrypted to this quickstart's key
# (age-identity, next to this directory). tenantd decrypts it in memory into tmpfs; the runtime
# reads it at /run/secrets/openclaw/GATEWAY_TOKEN and never finds it in its environment.
apiVersion: tenantd/v1
kind: Tenant
metadata:
  name: openclaw
  labels: { plan: pro }
spec:
  build: { context: ../examples/stub-runtime }
  port: 18789
  resources: { memory: 128Mi, cpus: 0.5, pids: 128 }
  health:
    path: /health
    interval: 5s
    timeout: 2s
    retries: 3
    startPeriod: 5s
    probeCommand: ["/stub-runtime", "probe"]
  volumes:
    - { name: workspace, mountPath: /home/node/.openclaw/workspaces }
  secrets:
    GATEWAY_TOKEN:
$sealed
  runtimeConfig:
    gatewayToken: { secret: GATEWAY_TOKEN }
    agents:
      - name: support
        model: { tier: sonnet, temperature: 0.3 }
        tools: { allow: [read, web_search, message], deny: [browser] }
YAML
        mv "$openclaw.tmp" "$openclaw"
    fi
fi
unset TENANTD_QUICKSTART_GATEWAY_TOKEN
write_config "tenants.d"

"$tenantd" --config "$config" apply

# Shown relative to the checkout when they are in it.
here="$local_dir" bin="$tenantd"
[ "${here#"$repo"/}" = "$here" ] || here="${here#"$repo"/}"
[ "${bin#"$repo"/}" = "$bin" ] || bin="./${bin#"$repo"/}"
if [ -n "$no_daemon" ]; then
    "$tenantd" --config "$config" status
    echo
    echo "Applied; no daemon runs (--no-daemon). Try: $bin --config $here/tenantd.toml plan"
    exit 0
fi
cat <<TEXT

tenantd run: the daemon keeps these tenants converged. Ctrl-C stops it; the tenants keep running.
In another terminal:
    T="$bin --config $here/tenantd.toml"
    \$EDITOR $here/tenants.d/acme.yaml      # e.g. LOG_LEVEL: debug; the daemon applies it on save
    \$T plan                               # what differs from the files (nothing, once applied)
    \$T status                             # phase, health and port of each tenant
    \$T render openclaw                    # the generated openclaw.json, secrets as references
    ./scripts/quickstart.sh down          # stops the daemon, removes the tenants

TEXT
echo $$ >"$daemon_pid"
exec "$tenantd" --config "$config" run
