# Sourced by tracer/setup.sh: `setup.sh remove` undoes what set-up recorded under $state, in the
# reverse order of set-up, and nothing else: what was here before set-up stays as it was.

lines() { [ -e "$state/$1" ] && awk 'NF && !seen[$0]++' "$state/$1"; return 0; }

remove_images() {
    local image
    for image in $(lines images); do
        if docker image inspect "$image" >/dev/null 2>&1; then
            docker image rm "$image" >/dev/null 2>&1 && say "removed image $image" || say "image $image: in use, left (docker ps -a)"
        fi
    done
    rm -f "$state/images"
}

stop_started() {
    local name pid ticks
    while read -r name pid ticks; do
        if [ "$name" = systemd ]; then
            say "stopping $pid.service (set-up started it)"
            systemctl stop "$pid" || true
            continue
        fi
        # The pid must still be the process set-up started (same name, same start time).
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && [ "$(start_ticks "$pid")" = "$ticks" ]; then
            say "stopping $name pid $pid (set-up started it)"
            kill -TERM "$pid" 2>/dev/null || true
            # Gone, or a zombie its parent has not reaped yet: stopped either way.
            for _ in $(seq 100); do
                [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" = Z ] && break
                sleep 0.1
            done
        fi
    done < <(tac "$state/started-daemons" 2>/dev/null || true)
    rm -f "$state/started-daemons"
}

undo_links_and_mounts() {
    local link target m
    while read -r link target; do
        [ "$(readlink "$link" 2>/dev/null)" = "$target" ] && rm -f "$link" && say "removed link $link"
    done < <(lines made-links)
    for m in $(lines mounts | tac); do
        mountpoint -q "$m" && { umount "$m" 2>/dev/null && say "unmounted $m" || say "$m: busy, left mounted"; }
    done
    rm -f "$state/made-links" "$state/mounts"
}

# Purges the packages set-up installed that are still here, after planning it: when removing them
# would take another package with them (installed since, depending on them), nothing is removed.
purge_installed() {
    local p mine=()
    for p in $(lines installed-packages); do have_pkg "$p" && mine+=("$p"); done
    if [ ${#mine[@]} -eq 0 ]; then rm -f "$state/installed-packages"; return 0; fi
    local others
    others=$(LC_ALL=C apt-get -s -o Debug::NoLocking=1 purge "${mine[@]}" 2>&1 |
        awk '$1 == "Purg" || $1 == "Remv" {print $2}' | grep -vxF -f <(printf '%s\n' "${mine[@]}") || true)
    if [ -n "$others" ]; then
        say "STOPPED: purging what set-up installed would also remove: $(echo $others)"
        say "nothing was removed; remove those yourself first, or keep set-up's packages"
        exit 3
    fi
    say "purging what set-up installed: ${mine[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 purge -y "${mine[@]}" >/dev/null
    rm -f "$state/installed-packages"
}

remove_all() {
    is_root || { say "remove needs root"; exit 1; }
    if [ ! -d "$state" ]; then say "nothing to remove: set-up has recorded nothing on this machine ($state)"; return 0; fi
    command -v docker >/dev/null 2>&1 && ping_daemon && remove_images
    stop_started
    undo_links_and_mounts
    purge_installed
    local d
    # Only empty directories go, except set-up's own log directory.
    for d in $(lines made-dirs | tac); do
        if [ "$d" = "$logdir" ]; then rm -rf "${d:?}"; else rmdir "$d" 2>/dev/null || say "$d: not empty, left"; fi
    done
    rm -f "$state/made-dirs"
    rmdir "$state" 2>/dev/null || say "$state: left (it holds files set-up did not write)"
    say "removed what set-up had installed; everything else is as it was (the venv $venv stays: rm -rf it if you like)"
}
