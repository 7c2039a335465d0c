#!/bin/sh
# bench/run.sh: what `make bench` runs against the running stack (SPEC §7).
# Every scenario is measured right after a ceiling run (the same nginx's
# `return 200` location, same load shape), and its ratio is taken against
# that ceiling. Prints a table and writes run/bench.tsv.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/deploy/lib.sh"

url="http://127.0.0.1:$SECKILL_HTTP_PORT"
cli="$SECKILL_BIN/seckill -c $SECKILL_RUN/conf/consumer.conf"
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-100}
threads=${BENCH_THREADS:-2}
tsv=$SECKILL_RUN/bench.tsv
out=$SECKILL_RUN/bench
mkdir -p "$out"
export BENCH_THREADS="$threads"

for s in redis mariadb kafka consumer nginx; do
    pid_alive "$s" || die "$s is not running: start the stack with 'make run'"
done

# wrk_run NAME [wrk args]: one wrk run with bench/seckill.lua; leaves the
# BENCH line's fields in $rps $p50 $p99 $accepted $statuses.
wrk_run() {
    _name=$1; shift
    wrk -t"$threads" -c"$conns" --timeout 5s -s "$top/bench/seckill.lua" "$@" "$url" \
        >"$out/$_name.txt" 2>&1 || { cat "$out/$_name.txt"; die "wrk failed in $_name"; }
    _line=$(grep '^BENCH ' "$out/$_name.txt") || { cat "$out/$_name.txt"; die "no BENCH line in $_name"; }
    rps=$(field rps "$_line"); p50=$(field p50_ms "$_line"); p99=$(field p99_ms "$_line")
    accepted=$(field accepted "$_line"); statuses=$(field statuses "$_line")
}

field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# ceiling: the same request shape against `return 200`.
ceiling() {
    BENCH_PATH=/bench/ceiling BENCH_REQUESTS=0 wrk_run "ceiling-$1" -d"$duration"
    ceiling_rps=$rps
    row "ceiling ($1)" "$rps" "$p50" "$p99" - "$rps"
}

