#!/bin/sh
# bench/run.sh: what `make bench` runs against the running stack (SPEC §7).
# Every scenario is measured right after a ceiling run (the same nginx's
# `return 200` location, the same load shape: the same wrk arguments, the
# same number of requests or the same duration), and its ratio is taken
# against that ceiling. A scenario runs BENCH_ROUNDS times, ceiling and
# scenario each time, and the round with the median ratio is the one
# reported: on two vCPUs shared with everything else one round can be 20%
# off either way. seed and all-accepted also report what an accepted seat
# costs Redis, and the mean of the module's Redis and Kafka stages (see
# measure()). Prints a table and writes run/bench.tsv.
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

# The bench's own courses, so that it never touches the sale it finds:
# the warm-up's, all-accepted's, and seed's six with the original system's
# 850 seats (seckill fill adds 1001..1006 for drain). A course that holds one
# of these ids and is not the bench's stops the bench (bench_owned).
warm_course=899
open_course=900
seed_ids="9001 9002 9003 9004 9005 9006"
seed_seats="150 100 150 150 100 200"
seed_courses=$(printf '%s' "$seed_ids" | tr ' ' ',')
fill_ids="1001 1002 1003 1004 1005 1006"

for s in $(redis_services) mariadb $(kafka_services) consumer nginx; do
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

# sql_count IDS: the order rows of the courses IDS (comma-separated)
sql_count() {
    mariadb --no-defaults -h127.0.0.1 -P"$SECKILL_MYSQL_PORT" -useckill \
        -N -B -e "SELECT COUNT(*) FROM orders WHERE course_id IN ($1)" seckill
}

ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# row SCENARIO RPS P50 P99 ACCEPTED CEILING [SCRIPT_US CPU_US REDIS_MS KAFKA_MS]
# The SPEC's seven columns first, as it has them; the cost columns after
# them, "-" where a scenario does not measure them.
columns='scenario rps p50_ms p99_ms accepted ceiling_rps ratio redis_script_us_per_seat redis_cpu_us_per_seat redis_stage_ms kafka_stage_ms'
table_line='%-22s %9s %8s %8s %9s %11s %6s %24s %21s %14s %14s\n'
row() {
    _ratio=$(ratio_of "$2" "$6")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$_ratio" \
        "${7:--}" "${8:--}" "${9:--}" "${10:--}" >>"$tsv"
    printf "$table_line" "$1" "$2" "$3" "$4" "$5" "$6" "$_ratio" \
        "${7:--}" "${8:--}" "${9:--}" "${10:--}"
}

# redis_usage: "SCRIPT_USEC CPU_SECONDS SCRIPT_CALLS" of the Redis servers
# (every node of a cluster, added up) since they started. SCRIPT_USEC and
# SCRIPT_CALLS: of every EVALSHA and EVAL in INFO commandstats (reserve,
# release, claim, confirm; a script's time already includes the commands
# it calls, which commandstats also lists on their own lines: they are not
# added again). It is the time Redis's clock saw pass in the scripts: a
# script preempted by another process counts the wait too, so the figure
# swells when the machine's cores are all busy.
# CPU_SECONDS: used_cpu_user + used_cpu_sys of INFO cpu, every thread of
# the process (a forked child, an AOF rewrite, apart).
redis_usage() {
    for _s in $(redis_services); do
        redis-cli -p "$(redis_port "$_s")" INFO commandstats cpu
    done | tr -d '\r' | awk -F'[:,=]' '
        $1 == "cmdstat_evalsha" || $1 == "cmdstat_eval" {
            for (i = 2; i < NF; i++) {
                if ($i == "usec") s += $(i + 1)
                if ($i == "calls") n += $(i + 1)
            }
        }
        $1 == "used_cpu_user" || $1 == "used_cpu_sys" { c += $2 }
        END { printf "%.0f %.6f %.0f\n", s, c, n }'
}

# stage_usage: "REDIS_SUM REDIS_COUNT KAFKA_SUM KAFKA_COUNT" of the module's
# histograms on /metrics (every worker's together): the Redis round trips
# (queued to reply) and the Kafka deliveries (produced to acknowledged).
stage_usage() {
    curl -sf "$url/metrics" | awk '
        $1 ~ /^seckill_redis_seconds_sum/ { rs += $2 }
        $1 ~ /^seckill_redis_seconds_count/ { rc += $2 }
        $1 ~ /^seckill_kafka_delivery_seconds_sum/ { ks += $2 }
        $1 ~ /^seckill_kafka_delivery_seconds_count/ { kc += $2 }
        END { printf "%.6f %.0f %.6f %.0f\n", rs, rc, ks, kc }'
}

