# Shared setup functions. POSIX sh; source it from the repository root:
#
#   cd "$repo_root" && . scripts/lib.sh && ensure_venv && ensure_engine && ensure_image
#   ensure_plots_image    # the matplotlib variant, for the Docker plot tests (scripts/test)
#
# Every function is idempotent and cheap when there is nothing to do, prints
# short "[setup]" progress lines to stderr, and returns non-zero (with a hint
# saying exactly what to do) when it cannot finish on its own.
#
# Environment:
#   PYTHON          interpreter used to create .venv (default: python3; needs >= 3.11)
#   SANDBOX_IMAGE   sandbox image (default: python:3.11-slim)
#   SANDBOX_EXTRAS  extras installed into .venv (default: test,autogen,ag2)
#   SANDBOX_PLOTS_IMAGE  image with matplotlib (default: sandbox-python:3.11-plots)
#   DOCKER_HOST     honoured: if it is set and does not answer, we never start a
#                   local dockerd, we tell you.

_say() { printf '[setup] %s\n' "$*" >&2; }

_is_root() { [ "$(id -u)" = 0 ]; }
_is_debian() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

_SANDBOX_APT_UPDATED=0
_apt_update_once() {
    [ "$_SANDBOX_APT_UPDATED" = 1 ] && return 0
    _say "apt-get update"
    apt-get update -qq >&2 || return 1
    _SANDBOX_APT_UPDATED=1
}
_apt_install() {
    _say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# --- Python ------------------------------------------------------------------

# .venv with the project installed editable, plus the extras in SANDBOX_EXTRAS
# (default: test, and the AutoGen and AG2 packages the drop-in executors are
# tested against). Re-installs when pyproject.toml is newer than the stamp
# .venv/.installed or the extras differ from the ones it records.
ensure_venv() {
    py=${PYTHON:-python3}
    if [ -x .venv/bin/python ] && ! .venv/bin/python -c '' >/dev/null 2>&1; then
        _say ".venv is broken (its interpreter is gone?); recreating it"
        rm -f .venv/.installed
        "$py" -m venv --clear .venv || { _say "could not recreate .venv with $py"; return 1; }
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! command -v "$py" >/dev/null 2>&1; then
            _say "no '$py' on PATH: install Python >= 3.11 or set PYTHON=/path/to/python3.11"
            return 1
        fi
        if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            _say "$py is $("$py" -c 'import platform; print(platform.python_version())'); this project needs >= 3.11."
            _say "set PYTHON=/path/to/python3.11 (or newer) and re-run"
            return 1
        fi
        _say "creating .venv with $py"
        if ! "$py" -m venv .venv; then
            _say "'$py -m venv .venv' failed (see above; on Debian/Ubuntu it may need: apt-get install python3-venv)"
            return 1
        fi
    fi
    extras=${SANDBOX_EXTRAS:-test,autogen,ag2}
    if [ ! -f .venv/.installed ] || [ "$(cat .venv/.installed)" != "$extras" ] ||
        [ -n "$(find pyproject.toml -newer .venv/.installed 2>/dev/null)" ]; then
        _say "pip install -e '.[$extras]' into .venv"
        .venv/bin/python -m pip install -q -e ".[$extras]" >&2 || { _say "pip install failed"; return 1; }
        printf '%s\n' "$extras" >.venv/.installed  # the stamp names the extras, so changing them reinstalls
    fi
    _say "venv: ok"
}

# --- Docker engine --------------------------------------------------------------

_docker_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

# --- gVisor (runsc) -------------------------------------------------------------

# Register gVisor's runsc in daemon.json (SANDBOX_DAEMON_JSON, default
# /etc/docker/daemon.json), with the sandbox network off at the runtime level and
# gVisor's default platform (--platform=kvm hangs on machines without nested KVM),
# and beside it runsc-net, which a sandbox uses only when it asked for a network
# (allow_hosts= or network=): runsc with --network=none ignores the container's
# network entirely. runsc-net uses gVisor's own network stack, except for runsc
# releases before 2024-08, which refuse it on kernels that show
# /proc/sys/net/core/rmem_default in every network namespace (google/gvisor#10704;
# Debian bookworm ships 20221219): those get --network=host, i.e. the host kernel's
# TCP/IP stack, still inside the network namespace Docker made for the container
# (so the allow-list still holds, but the code reaches the host kernel's network code).
# Only touches the file when an entry is missing; merges into an existing file
# instead of overwriting it. Returns 0 when it changed the file, 1 otherwise.
_register_runsc() {
    runsc=$(command -v runsc 2>/dev/null) || return 1
    cfg=${SANDBOX_DAEMON_JSON:-/etc/docker/daemon.json}
    if [ -f "$cfg" ] && grep -q '"runsc"' "$cfg" && grep -q '"runsc-net"' "$cfg"; then
        return 1
    fi
    released=$(runsc --version 2>/dev/null | sed -n '1s/.*\([0-9]\{8\}\).*/\1/p')
    if [ "${released:-0}" -ge 20240801 ]; then net_args='[]'; else net_args='["--network=host"]'; fi
    mkdir -p "$(dirname "$cfg")"
    if [ -f "$cfg" ]; then
        _say "adding the runsc and runsc-net runtimes to existing $cfg"
        cp "$cfg" "$cfg.bak-sandbox"
        python3 -c '
import json, sys
path, runsc, net_args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with open(path) as f:
    text = f.read()
cfg = json.loads(text) if text.strip() else {}
runtimes = cfg.setdefault("runtimes", {})
runtimes.setdefault("runsc", {"path": runsc, "runtimeArgs": ["--network=none"]})
runtimes.setdefault("runsc-net", {"path": runsc, "runtimeArgs": net_args})
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
' "$cfg" "$runsc" "$net_args" || { _say "could not merge into $cfg (invalid JSON?); left it alone, backup in $cfg.bak-sandbox"; return 1; }
    else
        _say "writing $cfg (registers runsc with --network=none, and runsc-net)"
        printf '{\n  "runtimes": {\n    "runsc": {"path": "%s", "runtimeArgs": ["--network=none"]},\n    "runsc-net": {"path": "%s", "runtimeArgs": %s}\n  }\n}\n' \
            "$runsc" "$runsc" "$net_args" >"$cfg"
    fi
}

# SIGHUP makes a running dockerd re-read daemon.json (runtimes included); it is not a restart.
_reload_engine_config() {
    if pid=$(_dockerd_pid); then
        kill -HUP "$pid" && _say "asked dockerd (pid $pid) to reload ${SANDBOX_DAEMON_JSON:-/etc/docker/daemon.json}"
    fi
    return 0
}

# Debian's runsc package, installed when missing (root on Debian only), then
# registered. Best effort: without gVisor the runc runtime still works, and
# DockerExecutor(runtime="runsc") fails closed with the fix named. Returns 0 when
# it changed daemon.json (the engine must then reload it).
_ensure_runsc() {
    if ! command -v runsc >/dev/null 2>&1; then
        if ! _is_root || ! _is_debian; then
            _say "runsc (gVisor) is not installed; for runtime=\"runsc\": https://gvisor.dev/docs/user_guide/install/"
            return 1
        fi
        _apt_update_once || true
        if ! apt-cache show runsc >/dev/null 2>&1; then
            _say "runsc (gVisor) is not in the apt sources; continuing without it"
            return 1
        fi
        _apt_install runsc || { _say "could not install runsc; continuing without gVisor"; return 1; }
    fi
    _register_runsc
}

# A local engine that answers but lacks runsc: install and register it, then have
# dockerd reload daemon.json (SIGHUP reloads the runtimes; running containers are
# not touched). Only for root on Debian with the default engine address.
_ensure_runsc_live() {
    [ -z "${DOCKER_HOST:-}" ] && _is_root && _is_debian || return 0
    docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && return 0
    _ensure_runsc || return 0
    if pid=$(_dockerd_pid); then
        _say "reloading dockerd (pid $pid) so that it sees runsc"
        kill -HUP "$pid"
    elif command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl reload docker >&2 || true
    fi
    i=0
    while [ "$i" -lt 10 ]; do
        docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && { _say "runtime runsc: registered"; return 0; }
        i=$((i + 1))
        sleep 1
    done
    _say "dockerd does not list runsc yet; restart the engine to load ${SANDBOX_DAEMON_JSON:-/etc/docker/daemon.json}"
}

_dockerd_pid() {
    # a live dockerd that owns the default pid file (it may still be starting)
    [ -r /var/run/docker.pid ] || return 1
    pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # kill -0 succeeds on a zombie too: a dockerd that died unreaped is not running
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
    [ "$state" != Z ] && echo "$pid"
}

_engine_help() {
    err=$(docker info 2>&1 >/dev/null | tail -n 1)
    [ -n "$err" ] && _say "docker says: $err"
    if [ -n "${DOCKER_HOST:-}" ]; then
        _say "DOCKER_HOST=$DOCKER_HOST does not answer: start that engine, or unset DOCKER_HOST to use the local one"
    elif [ "$(uname -s)" = Darwin ]; then
        _say "start Docker Desktop (or 'colima start'), wait until 'docker info' works, then re-run"
    elif printf '%s' "$err" | grep -qi 'permission denied'; then
        _say "the engine runs but you may not use it: sudo usermod -aG docker \"\$USER\", log in again, re-run"
    elif command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        _say "start the engine: sudo systemctl start docker (or start Docker Desktop), then re-run"
    else
        _say "start the engine: 'sudo dockerd &' or Docker Desktop, or set DOCKER_HOST to one that answers; or re-run this as root on Debian and it will do it"
    fi
}

# A Docker engine that answers `docker info`. On Debian as root it installs
# docker.io (and runsc if the archive has it) and starts dockerd itself;
# anywhere else it tells you what to do and returns 1.
ensure_engine() {
    if _docker_answers; then
        # An engine set up before runsc-net existed: register it, and have the running
        # dockerd reload its runtimes (SIGHUP reloads daemon.json; it is not a restart).
        if [ -z "${DOCKER_HOST:-}" ] && _is_root && _is_debian && _register_runsc; then
            _reload_engine_config
        fi
        _say "engine: docker answers"
        _ensure_runsc_live
        return 0
    fi
    if [ -n "${DOCKER_HOST:-}" ] || ! _is_root || ! _is_debian; then
        if ! command -v docker >/dev/null 2>&1; then
            _say "no docker CLI. Install Docker Desktop (macOS/Windows: https://docs.docker.com/get-docker/)"
            _say "or, on Debian/Ubuntu: sudo apt-get install docker.io  (then re-run)"
            return 1
        fi
        _engine_help
        return 1
    fi

    # root on Debian: install what is missing, then start dockerd ourselves
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        _apt_update_once || { _say "apt-get update failed"; return 1; }
        _apt_install docker.io || { _say "could not install docker.io"; return 1; }
    fi
    if _ensure_runsc; then
        _reload_engine_config  # a dockerd the package started has not read the new runtimes
    fi
    # the package may have started it (systemd), or a dockerd may be coming up
    if _docker_answers; then
        _say "engine: docker answers"
        return 0
    fi

    log=/var/log/sandbox-dockerd.log
    if pid=$(_dockerd_pid); then
        _say "dockerd (pid $pid) is already running; waiting for it"
    elif command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        _say "systemctl start docker"
        systemctl start docker >&2 || true
        log="'journalctl -u docker'"
    else
        if [ -f /var/run/docker.pid ]; then
            # dockerd refuses to start over a pid file whose pid still answers kill -0,
            # which a crashed, unreaped (zombie) dockerd does
            _say "removing the stale /var/run/docker.pid"
            rm -f /var/run/docker.pid
        fi
        _say "starting dockerd in the background (log: $log)"
        # In a subshell that exits at once, so dockerd is re-parented away from us: the
        # caller may exec pytest next, which must not find the engine among its children.
        if command -v setsid >/dev/null 2>&1; then
            (setsid nohup dockerd >>"$log" 2>&1 </dev/null &)
        else
            (nohup dockerd >>"$log" 2>&1 </dev/null &)
        fi
    fi
    i=0
    while [ "$i" -lt 60 ]; do
        if docker info >/dev/null 2>&1; then
            _say "engine: dockerd answers after ${i}s"
            return 0
        fi
        i=$((i + 1))
        sleep 1
    done
    _say "dockerd did not answer within 60s; see $log"
    [ -f /var/log/sandbox-dockerd.log ] && tail -n 15 /var/log/sandbox-dockerd.log >&2
    return 1
}

# --- Image ---------------------------------------------------------------------------

# The sandbox image: present, else pulled, else (for the default name only)
# the offline stand-in built from Debian packages by images/offline/build.
ensure_image() {
    img=${SANDBOX_IMAGE:-python:3.11-slim}
    if docker image inspect "$img" >/dev/null 2>&1; then
        if [ "$(docker image inspect -f '{{ index .Config.Labels "io.sandbox.stand-in" }}' "$img" 2>/dev/null)" = true ]; then
            _say "image: $img present (OFFLINE STAND-IN built from Debian packages, see images/offline/README.md)"
        else
            _say "image: $img present"
        fi
        return 0
    fi
    _say "image: $img missing; docker pull (60s limit)"
    to=
    if command -v timeout >/dev/null 2>&1; then to="timeout 60"
    elif command -v gtimeout >/dev/null 2>&1; then to="gtimeout 60"
    fi
    if $to docker pull -q "$img" >&2; then
        _say "image: pulled $img"
        return 0
    fi
    if [ "$img" != python:3.11-slim ]; then
        _say "could not pull $img. The offline stand-in only replaces python:3.11-slim:"
        _say "build $img where a registry answers (e.g. docker build -t $img images/python), or unset SANDBOX_IMAGE"
        return 1
    fi
    _say "pull failed (no registry?); building the offline stand-in with images/offline/build"
    if images/offline/build; then
        return 0
    fi
    _say "could not build the stand-in either. Either make a registry reachable and run"
    _say "  docker pull python:3.11-slim"
    _say "or, on a Debian host with a package mirror, run as root: sudo images/offline/build"
    return 1
}

# The plots variant: the stand-in plus Debian's numpy and matplotlib, built by
# images/offline/build --variant plots (labelled io.sandbox.stand-in=true and
# io.sandbox.variant=plots). The Docker plot tests run in it; scripts/test
# builds it once, when it is missing (a few minutes, about 470 MB).
ensure_plots_image() {
    img=${SANDBOX_PLOTS_IMAGE:-sandbox-python:3.11-plots}
    if docker image inspect "$img" >/dev/null 2>&1; then
        variant=$(docker image inspect -f '{{ index .Config.Labels "io.sandbox.variant" }}' "$img" 2>/dev/null)
        _say "image: $img present${variant:+ (offline build, variant $variant)}"
        return 0
    fi
    if [ "$img" != sandbox-python:3.11-plots ]; then
        _say "image $img (SANDBOX_PLOTS_IMAGE) is missing: build it, or unset SANDBOX_PLOTS_IMAGE to build the default"
        return 1
    fi
    if ! _is_root || ! _is_debian; then
        _say "image: $img missing. Build it as root on a Debian host: sudo images/offline/build --variant plots"
        return 1
    fi
    _say "image: $img missing; building it with images/offline/build --variant plots (once, a few minutes)"
    images/offline/build --variant plots
}
