# Sourced by tracer/setup.sh: kernel headers for bcc and tracefs, each recorded when set-up made it.

# The headers package bcc needs, or nothing when headers are here: this kernel's own package
# where the distribution has one, else the generic headers (linked in link_headers).
header_packages() {
    local kver mod
    kver=$(uname -r)
    mod=/lib/modules/$kver
    if [ -e "$mod/build/include/linux/kconfig.h" ] || [ -e "$mod/build/Makefile" ]; then return 0; fi
    if apt-cache show "linux-headers-$kver" >/dev/null 2>&1; then echo "linux-headers-$kver"; return 0; fi
    generic_headers_meta
}

generic_headers_meta() {
    if [ "$(dpkg --print-architecture)" = arm64 ]; then echo linux-headers-arm64; else echo linux-headers-amd64; fi
}

# No headers for this kernel (a VM with its own kernel): link the distribution's generic
# headers. Tracepoint programs only read tracepoint arguments and user memory, so a different
# version's headers compile and load; kernel struct layouts are never read through them.
link_headers() {
    local kver mod meta build common
    kver=$(uname -r)
    mod=/lib/modules/$kver
    if [ -e "$mod/build/include/linux/kconfig.h" ] || [ -e "$mod/build/Makefile" ]; then
        say "kernel headers: $mod/build present"
        return 0
    fi
    meta=$(generic_headers_meta)
    build=$(ls -d /usr/src/linux-headers-*-"${meta#linux-headers-}" 2>/dev/null | sort -V | tail -1)
    common=${build%-"${meta#linux-headers-}"}-common
    [ -d "$build" ] || { say "no generic headers found under /usr/src"; return 1; }
    [ -d "$mod" ] || { mkdir -p "$mod"; record made-dirs "$mod"; }
    ln -sfn "$build" "$mod/build" && record made-links "$mod/build $build"
    ln -sfn "$common" "$mod/source" && record made-links "$mod/source $common"
    say "kernel headers: no package for $kver; linked $mod/build -> $build (generic headers)"
}

mount_tracefs() {
    if [ ! -e /sys/kernel/tracing/trace_pipe ]; then
        if mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
            record mounts /sys/kernel/tracing
            say "mounted tracefs on /sys/kernel/tracing"
        else
            say "tracefs: could not mount"
        fi
    fi
    if [ ! -e /sys/kernel/debug/tracing/trace_pipe ] && [ -d /sys/kernel/debug ] && ! mountpoint -q /sys/kernel/debug; then
        mount -t debugfs nodev /sys/kernel/debug 2>/dev/null && record mounts /sys/kernel/debug
    fi
    return 0
}
