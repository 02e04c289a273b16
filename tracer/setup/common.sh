# Sourced by tracer/setup.sh: messages, package queries, the chroot test, and the record of what
# set-up changed on this machine (so that `setup.sh remove` undoes exactly that, nothing else).

state=${DOCKERTRACE_STATE_DIR:-/var/lib/dockertrace}

say() { printf 'setup: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
# (Queries go into a variable, not into `| grep -q`: under pipefail, grep's early exit makes the
# writer's SIGPIPE fail the test.)
have_pkg() { local s; s=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || true; [ "$s" = "install ok installed" ]; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
installed_packages() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null | awk '$1 == "ii" {print $2}' | sort -u; }

# In a chroot the kernel, the daemons and the mounts belong to the host: set-up only plans and
# installs packages there (how the chroot tests run it without touching the host).
in_chroot() {
    [ -n "${DOCKERTRACE_IN_CHROOT:-}" ] && return 0
    command -v ischroot >/dev/null 2>&1 && ischroot 2>/dev/null
}

# A process belongs to this system when its root is ours (a chroot sees the host's processes
# through /proc, and must not take the host's dockerd for its own).
ours() {
    local pid=$1
    if [ -e "/proc/$pid/root/" ] 2>/dev/null && stat -L "/proc/$pid/root/" >/dev/null 2>&1; then
        [ "/proc/$pid/root/" -ef / ]
    else
        ! in_chroot
    fi
}

# One line per thing set-up did, appended to $state/FILE (created on first use).
record() {
    local file=$1; shift
    mkdir -p "$state"
    printf '%s\n' "$*" >>"$state/$file"
}

start_ticks() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
