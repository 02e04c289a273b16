#!/usr/bin/env bash
# Sets up everything dockertrace needs on a Debian/Ubuntu machine, idempotently, then runs a job:
#   setup.sh run [ARGS...]   the app (live when it can, the bundled replay otherwise)
#   setup.sh test [ARGS...]  ruff, mypy and the whole test suite (unit + live)
#   setup.sh env             set-up only
# It installs only what is missing, never stops or reconfigures a daemon that is already running,
# and says what it did. Daemon logs: /var/log/dockertrace/{containerd,dockerd}.log
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$here/.venv"
logdir=/var/log/dockertrace
job=${1:-env}
[ $# -gt 0 ] && shift

say() { printf 'setup: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_packages() {
    local want=(docker.io containerd runc busybox-static bpfcc-tools python3-bpfcc python3-venv
                bpftrace socat curl docker-registry tmux iptables openssl)
    local missing=()
    for p in "${want[@]}"; do have_pkg "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        say "packages: all present"
    fi
}

install_headers() {
    local kver mod
    kver=$(uname -r)
    mod=/lib/modules/$kver
    if [ -e "$mod/build/include/linux/kconfig.h" ] || [ -e "$mod/build/Makefile" ]; then
        say "kernel headers: $mod/build present"
        return
    fi
    if apt-cache show "linux-headers-$kver" >/dev/null 2>&1; then
        say "installing linux-headers-$kver"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "linux-headers-$kver" >/dev/null
        return
    fi
    # No headers for this kernel (a VM with its own kernel): link the distribution's generic
    # headers. Tracepoint programs only read tracepoint arguments and user memory, so a different
    # version's headers compile and load; kernel struct layouts are never read through them.
    local meta=linux-headers-amd64
    [ "$(dpkg --print-architecture)" = arm64 ] && meta=linux-headers-arm64
    have_pkg "$meta" || {
        say "installing $meta (no headers package for kernel $kver)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$meta" >/dev/null
    }
    local build common
    build=$(ls -d /usr/src/linux-headers-*-"${meta#linux-headers-}" 2>/dev/null | sort -V | tail -1)
    common=${build%-"${meta#linux-headers-}"}-common
    [ -d "$build" ] || { say "no generic headers found under /usr/src"; return 1; }
    mkdir -p "$mod"
    ln -sfn "$build" "$mod/build"
    ln -sfn "$common" "$mod/source"
    say "kernel headers: no package for $kver; linked $mod/build -> $build (generic headers)"
}

mount_tracefs() {
    if [ ! -e /sys/kernel/tracing/trace_pipe ]; then
        mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null && say "mounted tracefs on /sys/kernel/tracing" || say "tracefs: could not mount"
    fi
    if [ ! -e /sys/kernel/debug/tracing/trace_pipe ] && [ -d /sys/kernel/debug ]; then
        mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true
    fi
}

make_venv() {
    local stamp="$venv/.dockertrace-installed"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating venv $venv (system python3, --system-site-packages for bcc)"
        /usr/bin/python3 -m venv --system-site-packages "$venv"
    fi
    if [ ! -e "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
        say "installing dockertrace and its dependencies into the venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -e "$here[dev]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
        "$venv/bin/python" -c "import tracer, textual, h11, httpx, psutil" || { say "venv install failed"; return 1; }
        touch "$stamp"
    else
        say "venv: up to date"
    fi
}

ping_daemon() {
    curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
}

alive() {
    # A process of this exact name that is not a zombie (a killed daemon stays a zombie until
    # PID 1 reaps it, and PID 1 is not always an init that does so promptly).
    local pid
    for pid in $(pgrep -x "$1"); do
        case "$(ps -o stat= -p "$pid" 2>/dev/null)" in Z*|"") ;; *) return 0 ;; esac
    done
    return 1
}

start_containerd() {
    say "starting containerd in the background (log: $logdir/containerd.log)"
    setsid containerd >>"$logdir/containerd.log" 2>&1 </dev/null &
    for _ in $(seq 100); do
        [ -S /run/containerd/containerd.sock ] && alive containerd && break
        sleep 0.1
    done
}

start_dockerd() {
    # A dockerd killed with -9 leaves its pid file; a reused pid in it would stop a start.
    rm -f /var/run/docker.pid
    say "starting dockerd in the background (log: $logdir/dockerd.log)"
    setsid dockerd --containerd=/run/containerd/containerd.sock >>"$logdir/dockerd.log" 2>&1 </dev/null &
}

start_daemons() {
    if ping_daemon; then say "dockerd: already answering /_ping (left as it is)"; return; fi
    if [ "$(ps -o comm= -p 1)" = systemd ]; then
        say "starting containerd and docker through systemctl"
        systemctl start containerd docker
    else
        mkdir -p "$logdir"
        if alive containerd; then say "containerd: already running (left as it is)"; else start_containerd; fi
        if alive dockerd; then say "dockerd: running but not answering yet; waiting"; else start_dockerd; fi
    fi
    local started_late=""
    for _ in $(seq 300); do
        ping_daemon && break
        # The dockerd we waited for may have been on its way out: start one, once.
        if [ -z "$started_late" ] && [ "$(ps -o comm= -p 1)" != systemd ] && ! alive dockerd; then
            alive containerd || start_containerd
            start_dockerd
            started_late=1
        fi
        sleep 0.1
    done
    ping_daemon || { say "dockerd did not answer /_ping within 30 s; see $logdir/dockerd.log"; tail -20 "$logdir/dockerd.log" >&2 || true; return 1; }
    say "dockerd: answering /_ping"
}

demo_image() {
    # The article's alpine when it is here or can be pulled; otherwise a tiny busybox image
    # built offline from busybox-static (no registry needed).
    if docker image inspect alpine:latest >/dev/null 2>&1; then say "demo image: alpine (present)"; return; fi
    if docker image inspect dockertrace/busybox:latest >/dev/null 2>&1; then say "demo image: dockertrace/busybox (present)"; return; fi
    if timeout 20 docker pull -q alpine:latest >/dev/null 2>&1; then say "demo image: alpine (pulled)"; return; fi
    say "alpine cannot be pulled here: building dockertrace/busybox:latest from busybox-static"
    local root; root=$(mktemp -d)
    mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp,root}
    cp /bin/busybox "$root/bin/busybox"
    for app in $("$root/bin/busybox" --list); do [ -e "$root/bin/$app" ] || ln -s busybox "$root/bin/$app"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -m 'dockertrace offline demo image (busybox-static)' - dockertrace/busybox:latest >/dev/null
    rm -rf "$root"
    say "demo image: dockertrace/busybox:latest (built offline)"
}

setup_all() {
    local t0=$SECONDS
    if ! is_root; then
        say "not root: skipping system set-up (packages, headers, daemons); live tracing needs root"
        [ -x "$venv/bin/python" ] || make_venv
        return
    fi
    install_packages
    install_headers || say "kernel headers: unavailable; bcc will not work (the tracefs backend still can)"
    mount_tracefs
    make_venv
    start_daemons
    demo_image
    say "set-up took $((SECONDS - t0)) s"
}

setup_all
export PATH="$venv/bin:$PATH"
case "$job" in
    env) ;;
    run) exec "$venv/bin/dockertrace" "$@" ;;
    test)
        cd "$here"
        "$venv/bin/ruff" check tracer tests bench
        "$venv/bin/ruff" format --check tracer tests bench
        "$venv/bin/mypy" tracer
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    *) say "unknown job '$job' (use: run, test, env)"; exit 2 ;;
esac
