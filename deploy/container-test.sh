#!/usr/bin/env bash
# Build the real image with podman and prove it works: `make container-test`.
#
# No container registry is reachable from the project's machines, so the base image is made
# locally (deploy/base-image.sh: Debian bookworm + Python 3.11, built once and cached) and the
# project's Dockerfile is built on it with --build-arg BASE_IMAGE. The image then runs with a
# read-only root filesystem, networking on the host (loopback only) and these checks:
# ready, HEALTHCHECK, scoring over HTTP, non-root processes, SIGTERM drains in-flight requests,
# a models folder mounted over the baked one is served, an empty one leaves the process alive
# but not ready. Everything it starts is removed on exit; the images stay as build cache.
#
# Needs root (debootstrap, podman's rootful storage). Installs podman, buildah, debootstrap and
# runc with apt-get when they are missing. Prints one PASS or FAIL line per check, with timings.
#
# Environment: CONTAINER_TEST_IMAGE (default localhost/customer-segmentation:container-test),
# CONTAINERS_CONF (default deploy/containers.conf), BASE_IMAGE (skip the local base and build on
# this image instead), and those of deploy/base-image.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
image="${CONTAINER_TEST_IMAGE:-localhost/customer-segmentation:container-test}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
run_id="segmentation-ct-$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/$run_id.XXXXXX")"
started=$SECONDS
step_started=$SECONDS
containers=()
# A key for the server to require (SEGMENT_API_KEYS) and the client to send; hex cannot spell
# the placeholder words the service refuses.
CONTAINER_TEST_API_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
export CONTAINER_TEST_API_KEY

say() { printf 'container-test: %s\n' "$*"; }
indent() { sed 's/^/    /'; }
elapsed() { printf '[%ss]' "$((SECONDS - step_started))"; }
pass() {
    say "PASS $* $(elapsed)"
    step_started=$SECONDS
}
fail() {
    say "FAIL $* $(elapsed)"
    for name in "${containers[@]}"; do
        if podman container exists "$name" 2>/dev/null; then
            say "last log lines of $name:"
            podman logs --tail 25 "$name" 2>&1 | indent || true
        fi
    done
    say "FAIL after $((SECONDS - started))s"
    exit 1
}
networks=()
cleanup() {
    for name in "${containers[@]}"; do
        podman rm --force --time 0 "$name" >/dev/null 2>>"$work/podman.log" || true
    done
    for network in "${networks[@]}"; do
        podman network rm --force "$network" >/dev/null 2>>"$work/podman.log" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

client() { python3 "$here/container_client.py" "$@"; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start NAME [podman run options...]: a detached container of the image on a free loopback
# port, left in $port. (podman's complaint that without systemd it cannot time the HEALTHCHECK
# goes to a log: `podman healthcheck run` below runs it by hand.)
start() {
    local name="$run_id-$1"
    shift
    port="$(free_port)"
    containers+=("$name")
    podman run --detach --name "$name" --network=host --read-only \
        --env SEGMENT_HOST=127.0.0.1 --env SEGMENT_PORT="$port" \
        --env SEGMENT_API_KEYS="$CONTAINER_TEST_API_KEY" "$@" "$image" \
        >/dev/null 2>>"$work/podman.log" || { cat "$work/podman.log"; fail "podman run $name"; }
}

# until NAME CLIENT-ARGS...: run the client check (ready or unready) until it passes, giving up
# at once if the container exits and after two minutes if it never does.
until_up() {
    local name="$1" out deadline=$((SECONDS + 120))
    shift
    while ((SECONDS < deadline)); do
        out="$(client "$@" --timeout 2)" && { printf '%s\n' "$out"; return 0; }
        if [[ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]]; then
            echo "the container exited with $(podman inspect --format '{{.State.ExitCode}}' "$name")"
            return 1
        fi
    done
    printf '%s\n' "$out"
    return 1
}

# --- tools -----------------------------------------------------------------------------------
if [[ "$(id -u)" != 0 ]]; then
    say "FAIL needs root (podman's rootful storage, debootstrap)"
    exit 1
fi
missing=()
for tool in podman buildah debootstrap runc podman-compose; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update && apt-get install -y podman buildah debootstrap runc podman-compose; } \
        >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; fail "apt-get install"; }