# cpu_seconds STAT...: the CPU seconds (user + system) in these
# /proc/.../stat files, added up (none: 0); a process's counts all its
# threads. A file gone (a process that exited) counts nothing.
cpu_seconds() {
    [ $# -gt 0 ] || set -- /dev/null
    cat "$@" 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '
        { sub(/^.*\) /, ""); t += $12 + $13 }
        END { printf "%.2f\n", t / hz }'
}

# stack_cpu: "NGINX KAFKA CONSUMER MARIADB", the CPU seconds of the nginx
# workers, every broker's JVM, the consumer and MariaDB since they started,
# for the costs' CPU per seat of each process beside Redis's. wrk's own is
# left out.
stack_cpu() {
    _workers=$(pgrep -P "$(pid_of nginx)" 2>/dev/null)
    _brokers=
    for _s in $(kafka_services); do _brokers="$_brokers $(pid_of "$_s")"; done
    for _group in "$_workers" "$_brokers" "$(pid_of consumer)" "$(pid_of mariadb)"; do
        # shellcheck disable=SC2046
        cpu_seconds $(for _p in $_group; do echo "/proc/$_p/stat"; done)
    done | tr '\n' ' '
}

# costs ACCEPTED REDIS_BEFORE REDIS_AFTER STAGES_BEFORE STAGES_AFTER
#       CPU_BEFORE CPU_AFTER:
# "SCRIPT_US CPU_US REDIS_MS KAFKA_MS SCRIPTS TRIPS DELIVERIES NGINX_US
# KAFKA_US CONSUMER_US MARIADB_US" from two redis_usage, two stage_usage
# and two stack_cpu snapshots: the four cost columns ("-" where there is
# nothing to divide by), the counts behind them (script calls, the workers'
# Redis round trips, Kafka deliveries), kept in run/bench/NAME.rounds to
# tell a plausible figure from a wrong one, then the CPU µs per seat of the
# other processes of the stack.
costs() {
    awk -v a="$1" -v r0="$2" -v r1="$3" -v s0="$4" -v s1="$5" -v c0="$6" -v c1="$7" 'BEGIN {
        split(r0, x, " "); split(r1, y, " "); split(s0, p, " "); split(s1, q, " ")
        split(c0, u, " "); split(c1, v, " ")
        script = cpu = redis = kafka = "-"
        for (i = 1; i <= 4; i++) each[i] = "-"
        if (a > 0) {
            script = sprintf("%.1f", (y[1] - x[1]) / a)
            cpu = sprintf("%.1f", (y[2] - x[2]) * 1e6 / a)
            for (i = 1; i <= 4; i++) each[i] = sprintf("%.1f", (v[i] - u[i]) * 1e6 / a)
        }
        if (q[2] > p[2]) redis = sprintf("%.2f", (q[1] - p[1]) * 1000 / (q[2] - p[2]))
        if (q[4] > p[4]) kafka = sprintf("%.2f", (q[3] - p[3]) * 1000 / (q[4] - p[4]))
        print script, cpu, redis, kafka, y[3] - x[3], q[2] - p[2], q[4] - p[4], \
              each[1], each[2], each[3], each[4]
    }'
}

