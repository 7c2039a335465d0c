#!/bin/sh
# deploy/nginx.sh start|stop|reload: Debian's nginx with our module, prefix
# run/nginx/, configuration rendered from conf/nginx.conf.
set -eu
. "$(dirname "$0")/lib.sh"

prefix=$SECKILL_RUN/nginx
conf=$SECKILL_RUN/conf/nginx.conf
log=$SECKILL_LOG/nginx-error.log
nginx=${SECKILL_NGINX:-/usr/sbin/nginx}

prepare() {
    [ -x "$nginx" ] || die "$nginx not found: run 'make init'"
    [ -f "$SECKILL_MODULE" ] || die "$SECKILL_MODULE missing: run 'make build'"
    mkdir -p "$prefix/temp" "$prefix/logs" "$SECKILL_LOG"
    render_conf "$SECKILL_TOP/conf/nginx.conf" "$conf"
    # -t before anything runs: a bad directive is reported, not half-applied.
    "$nginx" -p "$prefix/" -c "$conf" -e "$log" -t -q \
        || die "nginx -t rejected $conf (see the message above)"
}

case "${1:-}" in
start)
    pid_alive nginx && exit 0
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
    pid_alive nginx || die "nginx is not running"
    prepare
    kill -HUP "$(pid_of nginx)"
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
