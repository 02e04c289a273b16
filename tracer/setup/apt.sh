# Sourced by tracer/setup.sh: install packages without ever letting apt remove or replace one.
# Every install is planned first (apt-get -s); a plan that removes anything stops set-up before
# it changes anything. What set-up installed is recorded for `setup.sh remove`.

apt_quiet() { DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@"; }

# apt's plan to install "$@" ("Inst NAME [OLD] (NEW ...)", "Remv NAME [OLD]"), changing nothing.
plan_of() {
    LC_ALL=C apt-get -s -o Debug::NoLocking=1 install --no-install-recommends "$@" 2>&1 || true
}

# The packages the plan to install "$@" would remove.
plan_removals() { plan_of "$@" | awk '$1 == "Remv" {print $2}' | sort -u; }

# The packages already here that the plan would upgrade (or downgrade): "Inst NAME [OLD] ...".
plan_upgrades() { awk '$1 == "Inst" && $3 ~ /^\[/ {print $2}' <<<"$1" | sort -u; }

# A package apt can get here: it has a candidate in apt's lists.
can_have() {
    local policy; policy=$(LC_ALL=C apt-cache policy "$1" 2>/dev/null) || true
    [[ "$policy" == *"Candidate: "[!\(]* ]]
}

# Stops set-up before anything changed, naming what apt would remove or replace and which
# wanted package makes it do so.
stop_for_removals() {
    local removals=$1; shift
    local p r culprits=()
    say "STOPPED: installing $* would make apt remove or replace: $(echo $removals)"
    for p in "$@"; do
        r=$(plan_removals "$p")
        [ -z "$r" ] || { culprits+=("$p"); say "  $p: apt would remove $(echo $r)"; }
    done
    say "nothing was installed, removed or changed"
    say "to go on, keep what is here and skip what conflicts with it:"
    say "  sudo DOCKERTRACE_SKIP_PACKAGES='${culprits[*]:-PACKAGE}' bash tracer/setup.sh ${job:-env}"
    say "or, if you do want them replaced, do it yourself first: apt-get install ${culprits[*]:-PACKAGE}"
    say "(apt-get -s install --no-install-recommends $* shows apt's whole plan)"
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
    # apt-get update exits 0 when a source could not be fetched; its warnings say so.
    local updated
    if ! updated=$(LC_ALL=C apt_quiet update 2>&1) || grep -q '^[WE]: .*\(Failed to fetch\|Could not\|failed to download\)' <<<"$updated"; then
        say "apt-get update failed (no network to the package registry?): planning with the lists that are here"
    fi
    local have=() lost=()
    for p in "${missing[@]}"; do if can_have "$p"; then have+=("$p"); else lost+=("$p"); fi; done
    [ ${#lost[@]} -eq 0 ] || say "cannot be had here (no candidate in apt's lists; registry unreachable?): ${lost[*]}; going on without them"
    [ ${#have[@]} -gt 0 ] || return 0
    local plan removals upgrades engine_up
    plan=$(plan_of "${have[@]}")
    removals=$(awk '$1 == "Remv" {print $2}' <<<"$plan" | sort -u)
    upgrades=$(plan_upgrades "$plan")
    # A new version of the engine that is here would replace it: that is set-up's to refuse too.
    engine_up=$(grep -xF -f <(printf '%s\n' "${engine_packages[@]}") <<<"$upgrades" || true)
    [ -z "$removals$engine_up" ] || stop_for_removals "$(echo $removals $engine_up)" "${have[@]}"
    [ -z "$upgrades" ] || say "apt will also upgrade (the new packages need it): $(echo $upgrades)"
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
