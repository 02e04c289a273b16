#!/usr/bin/env bash
# Sets up everything dockertrace needs on a Debian/Ubuntu machine, idempotently, then runs a job:
#   setup.sh run [ARGS...]   the app (live when it can, the bundled replay otherwise)
#   setup.sh test [ARGS...]  ruff, mypy, lint-imports and the whole test suite (unit + live)
#   setup.sh env             set-up only
#   setup.sh remove          undo what set-up installed, started, linked and mounted here
# It uses the container engine that is here (whatever installed it) and installs one only where
# there is none; it plans every install and stops before apt would remove or replace a package;
# it never stops or reconfigures a daemon it did not start. What it changed is recorded under
# /var/lib/dockertrace/. Daemon logs: /var/log/dockertrace/{containerd,dockerd}.log
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$here/.venv"
logdir=/var/log/dockertrace
job=${1:-env}
[ $# -gt 0 ] && shift
# sudo's PATH has the sbin directories; a root shell's may not, and dockerd and runc live there.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

for part in common engine apt system daemons remove; do
    # shellcheck source=/dev/null
    . "$here/tracer/setup/$part.sh"
done

# Debian's engine, installed only where no engine is here at all.
debian_engine=(docker.io containerd runc)
# What dockertrace itself uses (DOCKERTRACE_PACKAGES replaces this list, e.g. for a minimal set-up);
# gcc and python3-dev build the proxy's relay loop in C (without them its Python loop runs).
read -r -a tools <<<"${DOCKERTRACE_PACKAGES:-busybox-static bpfcc-tools python3-bpfcc python3-venv gcc python3-dev bpftrace socat curl docker-registry tmux iptables openssl}"
# What only the test job needs: the set-up tests build a Debian chroot; the page is tested in
# a real headless Chromium driven through chromium-driver; the Mermaid output is parsed by npm's
# mermaid, so Node and npm too, from Debian only where no node is here (a NodeSource nodejs
# conflicts with Debian's npm: asking for it would make apt remove it, which set-up refuses).
test_tools=(debootstrap chromium chromium-driver)
command -v npm >/dev/null 2>&1 || test_tools+=(nodejs npm)

install_packages() {
    local want=("${tools[@]}")
    [ "$job" = test ] && want+=("${test_tools[@]}")
    detect_engine
    [ -n "$engine_found" ] || want=("${debian_engine[@]}" "${want[@]}")
    if in_chroot; then
        say "in a chroot: packages only (the kernel's headers, tracefs and the daemons are the host's)"
    else
        local h; h=$(header_packages)
        [ -z "$h" ] || want+=("$h")
    fi
    safe_install "${want[@]}"
}

make_venv() {
    local stamp="$venv/.dockertrace-installed"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating venv $venv (system python3, --system-site-packages for bcc)"
        /usr/bin/python3 -m venv --system-site-packages "$venv"
    fi
    # Reinstalled when what the install builds changed: the project file, the relay's C loop.
    if [ ! -e "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ] \
        || [ "$here/tracer/proxy/_duplex.c" -nt "$stamp" ]; then
        say "installing dockertrace and its dependencies into the venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -e "$here[dev]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
        "$venv/bin/python" -c "import tracer, textual, h11, httpx, psutil" || { say "venv install failed"; return 1; }
        touch "$stamp"
    else
        say "venv: up to date"
    fi
}

setup_all() {
    local t0=$SECONDS
    if ! is_root; then
        say "not root: skipping system set-up (packages, headers, daemons); live tracing needs root"
        [ -x "$venv/bin/python" ] || make_venv
        return 0
    fi
    install_packages
    if in_chroot; then say "set-up took $((SECONDS - t0)) s"; return 0; fi
    link_headers || say "kernel headers: unavailable; bcc will not work (the tracefs backend still can)"
    mount_tracefs
    make_venv
    if start_daemons; then demo_image || true; else say "live tracing will not be possible until dockerd answers; replay works"; fi
    say "set-up took $((SECONDS - t0)) s"
}

case "$job" in
    remove) remove_all; exit 0 ;;
    env|run|test) ;;
    *) say "unknown job '$job' (use: run, test, env, remove)"; exit 2 ;;
esac
setup_all
export PATH="$venv/bin:$PATH"
case "$job" in
    run) exec "$venv/bin/dockertrace" "$@" ;;
    test)
        cd "$here"
        "$venv/bin/ruff" check tracer tests bench
        "$venv/bin/ruff" format --check tracer tests bench
        "$venv/bin/mypy" tracer
        "$venv/bin/lint-imports"
        exec "$venv/bin/python" -m pytest "$@"
        ;;
esac