fi
pass "tools: $(podman --version), $(runc --version | head -n1), podman-compose $(podman-compose version 2>/dev/null | sed -n 's/^podman-composer* version *//p')"

# --- images ----------------------------------------------------------------------------------
if [[ -n "${BASE_IMAGE:-}" ]]; then
    base="$BASE_IMAGE"
else
    base="$(bash "$here/base-image.sh" 2>"$work/base.log" | tail -n1)" \
        || { cat "$work/base.log"; fail "local base image"; }
fi
pass "base image $base$(grep -q cached "$work/base.log" 2>/dev/null && echo ' (cached)')"

# --format docker: the OCI image format has no HEALTHCHECK, and podman would drop it.
podman build --format docker --network=host --build-arg BASE_IMAGE="$base" --tag "$image" "$root" \
    >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; fail "podman build"; }
# Earlier builds of the image, untagged by this one, are no use as cache: drop them.
podman image prune --force \
    --filter label=org.opencontainers.image.title=customer-segmentation >/dev/null 2>&1 || true
cached_steps="$(grep -c -- '--> Using cache' "$work/build.log" || true)"
pass "build $image ($cached_steps steps from cache, $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'))"

# The image serves and nothing more: no training stack, no training code.
contents="$(podman run --rm --network=none --entrypoint python3 "$image" -c '
import importlib.util, service.app
print(" ".join(m for m in ("matplotlib", "sqlalchemy", "training") if importlib.util.find_spec(m)))
' 2>"$work/contents.log")" || fail "the service does not import in the image: $(tail -n 5 "$work/contents.log")"
[[ -z "$contents" ]] || fail "the image carries what only training needs: $contents"
pass "serving only: service.app imports; matplotlib, sqlalchemy and training are absent"

# --- the baked model -------------------------------------------------------------------------
start main
main="$run_id-main"
url="http://127.0.0.1:$port"
version="$(until_up "$main" ready "$url")" || fail "ready: $version"
pass "ready on $url with the baked model $version"

podman healthcheck run "$main" >/dev/null 2>&1 || fail "HEALTHCHECK (python3 -m service.healthcheck)"
pass "HEALTHCHECK (python3 -m service.healthcheck) answers healthy"

scored="$(client score "$url")" || fail "scoring: $scored"
pass "scoring: $scored"

# The web page ships inside the package: served from the image with its security headers.
page="$(python3 - "$url" <<'PY' 2>&1
import sys, urllib.request
base = sys.argv[1]
with urllib.request.urlopen(base + "/ui", timeout=5) as page:
    assert "default-src 'none'" in page.headers["Content-Security-Policy"], page.headers
    assert b"/ui/static/app.js" in page.read()
with urllib.request.urlopen(base + "/ui/static/app.js", timeout=5) as script:
    print(f"/ui and app.js ({len(script.read()):,} bytes) with a strict CSP")
PY
)" || fail "the web page: $page"
pass "web page: $page"

# Every process of the server: segment-serve, the uvicorn workers it starts, multiprocessing's
# resource tracker.
processes="$(podman top "$main" user args | tail -n +2)"
uids="$(awk '{print $1}' <<<"$processes" | sort -u | tr '\n' ' ')"
count="$(wc -l <<<"$processes")"
[[ "$uids" == "10001 " ]] || fail "processes run as uid(s) $uids, expected only 10001: $processes"
workers="$(grep -c -- '--multiprocessing-fork' <<<"$processes" || true)"
pass "all $count processes run as uid 10001 (segment-serve, $workers workers, resource tracker)"

# drain NAME URL WHAT: SIGTERM during a stream of requests (deploy/container_client.py says how
# it is judged), then the container must exit 0 by itself within its graceful-shutdown time.
drain() {
    local name="$1" url="$2" what="$3" pid grace drained exit_code signalled=$SECONDS
    pid="$(podman inspect --format '{{.State.Pid}}' "$name")"
    grace="$(podman exec "$name" printenv SEGMENT_GRACEFUL_SHUTDOWN_SECONDS)"
    drained="$(client drain "$url" --pid "$pid" --logs-cmd "podman logs $name")" \
        || { indent <<<"$drained"; fail "SIGTERM drain ($what)"; }
    indent <<<"$drained"
    timeout "$((grace + 10))" podman wait "$name" >"$work/exit-code" 2>&1 \
        || fail "the server did not exit within ${grace}s + 10s of SIGTERM ($what)"
    exit_code="$(tr -d '[:space:]' <"$work/exit-code")"
    [[ "$exit_code" == 0 ]] || fail "the server exited with $exit_code after SIGTERM ($what)"
    if podman logs "$name" 2>&1 | grep -E 'Traceback|ERROR|Cancel [0-9]+ running task' \
        >"$work/errors"; then
        fail "errors in the server log ($what): $(head -n 5 "$work/errors")"
    fi
    pass "SIGTERM ($what): no request failed, exit 0 after $((SECONDS - signalled))s"
}
drain "$main" "$url" "$workers workers: SEGMENT_WORKERS=0, one per CPU"

