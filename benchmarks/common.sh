# Sourced by the benchmark scripts: the uaef binary to measure, wrk, and a work directory that is
# removed on exit together with the background process started in it.

# Sets `uaef`: UAEF_BINARY when given (a release uaef already built), else a release build made in
# .build-release.
uaef_binary() {
    if [ -n "${UAEF_BINARY:-}" ]; then
        uaef=$UAEF_BINARY
    else
        swift build -c release --scratch-path .build-release --product uaef >&2
        uaef=$PWD/.build-release/release/uaef
    fi
}

# Installs wrk when it is missing; $1 is the calling script, named in the message.
need_wrk() {
    if ! command -v wrk >/dev/null 2>&1; then
        echo "$1: installing wrk" >&2
        apt-get update -qq && apt-get install -y -qq wrk
    fi
}

# Makes `work`, a new directory. On exit the process whose PID is in `background` (when set) is
# stopped and the directory removed.
make_work_directory() {
    work=$(mktemp -d)
    background=""
    trap remove_work_directory EXIT
}

remove_work_directory() {
    # Under `set -e` a failing last command (wait reports the killed process's status) would end
    # this function before the directory is removed.
    if [ -n "$background" ]; then
        kill "$background" 2>/dev/null || true
        wait "$background" 2>/dev/null || true
    fi
    rm -rf "$work"
}

# Prints the port of the JSON listening line `{"port": …}` that a server writes to file $1, waiting
# up to 10 s; prints file $2 (its errors) and exits 3 when none comes.
listening_port() {
    local port=""
    for _ in $(seq 100); do
        port=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["port"])' < "$1" 2>/dev/null || true)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$2" >&2; exit 3; }
    echo "$port"
}
