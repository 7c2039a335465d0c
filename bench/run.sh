#!/bin/sh
# bench/run.sh: what `make bench` runs against the running stack (SPEC §7).
# Every scenario is measured right after a ceiling run (the same nginx's
# `return 200` location, the same load shape: the same wrk arguments, the
# same number of requests or the same duration), and its ratio is taken
# against that ceiling. A scenario runs BENCH_ROUNDS times, ceiling and
# scenario each time, and the round with the median ratio is the one
# reported: on two vCPUs shared with everything else one round can be 20%
# off either way. Prints a table and writes run/bench.tsv.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/deploy/lib.sh"

url="http://127.0.0.1:$SECKILL_HTTP_PORT"
cli="$SECKILL_BIN/seckill -c $SECKILL_RUN/conf/consumer.conf"
duration=${BENCH_DURATION:-5s}
warmup_max=${BENCH_WARMUP_MAX:-12}
rounds=${BENCH_ROUNDS:-5}
conns=${BENCH_CONNECTIONS:-100}
threads=${BENCH_THREADS:-2}
tsv=$SECKILL_RUN/bench.tsv
out=$SECKILL_RUN/bench
mkdir -p "$out"
rm -f "$out"/*
export BENCH_THREADS="$threads"

# the bench's own courses: the warm-up's and all-accepted's
warm_course=899
open_course=900

for s in redis mariadb kafka consumer nginx; do
    pid_alive "$s" || die "$s is not running: start the stack with 'make run'"
done

# wrk_run NAME [wrk args]: one wrk run with bench/seckill.lua against
# $target; leaves the BENCH line's fields in $rps $p50 $p99 $accepted
# $statuses $requests.
target=/api/seckill
wrk_run() {
    _name=$1; shift
    BENCH_PATH=$target wrk -t"$threads" -c"$conns" --timeout 5s -s "$top/bench/seckill.lua" "$@" "$url" \
        >"$out/$_name.txt" 2>&1 || { cat "$out/$_name.txt"; die "wrk failed in $_name"; }
    _line=$(grep '^BENCH ' "$out/$_name.txt") || { cat "$out/$_name.txt"; die "no BENCH line in $_name"; }
    rps=$(field rps "$_line"); p50=$(field p50_ms "$_line"); p99=$(field p99_ms "$_line")
    accepted=$(field accepted "$_line"); statuses=$(field statuses "$_line")
    requests=$(field requests "$_line")
}

field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# row SCENARIO RPS P50 P99 ACCEPTED CEILING
row() {
    _ratio=$(ratio_of "$2" "$6")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$_ratio" >>"$tsv"
    printf '%-22s %9s %8s %8s %9s %11s %6s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$_ratio"
}

# measure NAME PREPARE SHAPE [CHECK]: BENCH_ROUNDS rounds of PREPARE, then
# SHAPE (a function that calls wrk_run) against the ceiling and against the
# purchase, then CHECK of the purchase run; reports the median round, the
# ceiling's row first. $served adds up the purchase runs' requests.
measure() {
    _m_name=$1; _m_prepare=$2; _m_run=$3; _m_check=${4:-nothing}
    : >"$out/$_m_name.rounds"
    _m_r=0
    while [ $_m_r -lt "$rounds" ]; do
        _m_r=$((_m_r + 1))
        $_m_prepare
        target=/bench/ceiling
        $_m_run "ceiling-$_m_name-$_m_r"
        _m_c="$rps $p50 $p99"
        target=/api/seckill
        $_m_run "$_m_name-$_m_r"
        $_m_check "$_m_name-$_m_r"
        served=$((served + requests))
        printf '%s %s %s %s %s %s\n' "$(ratio_of "$rps" "${_m_c%% *}")" \
            "$rps" "$p50" "$p99" "$accepted" "$_m_c" >>"$out/$_m_name.rounds"
    done
    # ratio rps p50 p99 accepted ceiling_rps ceiling_p50 ceiling_p99
    set -- $(sort -n "$out/$_m_name.rounds" | sed -n "$(((rounds + 1) / 2))p")
    ceiling_rps=$6
    row "ceiling ($_m_name)" "$6" "$7" "$8" - "$6"
    row "$_m_name" "$2" "$3" "$4" "$5" "$6"
    say "$_m_name: ratios of the $rounds rounds: $(cut -d' ' -f1 "$out/$_m_name.rounds" | tr '\n' ' ')"
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

# fresh_sale: orders cleared and stock reloaded; then wait out the
# workers' sold-out cache (seckill_sold_out_ttl, 1 s) so that no worker
# still answers 410 from the previous scenario.
fresh_sale() {
    $cli reset >/dev/null
    sleep 1.2
}

# new_sale: the same once the consumer has persisted the last sale (a reset
# is for a quiet stack: an order still in flight would be counted against
# the new stock).
new_sale() {
    quiet
    fresh_sale
}

nothing() { :; }

# settle: wait (30 s at most) until the disks have written less than 1 MB
# in each of two seconds in a row. Removing the warm-up's orders leaves
# MariaDB flushing for a few seconds, and Redis's fsync with it: a sale
# starts on a quiet machine.
sectors_written() { cat /sys/block/*/stat | awk '{ n += $7 } END { print n + 0 }'; }
settle() {
    _calm=0; _t=0; _w=$(sectors_written)
    while [ $_calm -lt 2 ] && [ $_t -lt 30 ]; do
        sleep 1
        _t=$((_t + 1)); _now=$(sectors_written)
        if [ $((_now - _w)) -lt 2048 ]; then _calm=$((_calm + 1)); else _calm=0; fi
        _w=$_now
    done
}