# row SCENARIO RPS P50 P99 ACCEPTED CEILING
row() {
    ratio=$(awk -v a="$2" -v b="$6" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$ratio" >>"$tsv"
    printf '%-22s %9s %8s %8s %9s %11s %6s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$ratio"
}

quiet() {
    # Wait until the consumer has persisted every accepted order.
    _i=0
    until $cli check >/dev/null 2>&1; do
        _i=$((_i + 1))
        [ $_i -lt 600 ] || { $cli check; die "the stack did not become consistent"; }
        sleep 0.5
    done
}

# worker_rss: "VmRSS RssShmem" in kB of the largest nginx worker. The
# shared part is the configured zones (limit_req, sold-out cache, metrics):
# fixed in size, it grows only as a run first touches their pages.
worker_rss() {
    for _p in $(pgrep -P "$(pid_of nginx)"); do
        awk '/^VmRSS/ { r = $2 } /^RssShmem/ { s = $2 } END { print r, s }' \
            "/proc/$_p/status"
    done | sort -n | tail -1
}

# new_sale: orders cleared and stock reloaded; then wait out the workers'
# sold-out cache (seckill_sold_out_ttl, 1 s) so that no worker still
# answers 410 from the previous scenario.
new_sale() {
    $cli reset >/dev/null
    sleep 1.2
}

printf 'scenario\trps\tp50_ms\tp99_ms\taccepted\tceiling_rps\tratio\n' >"$tsv"
printf '%-22s %9s %8s %8s %9s %11s %6s\n' scenario rps p50_ms p99_ms accepted ceiling_rps ratio

# warm_up: every worker's Kafka producer connected and its Redis scripts
# loaded, on a course of its own, so the first scenario does not pay for it.
warm_up() {
    $cli course add 899 "bench: warm-up" 100000000 >/dev/null
    BENCH_COURSES=899 BENCH_REQUESTS=0 wrk_run warm-up -d2s
    quiet
    $cli course remove 899 --force >/dev/null
}

# --- seed: the original flash crowd, 10,000 buyers for 850 seats --------
new_sale
warm_up
ceiling seed
BENCH_REQUESTS=10000 wrk_run seed -d3s
row seed "$rps" "$p50" "$p99" "$accepted" "$ceiling_rps"
[ "$accepted" = 850 ] || say "WARNING: seed accepted $accepted, expected 850 ($statuses)"
quiet

# --- sold-out: every course at 0 (the state seed leaves) ----------------
# The rate from a run of the usual duration; the worker's memory across at
# least 1,000,000 requests, that run included.
ceiling sold-out
rss_before=$(worker_rss)
wrk_run sold-out -d"$duration"
row sold-out "$rps" "$p50" "$p99" "$accepted" "$ceiling_rps"
served=$(field requests "$_line")
while [ "$served" -lt 1000000 ]; do
    # wrk runs for its whole -d: ask for about what is missing
    _secs=$(( (1000000 - served) / (rps > 0 ? rps : 1000) + 1 ))
    wrk_run sold-out-more -d"${_secs}s"
    served=$((served + $(field requests "$_line")))
done
rss_after=$(worker_rss)
set -- $rss_before $rss_after
say "nginx worker RSS: $1 kB before, $3 kB after $served requests" \
    "($(($1 - $2)) kB and $(($3 - $4)) kB without the shared zones)"

# --- ab: the original command on one fixed URL ---------------------------
new_sale
ab -n 10000 -c 100 -k -m POST "$url/api/seckill/1/1" >"$out/ab.txt" 2>&1 \
    || { cat "$out/ab.txt"; die "ab failed"; }
ab_rps=$(awk '/^Requests per second/ { printf "%.0f", $4 }' "$out/ab.txt")
ab_p50=$(awk '$1 == "50%" { print $2 }' "$out/ab.txt")
ab_p99=$(awk '$1 == "99%" { print $2 }' "$out/ab.txt")
ab_done=$(awk '/^Complete requests/ { print $3 }' "$out/ab.txt")
ab_non2xx=$(awk '/^Non-2xx responses/ { print $3 }' "$out/ab.txt")
row ab "$ab_rps" "$ab_p50" "$ab_p99" "$((ab_done - ${ab_non2xx:-0}))" "$ceiling_rps"
quiet

# --- all-accepted: stock for everyone, every request waits for Kafka ----
new_sale
$cli course add 900 "bench: unlimited seats" 100000000 >/dev/null
ceiling all-accepted
BENCH_COURSES=900 BENCH_REQUESTS=0 wrk_run all-accepted -d"$duration"
row all-accepted "$rps" "$p50" "$p99" "$accepted" "$ceiling_rps"

quiet
$cli course remove 900 --force >/dev/null

# --- drain: the consumer persisting a backlog ------------------------------
new_sale
sh "$top/deploy/consumer.sh" stop
$cli fill 100000 >"$out/fill.txt"
orders() {
    mariadb --no-defaults -h127.0.0.1 -P"$SECKILL_MYSQL_PORT" -useckill -pseckill \
        -N -B -e 'SELECT COUNT(*) FROM orders' seckill
}
start=$(date +%s.%N)
sh "$top/deploy/consumer.sh" start >/dev/null
# Timed to the last row committed; the full check runs after the clock.
until [ "$(orders)" -ge 100000 ]; do sleep 0.1; done
end=$(date +%s.%N)
quiet
drain_rps=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", 100000 / (e - s) }')
peak=$(awk '/^VmHWM/ { print $2 }' "/proc/$(pid_of consumer)/status")
row drain "$drain_rps" - - 100000 -
say "consumer peak RSS: $peak kB"
for c in 1001 1002 1003 1004 1005 1006; do
    $cli course remove "$c" --force >/dev/null
done
new_sale

say "written: $tsv"
