# Shared by the benchmark scripts (sourced, not run): build the servers, start one pinned
# to CPU 0 on an ephemeral port, stop it, read its CPU time. The caller sets `root` (the
# repository) and `work` (a temp dir it removes), and `www` for the HTTP servers;
# `server_wrap` (a command the server runs under, e.g. valgrind) and `start_wait_tenths`
# (how long to wait for its `listening on` line, default 100 = 10 s) are optional.

# bench_build [http]: sockserv in release mode, and the C (and tokio) reference servers.
bench_build() {
    local http=${1:-}
    echo "== building" >&2
    cargo build --release -q -p sockserv-cli --manifest-path "$root/Cargo.toml"
    if [ -n "$http" ]; then
        gcc -O2 -Wall -o "$root/target/release/c-epoll-http" "$root/bench/c-epoll-http/http.c"
    else
        gcc -O2 -Wall -o "$root/target/release/c-epoll-echo" "$root/bench/c-epoll-echo/echo.c"
        cargo build --release -q --manifest-path "$root/bench/tokio-echo/Cargo.toml"
    fi
}
sockserv="$root/target/release/sockserv"
tokio_echo="$root/bench/tokio-echo/target/release/tokio-echo"
server_pid=
why_not=

# server_cmd NAME: the command line for one server, on an ephemeral port.
server_cmd() {
    case "$1" in
        sockserv:*) echo "$sockserv echo --listen 127.0.0.1:0 --mode ${1#sockserv:}" ;;
        # Another build of sockserv (an older commit, say), for before/after comparisons.
        sockserv-b:*) echo "${BENCH_SOCKSERV_B:?set BENCH_SOCKSERV_B to the other sockserv binary} echo --listen 127.0.0.1:0 --mode ${1#sockserv-b:}" ;;
        c-epoll) echo "$root/target/release/c-epoll-echo 0" ;;
        tokio) echo "$tokio_echo 0" ;;
        python) echo "python3 $root/bench/python-echo.py 0" ;;
        sockserv-http:*) echo "$sockserv http 0 -b 127.0.0.1 -d $www --mode ${1#sockserv-http:}" ;;
        sockserv-http-b:*) echo "${BENCH_SOCKSERV_B:?set BENCH_SOCKSERV_B to the other sockserv binary} http 0 -b 127.0.0.1 -d $www --mode ${1#sockserv-http-b:}" ;;
        # -u: its "Serving HTTP on ... port N" line must not wait in a buffer. It logs every
        # request to stderr, as `python -m http.server` does for its users.
        python-http) echo "python3 -u -m http.server 0 --bind 127.0.0.1 -d $www" ;;
        c-epoll-http) echo "$root/target/release/c-epoll-http 0 $www" ;;
    esac
}

# start_server NAME: starts it on CPU 0 and sets server_pid and port, or sets why_not.
start_server() {
    local err="$work/server.err" i
    : > "$err"
    # shellcheck disable=SC2046,SC2086 # the command lines are split on purpose
    taskset -c 0 ${server_wrap:-} $(server_cmd "$1") >"$err" 2>&1 &
    server_pid=$!
    for i in $(seq "${start_wait_tenths:-100}"); do # bounded: 10 s unless the caller says
        if grep -q "listening on\|^Serving HTTP on" "$err"; then
            # The scheme is optional: "listening on tcp://127.0.0.1:PORT" or "... 127.0.0.1:PORT";
            # python's http.server says "Serving HTTP on 127.0.0.1 port PORT (...) ...".
            port=$(sed -n -e 's/.*listening on \([a-z]*:\/\/\)\{0,1\}[^ ]*:\([0-9][0-9]*\).*/\2/p' \
                -e 's/^Serving HTTP on [^ ]* port \([0-9][0-9]*\) .*/\1/p' "$err" | head -1)
            [ -n "$port" ] && return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    stop_server
    if grep -qi "unknown mode" "$err"; then why_not="n/a (unknown mode)"; else why_not="n/a (failed to start)"; fi
    return 1
}

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# bench_www: $work/www with the HTTP cases' files (4k.bin, 1m.bin, random bytes); sets www.
bench_www() {
    www="$work/www"
    mkdir -p "$www"
    head -c 4096 /dev/urandom > "$www/4k.bin"
    head -c 1048576 /dev/urandom > "$www/1m.bin"
}

# bench_json SERVER-PORT ARGS...: `sockserv bench 127.0.0.1:PORT --json ARGS` on CPU 1.
bench_json() {
    local port=$1
    shift
    taskset -c 1 "$sockserv" bench "127.0.0.1:$port" --json "$@"
}