# A bench interrupted before its end leaves its courses behind.
drop_bench_courses() {
    for _c in $warm_course $open_course; do
        $cli course remove "$_c" --force >/dev/null 2>&1 || true
    done
}

# warm_up: every worker's Kafka producer connected and its Redis scripts
# loaded, and the broker's JVM done compiling its hot paths (a broker fresh
# from `make run` delivers at half its speed for up to a minute of load):
# purchases on a course of its own, 5 s at a time, until a run is not 5%
# faster than the one before (BENCH_WARMUP_MAX runs at most).
warm_up() {
    $cli course add $warm_course "bench: warm-up" 100000000 >/dev/null
    _w_prev=0; _w_n=0
    while [ $_w_n -lt "$warmup_max" ]; do
        _w_n=$((_w_n + 1))
        BENCH_COURSES=$warm_course BENCH_REQUESTS=0 wrk_run "warm-up-$_w_n" -d5s
        [ $((rps * 100)) -gt $((_w_prev * 105)) ] || break
        _w_prev=$rps
    done
    say "warm-up: $_w_n runs of 5 s, the last at $rps purchases/s"
    quiet
    $cli course remove $warm_course --force >/dev/null
    settle
}

# Whatever state the stack was left in, the bench starts a sale of its own.
drop_bench_courses
fresh_sale
warm_up

printf 'scenario\trps\tp50_ms\tp99_ms\taccepted\tceiling_rps\tratio\n' >"$tsv"
printf '%-22s %9s %8s %8s %9s %11s %6s\n' scenario rps p50_ms p99_ms accepted ceiling_rps ratio

# --- seed: the original flash crowd, 10,000 buyers for 850 seats --------
# wrk runs for its whole -d; the rate counts the time the requests took.
seed() { BENCH_REQUESTS=10000 wrk_run "$1" -d3s; }
sold_850() {
    [ "$accepted" = 850 ] || say "WARNING: $1 accepted $accepted, expected 850 ($statuses)"
}
served=0
measure seed new_sale seed sold_850
quiet

# --- sold-out: every course at 0 (the state seed leaves) ----------------
# The worker's memory is read across at least 1,000,000 requests: the
# rounds', and more if they were fewer.
sold_out() { BENCH_REQUESTS=0 wrk_run "$1" -d"$duration"; }
rss_before=$(worker_rss)
served=0
measure sold-out nothing sold_out
while [ "$served" -lt 1000000 ]; do
    # wrk runs for its whole -d: ask for about what is missing
    _secs=$(( (1000000 - served) / (rps > 0 ? rps : 1000) + 1 ))
    BENCH_REQUESTS=0 wrk_run sold-out-more -d"${_secs}s"
    served=$((served + requests))
done
rss_after=$(worker_rss)
set -- $rss_before $rss_after
say "nginx worker RSS: $1 kB before, $3 kB after $served requests" \
    "($(($1 - $2)) kB and $(($3 - $4)) kB without the shared zones)"

# --- ab: the original command on one fixed URL ---------------------------
# One run, against the ceiling of sold-out's median round: ab lasts a tenth
# of a second, too short to say more than the order of magnitude.
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
$cli course add $open_course "bench: unlimited seats" 100000000 >/dev/null
all_accepted() { BENCH_COURSES=$open_course BENCH_REQUESTS=0 wrk_run "$1" -d"$duration"; }
measure all-accepted nothing all_accepted
quiet
$cli course remove $open_course --force >/dev/null

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