# measure NAME PREPARE SHAPE [CHECK [costs]]: BENCH_ROUNDS rounds of
# PREPARE, then SHAPE (a function that calls wrk_run) against the ceiling
# and against the purchase, then CHECK of the purchase run; reports the
# median round, the ceiling's row first. $served adds up the purchase runs'
# requests.
#
# With "costs", each round also measures what its accepted seats cost:
# - Redis script and process CPU per accepted seat, from just before the
#   purchase run (after PREPARE and the ceiling run, which stay outside) to
#   the moment the consumer has caught up with the run (caught_up): the
#   workers' reserve and the consumer's claim and confirm of the same seats,
#   divided by the accepted count. The process CPU also holds what the
#   scripts do not: networking, the fsync of every event-loop turn (its
#   CPU; the wait for the disk is no CPU), and the other commands of the
#   window (caught_up's HGET and HLEN per course every 0.1 s, INFO).
#   The accepted count is wrk's (seed's: the rows, see sold_850): a run cut off by -d leaves up to one
#   request per connection reserved but unanswered, which the window
#   counts in the costs (0.4% of all-accepted's seats at 2 s). The full `seckill check` (an HMGET per order, a SCAN
#   of every status key) comes after the window.
# - the mean Redis and Kafka stage of the module's histograms, over the
#   purchase run alone.
measure() {
    _m_name=$1; _m_prepare=$2; _m_run=$3; _m_check=${4:-nothing}; _m_costs=${5:-}
    : >"$out/$_m_name.rounds"
    _m_r=0
    while [ $_m_r -lt "$rounds" ]; do
        _m_r=$((_m_r + 1))
        $_m_prepare
        target=/bench/ceiling
        $_m_run "ceiling-$_m_name-$_m_r"
        _m_c="$rps $p50 $p99"
        target=/api/seckill
        if [ -n "$_m_costs" ]; then
            _m_r0=$(redis_usage); _m_s0=$(stage_usage); _m_c0=$(stack_cpu)
        fi
        $_m_run "$_m_name-$_m_r"
        [ -z "$_m_costs" ] || _m_s1=$(stage_usage)
        $_m_check "$_m_name-$_m_r"
        _m_k="- - - - - - - - - - -"
        if [ -n "$_m_costs" ]; then
            caught_up
            _m_k=$(costs "$accepted" "$_m_r0" "$(redis_usage)" "$_m_s0" "$_m_s1" \
                         "$_m_c0" "$(stack_cpu)")
        fi
        served=$((served + requests))
        printf '%s %s %s %s %s %s %s\n' "$(ratio_of "$rps" "${_m_c%% *}")" \
            "$rps" "$p50" "$p99" "$accepted" "$_m_c" "$_m_k" >>"$out/$_m_name.rounds"
    done
    # ratio rps p50 p99 accepted ceiling_rps ceiling_p50 ceiling_p99
    # script_us cpu_us redis_ms kafka_ms scripts trips deliveries
    # nginx_us kafka_us consumer_us mariadb_us
    set -- $(sort -n "$out/$_m_name.rounds" | sed -n "$(((rounds + 1) / 2))p")
    ceiling_rps=$6
    row "ceiling ($_m_name)" "$6" "$7" "$8" - "$6"
    row "$_m_name" "$2" "$3" "$4" "$5" "$6" "$9" "${10}" "${11}" "${12}"
    _m_line="$_m_name: ratios of the $rounds rounds: $(rounds_column 1)"
    [ -z "$_m_costs" ] || _m_line="$_m_line; Redis script µs/seat: $(rounds_column 9)"
    say "$_m_line"
    [ -z "$_m_costs" ] \
        || say "$_m_name: CPU µs per seat in that round: Redis ${10}, nginx workers ${16}," \
               "broker ${17}, consumer ${18}, MariaDB ${19} (wrk apart)"
}

# rounds_column N: field N of every round of $_m_name, in round order, on
# one line.
rounds_column() {
    awk -v n="$1" '{ printf "%s%s", (NR > 1 ? " " : ""), $n }' "$out/$_m_name.rounds"
}

# caught_up: wait until no reservation is pending in Redis (`seckill
# stats`, the "all" row): the consumer has claimed, persisted and confirmed
# every accepted order (or the sweeper gave an orphan's seat back). Cheap for
# Redis (an HGET and an HLEN per course), so it can end a measuring window.
caught_up() {
    _i=0
    until [ "$($cli stats 2>/dev/null | awk '$1 == "all" { print $4 }')" = 0 ]; do
        _i=$((_i + 1))
        [ $_i -lt 3000 ] || { $cli stats; die "reservations still pending after 5 min"; }
        sleep 0.1
    done
}

# quiet: wait until the consumer has persisted every accepted order, then
# check the invariants once. `seckill check` alone does not wait for the
# consumer: its invariants hold with reservations in flight (it only notes
# them), hence caught_up first. A failing check is reported, not waited
# for: it may be about the sale the bench found, which it leaves alone.
quiet() {
    caught_up
    $cli check >"$out/check.txt" 2>&1 \
        || say "WARNING: seckill check fails (run/bench/check.txt):" \
               "$(grep -m1 -i 'fail' "$out/check.txt")"
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

# bench_owned ID: the course is absent or one of the bench's ("bench: "
# names): the bench may remove it. Anything else is the operator's.
bench_owned() {
    _name=$($cli course list | awk -v id="$1" '$1 == id { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }')
    case "$_name" in
        ''|"bench: "*) return 0 ;;
    esac
    die "course $1 (\"$_name\") is not the bench's: the bench uses course ids" \
        "$warm_course, $open_course, $seed_ids and $fill_ids; move that course" \
        "to another id"
}

# fresh_sale: the seed courses removed with their orders and added again
# with their seats (the sale the bench found is not touched); then wait out
# the workers' sold-out cache (seckill_sold_out_ttl, 1 s) so that no worker
# still answers 410 from the previous scenario.
fresh_sale() {
    set -- $seed_seats
    for _c in $seed_ids; do
        $cli course remove "$_c" --force --yes >/dev/null 2>&1 || true
        $cli course add "$_c" "bench: seed $_c" "$1" >/dev/null
        shift
    done
    sleep 1.2
}

# new_sale: the same once the consumer has persisted the last sale (an
# order still in flight would reach a course that is being removed).
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
    for _c in $warm_course $open_course $seed_ids $fill_ids; do
        bench_owned "$_c"
        $cli course remove "$_c" --force --yes >/dev/null 2>&1 || true
    done
}

