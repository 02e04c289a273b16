# Sourced by tracer/setup.sh: get the engine that is here answering, and the demo image. Only
# what set-up starts itself is recorded (pid and start time), so `remove` stops only that.

ping_daemon() {
    curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
}

alive() { [ -n "$(running_pid "$1")" ]; }
init_name() { cat /proc/1/comm 2>/dev/null || true; }

record_started() {
    local name=$1 pid
    pid=$(running_pid "$name")
    [ -n "$pid" ] && record started-daemons "$name $pid $(start_ticks "$pid")"
    return 0
}

start_containerd() {
    say "starting containerd in the background (log: $logdir/containerd.log)"
    setsid containerd >>"$logdir/containerd.log" 2>&1 </dev/null &
    for _ in $(seq 100); do
        [ -S /run/containerd/containerd.sock ] && alive containerd && break
        sleep 0.1
    done
    record_started containerd
}

start_dockerd() {
    # A dockerd killed with -9 leaves its pid file; a reused pid in it would stop a start.
    rm -f /var/run/docker.pid
    say "starting dockerd in the background (log: $logdir/dockerd.log)"
    setsid dockerd --containerd=/run/containerd/containerd.sock >>"$logdir/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 50); do alive dockerd && break; sleep 0.1; done
    record_started dockerd
}

start_units() {
    local unit
    for unit in containerd docker; do
        systemctl is-active --quiet "$unit" && continue
        systemctl cat "$unit.service" >/dev/null 2>&1 || { say "no $unit.service unit here: the engine is half-installed (reinstall its package)"; continue; }
        say "$unit.service is not running: starting it through systemctl (setup.sh remove stops it again)"
        systemctl start "$unit" && record started-daemons "systemd $unit"
    done
    return 0
}

# The engine that is here, answering /_ping; set-up never installs or starts a second one.
start_daemons() {
    if ping_daemon; then say "dockerd: already answering /_ping (left as it is)"; return 0; fi
    # An engine that is not the system's daemon is the user's to start: set-up starts no other.
    local rootless; rootless=$(rootless_socket)
    if [ -n "$rootless" ]; then
        say "dockerd: no system daemon answering; a rootless one listens on $rootless: run with DOCKER_HOST=unix://$rootless"
        return 1
    fi
    if snap_docker; then
        say "dockerd: the docker snap is not answering: sudo snap start docker"
        return 1
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        say "dockerd: not here (found ${engine_name:-no engine}); live mode needs it: install the rest of your engine (e.g. apt-get install docker-ce), replay works without"
        return 1
    fi
    if [ "$(init_name)" = systemd ]; then
        start_units
    else
        [ -d "$logdir" ] || { mkdir -p "$logdir"; record made-dirs "$logdir"; }
        if alive containerd; then say "containerd: already running (left as it is)"; else start_containerd; fi
        if alive dockerd; then say "dockerd: running but not answering yet; waiting"; else start_dockerd; fi
    fi
    local started_late=""
    for _ in $(seq 300); do
        ping_daemon && break
        # The dockerd we waited for may have been on its way out: start one, once.
        if [ -z "$started_late" ] && [ "$(init_name)" != systemd ] && ! alive dockerd; then
            alive containerd || start_containerd
            start_dockerd
            started_late=1
        fi
        sleep 0.1
    done
    if ! ping_daemon; then
        say "dockerd did not answer /_ping within 30 s; see $logdir/dockerd.log (systemd: systemctl status docker; journalctl -u docker)"
        tail -20 "$logdir/dockerd.log" >&2 2>/dev/null || true
        return 1
    fi
    say "dockerd: answering /_ping"
}

demo_image() {
    # The article's alpine when it is here or can be pulled; otherwise a tiny busybox image
    # built offline from busybox-static (no registry needed).
    if docker image inspect alpine:latest >/dev/null 2>&1; then say "demo image: alpine (present)"; return 0; fi
    if docker image inspect dockertrace/busybox:latest >/dev/null 2>&1; then say "demo image: dockertrace/busybox (present)"; return 0; fi
    if timeout 20 docker pull -q alpine:latest >/dev/null 2>&1; then
        record images alpine:latest
        say "demo image: alpine (pulled)"
        return 0
    fi
    [ -x /bin/busybox ] || { say "demo image: none (alpine cannot be pulled, busybox-static is not installed)"; return 1; }
    say "alpine cannot be pulled here: building dockertrace/busybox:latest from busybox-static"
    local root; root=$(mktemp -d)
    mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp,root}
    cp /bin/busybox "$root/bin/busybox"
    for app in $("$root/bin/busybox" --list); do [ -e "$root/bin/$app" ] || ln -s busybox "$root/bin/$app"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -m 'dockertrace offline demo image (busybox-static)' - dockertrace/busybox:latest >/dev/null
    rm -rf "$root"
    record images dockertrace/busybox:latest
    say "demo image: dockertrace/busybox:latest (built offline)"
}
