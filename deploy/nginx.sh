#!/bin/sh
# deploy/nginx.sh start|stop|reload: Debian's nginx with our module, prefix
# run/nginx/, configuration rendered from conf/nginx.conf.
set -eu
. "$(dirname "$0")/lib.sh"

prefix=$SECKILL_RUN/nginx
conf=$SECKILL_RUN/conf/nginx.conf
log=$SECKILL_LOG/nginx-error.log
nginx=${SECKILL_NGINX:-/usr/sbin/nginx}

# prepare: the configuration rendered from conf/nginx.conf and checked by
# `nginx -t` before anything runs, so a bad directive is reported, not
# half-applied. Its messages name conf/nginx.conf, the file one edits (the
# rendered copy keeps its line numbers), and a rejected file leaves the
# running configuration in place.
prepare() {
    [ -x "$nginx" ] || die "$nginx not found: run 'make init'"
    [ -f "$SECKILL_MODULE" ] || die "$SECKILL_MODULE missing: run 'make build'"
    mkdir -p "$prefix/temp" "$prefix/logs" "$SECKILL_LOG"
    render_conf "$SECKILL_TOP/conf/nginx.conf" "$conf.new"
    if ! "$nginx" -p "$prefix/" -c "$conf.new" -e "$log" -t -q 2>"$conf.err"; then
        sed "s#$conf.new#$SECKILL_TOP/conf/nginx.conf#g" "$conf.err" >&2
        rm -f "$conf.new" "$conf.err"
        die "nginx -t rejected $SECKILL_TOP/conf/nginx.conf (see the message above); nothing changed"
    fi
    rm -f "$conf.err"
    # The port is the stack's (run/settings): `make status`, the page's URL
    # and the tests look there. A listen edited to another port would serve
    # where nobody looks.
    if ! grep -Eq "^[[:space:]]*listen[[:space:]]+127\.0\.0\.1:$SECKILL_HTTP_PORT[[:space:];]" "$conf.new"; then
        _listen=$(grep -En '^[[:space:]]*listen[[:space:]]' "$SECKILL_TOP/conf/nginx.conf" | head -1)
        rm -f "$conf.new"
        die "$SECKILL_TOP/conf/nginx.conf:${_listen%%:*}: \"$(echo "${_listen#*:}" | sed 's/^ *//')\" is not this stack's HTTP port $SECKILL_HTTP_PORT ($SECKILL_RUN/settings); keep \"listen 127.0.0.1:8080\" there (deploy/ puts the stack's port in its place) and give another port its own stack: SECKILL_RUN=... SECKILL_HTTP_PORT=... make run; nothing changed"
    fi
    mv "$conf.new" "$conf"
}

# changed: conf/nginx.conf renders to something else than what runs.
changed() {
    render_conf "$SECKILL_TOP/conf/nginx.conf" "$conf.cmp"
    if cmp -s "$conf.cmp" "$conf"; then
        rm -f "$conf.cmp"
        return 1
    fi
    rm -f "$conf.cmp"
}

case "${1:-}" in
start)
    if pid_alive nginx; then
        # `make run` on a running stack applies an edited conf/nginx.conf
        changed || exit 0
        exec "$0" reload
    fi
    refuse_busy_port nginx "$SECKILL_HTTP_PORT"
    prepare
    # nginx daemonizes and writes run/nginx.pid itself (`pid` in nginx.conf).
    "$nginx" -p "$prefix/" -c "$conf" -e "$log" \
        || { tail -n 20 "$log" >&2; die "nginx failed to start (log: $log)"; }
    # The daemonized master writes its pid file a moment after we return.
    i=0
    while [ ! -s "$SECKILL_RUN/nginx.pid" ] && [ $i -lt 50 ]; do
        i=$((i + 1)); sleep 0.1
    done
    wait_until nginx 30 "$log" port_open "$SECKILL_HTTP_PORT"
    say "nginx up on http://127.0.0.1:$SECKILL_HTTP_PORT/ (pid $(pid_of nginx))"
    ;;
reload)
    pid_alive nginx || die "nginx is not running: start the stack with 'make run'"
    prepare
    kill -HUP "$(pid_of nginx)"
    say "nginx reloading $SECKILL_TOP/conf/nginx.conf: new workers take new connections, the old ones finish theirs"
    ;;
stop)
    # QUIT: graceful; workers finish their requests (and flush Kafka).
    if pid_alive nginx; then
        pid=$(pid_of nginx)
        kill -QUIT "$pid"
        i=0
        while running "$pid" && [ $i -lt 300 ]; do
            i=$((i + 1)); sleep 0.1
        done
    fi
    stop_pid nginx 5
    # Workers whose master was killed -9 keep selling on the port.
    orphans=$(orphan_workers)
    if [ -n "$orphans" ]; then
        say "stopping nginx workers left by a killed master: $(echo $orphans)"
        kill -QUIT $orphans 2>/dev/null || true
        sleep 2
        kill -KILL $orphans 2>/dev/null || true
    fi
    ;;
*)
    die "usage: $0 start|stop|reload"
    ;;
esac
