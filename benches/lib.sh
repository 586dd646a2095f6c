# Shell functions shared by benches/run.sh, benches/profile.sh and
# benches/syscalls.sh. Sourced, not run.

# install_missing COMMAND=PACKAGE...: installs, from Debian's packages, the
# PACKAGE of each COMMAND that is not on the PATH (with sudo unless root).
install_missing() {
    local missing=() pair
    for pair in "$@"; do
        if ! command -v "${pair%%=*}" >/dev/null 2>&1; then
            missing+=("${pair#*=}")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        sudo=(sudo)
    fi
    echo "installing ${missing[*]}" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# wait_for_server ADDR: waits (at most 30 s) until `GET /` on ADDR answers;
# fails (curl's status) if it never does.
wait_for_server() {
    local _
    for _ in $(seq 100); do
        if curl -fs -o /dev/null "http://$1/"; then
            return 0
        fi
        sleep 0.3
    done
    curl -fs -o /dev/null "http://$1/"
}

# parse_build_args PROFILE ARG...: the arguments benches/run.sh and
# benches/stress.sh read for themselves. Sets `profile` (PROFILE; `ci-bench`
# with --quick; `dev` with --debug, whatever the order), `dir` (the
# directory under the target directory cargo builds that profile into),
# `build` (0 with --no-build) and `args` (the ARGs but --debug, for the
# driver).
parse_build_args() {
    local arg debug=0
    profile=$1
    shift
    build=1
    args=()
    for arg in "$@"; do
        case "$arg" in
        --quick) profile=ci-bench ;;
        --debug)
            debug=1
            continue
            ;;
        --no-build) build=0 ;;
        esac
        args+=("$arg")
    done
    if ((debug)); then
        profile=dev
    fi
    dir=$profile
    if [[ "$profile" == dev ]]; then
        dir=debug
    fi
}
