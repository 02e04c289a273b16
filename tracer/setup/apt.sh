# Sourced by tracer/setup.sh: install packages without ever letting apt remove or replace one.
# Every install is planned first (apt-get -s); a plan that removes anything stops set-up before
# it changes anything. What set-up installed is recorded for `setup.sh remove`.

apt_quiet() { DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@"; }

# Prints the packages of the plan to install "$@" that apt would remove ("Remv NAME ...").
plan_removals() {
    LC_ALL=C apt-get -s -o Debug::NoLocking=1 install --no-install-recommends "$@" 2>&1 |
        awk '$1 == "Remv" {print $2}' | sort -u
}

# A package apt can get here: it has a candidate in apt's lists.
can_have() {
    local policy; policy=$(LC_ALL=C apt-cache policy "$1" 2>/dev/null) || true
    [[ "$policy" == *"Candidate: "[!\(]* ]]
}

stop_for_removals() {
    local removals=$1; shift
    say "STOPPED: installing $* would make apt remove: $(echo $removals)"
    say "nothing was installed, removed or changed"
    say "to go on: keep what is there and skip the packages that conflict with it,"
    say "  e.g. sudo DOCKERTRACE_SKIP_PACKAGES='PACKAGE ...' bash tracer/setup.sh ${job:-env}"
    say "  or, if you do want them replaced, install them yourself first: apt-get install PACKAGE"
    say "  (apt-get -s install --no-install-recommends $* shows the whole plan)"
    exit 3
}

# Installs the packages of "$@" that are missing, after planning them all together; records the
# packages that were not installed before (the wanted ones and their dependencies).
safe_install() {
    local p missing=() skip=" ${DOCKERTRACE_SKIP_PACKAGES:-} "
    for p in "$@"; do
        if [[ "$skip" == *" $p "* ]]; then say "skipping $p (DOCKERTRACE_SKIP_PACKAGES)"; continue; fi
        have_pkg "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then say "packages: all present"; return 0; fi
    apt_quiet update 2>/dev/null || say "apt-get update failed (no network to the package registry?): planning with the lists that are here"
    local have=() lost=()
    for p in "${missing[@]}"; do if can_have "$p"; then have+=("$p"); else lost+=("$p"); fi; done
    [ ${#lost[@]} -eq 0 ] || say "cannot be had here (no candidate in apt's lists; registry unreachable?): ${lost[*]}; going on without them"
    [ ${#have[@]} -gt 0 ] || return 0
    local removals; removals=$(plan_removals "${have[@]}")
    [ -z "$removals" ] || stop_for_removals "$removals" "${have[@]}"
    local before; before=$(installed_packages)
    say "installing: ${have[*]}"
    if ! apt_quiet install -y --no-install-recommends --no-remove "${have[@]}" >/dev/null 2>&1; then
        # Most often a download that failed: install what can be had, one by one, and say the rest.
        for p in "${have[@]}"; do
            apt_quiet install -y --no-install-recommends --no-remove "$p" >/dev/null 2>&1 || lost+=("$p")
        done
        say "could not install (download failed?): ${lost[*]}; going on without them"
    fi
    comm -13 <(echo "$before") <(installed_packages) | while read -r p; do record installed-packages "$p"; done
    return 0
}