# --- a models folder mounted over the baked one ----------------------------------------------
mkdir -p "$work/models" "$work/empty"
podman cp "$main:/opt/models/." "$work/models" || fail "copy the baked models out"
start mounted --volume "$work/models:/opt/models:ro" --env SEGMENT_MODEL_VERSION="$version" \
    --env SEGMENT_WORKERS=1
mounted_port="$port"
start empty --volume "$work/empty:/opt/models:ro"
empty_port="$port"
mounted="$(until_up "$run_id-mounted" ready "http://127.0.0.1:$mounted_port")" \
    || fail "mounted models: $mounted"
[[ "$mounted" == "$version" ]] || fail "mounted models: serves $mounted, expected $version"
reason="$(until_up "$run_id-empty" unready "http://127.0.0.1:$empty_port")" \
    || fail "empty models folder: $reason"
pass "a mounted models folder is served (pinned $mounted); an empty one: live, not ready ($reason)"
drain "$run_id-mounted" "http://127.0.0.1:$mounted_port" "one worker, as in deploy/k8s"

# --- compose.yaml, as podman-compose runs it ---------------------------------------------------
# podman-compose's dry run prints the podman commands it makes of compose.yaml; that very
# `podman run` runs here on this test's image (tagged as compose.yaml names it), the host's
# ./models being the folder filled above, with only the network replaced (see
# deploy/compose_run.py). The dry run still creates the project's network: named after this
# run, it is removed on exit.
compose_image="$(sed -n 's/^    image: *//p' "$root/compose.yaml")"
podman tag "$image" "$compose_image" || fail "podman tag $image $compose_image"
networks+=("${run_id}_default")
dry="$(cd "$root" && podman-compose -p "$run_id" --dry-run up --no-build -d 2>&1)" \
    || { printf '%s\n' "$dry"; fail "podman-compose --dry-run up"; }
compose_port="$(free_port)"
compose_args="$(python3 "$here/compose_run.py" "$run_id-compose" "$work/models" "$compose_port" \
    <<<"$dry" 2>&1)" || fail "compose.yaml's podman run: $compose_args"
mapfile -t compose_args <<<"$compose_args"
containers+=("$run_id-compose")
podman "${compose_args[@]}" >/dev/null 2>>"$work/podman.log" \
    || { cat "$work/podman.log"; fail "podman run (compose.yaml): ${compose_args[*]}"; }
compose_url="http://127.0.0.1:$compose_port"
served="$(until_up "$run_id-compose" ready "$compose_url")" || fail "compose.yaml: $served"
[[ "$served" == "$version" ]] || fail "compose.yaml serves $served, expected ./models' $version"
scored="$(client score "$compose_url")" || fail "compose.yaml scoring: $scored"
user="$(podman inspect --format '{{.Config.User}}' "$run_id-compose")"
read_only="$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$run_id-compose")"
capabilities="$(podman top "$run_id-compose" capeff | tail -n +2 | sort -u | tr '\n' ' ')"
[[ "$user $read_only $capabilities" == "10001:10001 true none " ]] \
    || fail "compose.yaml's container: user $user, read-only $read_only, capabilities $capabilities"
podman stop --time 30 "$run_id-compose" >/dev/null 2>>"$work/podman.log" \
    || fail "podman stop (compose.yaml)"
exit_code="$(podman inspect --format '{{.State.ExitCode}}' "$run_id-compose")"
[[ "$exit_code" == 0 ]] || fail "compose.yaml's container exited with $exit_code on stop"
pass "compose.yaml as podman-compose runs it (network replaced): serves ./models ($served), scores, user $user, read-only root, no capabilities, exit 0 on stop"

say "PASS all checks in $((SECONDS - started))s"
