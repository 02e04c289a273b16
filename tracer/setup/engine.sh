# Sourced by tracer/setup.sh: find the container engine that is already here, whatever installed
# it (Docker's packages, Debian's, Moby, Podman's docker, a snap, a rootless daemon, bare binaries),
# so that set-up uses it and never installs a second one over it.

engine_layers=(docker dockerd containerd containerd-shim-runc-v2 runc)
engine_packages=(docker-ce docker-ce-cli containerd.io docker.io moby-engine moby-cli
                 moby-containerd moby-runc podman-docker containerd runc)
engine_found=""
engine_name=""

pkg_origin() {
    case "$(dpkg-query -W -f='${Maintainer}' "$1" 2>/dev/null)" in
        *debian.org*) echo Debian ;;
        *ubuntu.com*) echo Ubuntu ;;
        *docker.com*|*containerd.io*) echo Docker ;;
        *microsoft.com*) echo Microsoft ;;
        "") echo "unknown maintainer" ;;
        *) dpkg-query -W -f='${Maintainer}' "$1" | sed 's/ *<.*//' ;;
    esac
}

# The package that owns a path (trying it as given and resolved: /bin is /usr/bin on usrmerge).
path_owner() {
    local p owner
    for p in "$1" "$(readlink -f "$1" 2>/dev/null)"; do
        [ -n "$p" ] || continue
        owner=$(dpkg-query -S "$p" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1)
        [ -n "$owner" ] && { echo "$owner"; return 0; }
    done
    return 0
}

# The pid of a live (not zombie) process of this exact name on this system, read from /proc
# with builtins only (a minimal system has no procps, and a fork per process is slow).
running_pid() {
    local d comm stat
    for d in /proc/[0-9]*; do
        { read -r comm <"$d/comm"; } 2>/dev/null || continue
        [ "$comm" = "$1" ] || continue
        { read -r stat <"$d/stat"; } 2>/dev/null || continue
        stat=${stat##*) }
        [ "${stat%% *}" = Z ] && continue
        ours "${d#/proc/}" && { echo "${d#/proc/}"; return 0; }
    done
    return 0
}

# Where one layer's binary comes from: "PATH from PKG VERSION (ORIGIN)" or "PATH (not from a
# package)", with the running daemon's pid; empty when the layer is not here.
layer_source() {
    local bin=$1 path pid owner where
    pid=$(running_pid "$bin")
    if [ -n "$pid" ]; then path=$(readlink "/proc/$pid/exe" 2>/dev/null || true); fi
    [ -n "${path:-}" ] || path=$(command -v "$bin" 2>/dev/null || true)
    if [ -z "$path" ]; then
        [ -z "$pid" ] || echo "running (pid $pid), binary unknown"
        return 0
    fi
    owner=$(path_owner "$path")
    if [ -n "$owner" ]; then
        where="$path from $owner $(pkg_version "$owner") ($(pkg_origin "$owner"))"
    else
        where="$path (not from a package)"
    fi
    [ -z "$pid" ] || where+=", running (pid $pid)"
    echo "$where"
}

rootless_socket() {
    local dir
    for dir in "${XDG_RUNTIME_DIR:-}" ${SUDO_UID:+/run/user/$SUDO_UID}; do
        [ -n "$dir" ] && [ -S "$dir/docker.sock" ] && { echo "$dir/docker.sock"; return 0; }
    done
    return 0
}

# Whether the CLI has contexts of its own (an engine elsewhere, e.g. over ssh): set-up then
# treats the CLI as the user's way to their engine and installs none.
remote_contexts() {
    local home d
    for home in "${HOME:-}" ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)"}; do
        d="$home/.docker/contexts/meta"
        [ -n "$home" ] && [ -d "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ] && return 0
    done
    return 1
}

snap_docker() {
    [ -e /snap/bin/docker ] || { command -v snap >/dev/null 2>&1 && snap list docker >/dev/null 2>&1; }
}

# Sets engine_found (non-empty when any part of an engine is here) and engine_name, and says
# which engine it is and where each layer comes from.
detect_engine() {
    local p pkgs=() bin src owner
    for p in "${engine_packages[@]}"; do have_pkg "$p" && pkgs+=("$p"); done
    local -A from=()
    for bin in "${engine_layers[@]}"; do from[$bin]=$(layer_source "$bin"); done
    local rootless; rootless=$(rootless_socket)
    if [ ${#pkgs[@]} -gt 0 ] || snap_docker || [ -n "$rootless" ]; then engine_found=1; fi
    for bin in "${engine_layers[@]}"; do [ -n "${from[$bin]}" ] && engine_found=1; done
    # A docker CLI alone, from no package (a static binary in /usr/local/bin, as CI images and
    # Docker's own downloads leave), with no daemon, runtime or engine package anywhere, is no
    # engine: it has nothing to talk to here. Debian's engine goes beside it (/usr/bin), and the
    # CLI stays first on PATH. One pointed elsewhere (DOCKER_HOST, a context) is left as it is.
    if [ -n "$engine_found" ] && [ ${#pkgs[@]} -eq 0 ] && [ -z "$rootless" ] && ! snap_docker \
        && [[ "${from[docker]}" == *"(not from a package)" ]] && [ -z "${DOCKER_HOST:-}" ] \
        && [ -z "${DOCKER_CONTEXT:-}" ] && ! remote_contexts; then
        local others=""
        for bin in dockerd containerd containerd-shim-runc-v2 runc; do others+=${from[$bin]}; done
        if [ -z "$others" ]; then
            say "engine: only a docker CLI here (${from[docker]}), no daemon or runtime;" \
                "set-up installs Debian's engine beside it and leaves the CLI as it is"
            engine_found=""
            return 0
        fi
    fi
    if [ -z "$engine_found" ]; then
        say "engine: none here (no docker, dockerd, containerd, runc; no engine package, snap or rootless daemon)"
        return
    fi
    owner=$(path_owner "$(command -v dockerd 2>/dev/null || echo /nonexistent)")
    [ -n "$owner" ] || for p in docker-ce moby-engine docker.io podman-docker containerd.io containerd; do
        have_pkg "$p" && { owner=$p; break; }
    done
    if [ -n "$owner" ]; then
        engine_name="$(pkg_origin "$owner")'s engine: $owner $(pkg_version "$owner")"
    elif snap_docker; then
        engine_name="the docker snap"
    elif [ -n "$rootless" ]; then
        engine_name="a rootless dockerd at $rootless"
    else
        engine_name="binaries not from a package"
    fi
    say "engine: found $engine_name; set-up installs no engine package"
    for bin in "${engine_layers[@]}"; do
        src=${from[$bin]}
        printf -v p '%-24s' "$bin"
        say "  $p ${src:-not here}"
    done
    snap_docker && say "  the docker snap is installed (snap list docker)"
    [ -n "$rootless" ] && say "  a rootless daemon listens on $rootless (use DOCKER_HOST=unix://$rootless)"
    [ ${#pkgs[@]} -gt 0 ] && say "  engine packages installed: ${pkgs[*]}"
    return 0
}