# broker_jit: the CPU seconds that every broker's JIT compiler threads
# (HotSpot's "C1/C2 CompilerThread") have used since the JVM started: how
# far it still is from running compiled code.
broker_jit() {
    _stats=
    for _s in $(kafka_services); do
        for _t in /proc/"$(pid_of "$_s")"/task/*; do
            case "$(cat "$_t/comm" 2>/dev/null)" in
                C[12]" CompilerThre"*) _stats="$_stats $_t/stat" ;;
            esac
        done
    done
    # shellcheck disable=SC2086
    cpu_seconds $_stats
}

# warm_up: every worker's Kafka producer connected and its Redis scripts
# loaded, and the broker's JVM done compiling its hot paths: purchases on a
# course of its own, 5 s at a time, while a run is 5% faster than the one
# before or the brokers' JIT compilers used more than 0.15 s of CPU in it
# (BENCH_WARMUP_MAX runs at most). A broker fresh from `make run` takes
# 40-45 s of this load to compile, its CPU per purchase falling fourfold
# meanwhile; the purchase rate alone is too noisy here to tell when that
# is over (a warm-up stopped by it once left seed and sold-out to a JVM
# still compiling, all-accepted at the end of the bench to a warm one).
warm_up() {
    $cli course add $warm_course "bench: warm-up" 100000000 >/dev/null
    _w_prev=0; _w_n=0
    while [ $_w_n -lt "$warmup_max" ]; do
        _w_n=$((_w_n + 1))
        _w_jit=$(broker_jit)
        BENCH_COURSES=$warm_course BENCH_REQUESTS=0 wrk_run "warm-up-$_w_n" -d5s
        _w_jit=$(awk -v a="$_w_jit" -v b="$(broker_jit)" 'BEGIN { printf "%.2f", b - a }')
        if [ $((rps * 100)) -le $((_w_prev * 105)) ] \
            && awk -v j="$_w_jit" 'BEGIN { exit !(j <= 0.15) }'
        then
            break
        fi
        _w_prev=$rps
    done
    say "warm-up: $_w_n runs of 5 s, the last at $rps purchases/s with" \
        "$_w_jit s of the brokers' JIT compilers"
    quiet
    $cli course remove $warm_course --force --yes >/dev/null
    settle
}

# Whatever state the stack was left in, the bench starts a sale of its own.
drop_bench_courses
fresh_sale
warm_up

printf '%s\n' "$columns" | tr ' ' '\t' >"$tsv"
printf "$table_line" $columns

# --- seed: the original flash crowd, 10,000 buyers for 850 seats --------
# wrk runs for its whole -d; the rate counts the time the requests took.
seed() { BENCH_COURSES=$seed_courses BENCH_REQUESTS=10000 wrk_run "$1" -d3s; }
# sold_850: the sale sold exactly its 850 seats, counted where they end up
# (rows, once the consumer has caught up). wrk's own count can be short: a
# thread stops at its share of the requests with its other connections'
# purchases unanswered, though the server took them; the accepted column
# and the costs use the rows.
sold_850() {
    caught_up
    _sold=$(sql_count "$seed_courses")
    [ "$_sold" = 850 ] || say "WARNING: $1 sold $_sold seats, expected 850 ($statuses)"
    [ "$accepted" = "$_sold" ] || say "$1: wrk saw $accepted of the $_sold sold (a thread stopped with purchases in flight)"
    accepted=$_sold
}
served=0
measure seed new_sale seed sold_850 costs
quiet

# --- sold-out: every course at 0 (the state seed leaves) ----------------
# The worker's memory is read across at least 1,000,000 requests: the
# rounds', and more if they were fewer.
sold_out() { BENCH_COURSES=$seed_courses BENCH_REQUESTS=0 wrk_run "$1" -d"$duration"; }
rss_before=$(worker_rss)
served=0
measure sold-out nothing sold_out
while [ "$served" -lt 1000000 ]; do
    # wrk runs for its whole -d: ask for about what is missing
    _secs=$(( (1000000 - served) / (rps > 0 ? rps : 1000) + 1 ))
    BENCH_COURSES=$seed_courses BENCH_REQUESTS=0 wrk_run sold-out-more -d"${_secs}s"
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
ab -n 10000 -c 100 -k -m POST "$url/api/seckill/${seed_ids%% *}/1" >"$out/ab.txt" 2>&1 \
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
measure all-accepted nothing all_accepted nothing costs
quiet
$cli course remove $open_course --force --yes >/dev/null

# --- drain: the consumer persisting a backlog ------------------------------
new_sale
sh "$top/deploy/consumer.sh" stop
$cli fill 100000 >"$out/fill.txt"
orders() { sql_count "$(printf '%s' "$fill_ids" | tr ' ' ',')"; }
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
quiet
for c in $fill_ids $seed_ids; do
    $cli course remove "$c" --force --yes >/dev/null
done

say "written: $tsv"
