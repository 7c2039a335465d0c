# seckill_status: the module's counters in Prometheus' text format.  The
# answers are counted by endpoint and status, the Redis round trips and
# Kafka deliveries measured, the sold-out cache shown; every body it
# writes is well-formed (HELP and TYPE for each metric, histograms
# cumulative with _count = the +Inf bucket).  nginx starts afresh for each
# block, and so do the counters: what a block checks, it does itself.
# Courses 601..609.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(course drop_courses block_defaults);

no_shuffle();

# a pattern for a body holding every one of these lines
sub lines {
    my $re = join '', map { "(?=[\\s\\S]*^$_\$)" } @_;
    return qr/$re/m;
}

# Every metrics body, whatever the block: the text format's rules.
add_response_body_check(sub {
    my ($block, $body) = @_;
    return unless $body =~ /\A# HELP /;
    my $name = $block->name;
    my (%help, %type, %buckets, %count, @bad);
    for my $line (split /\n/, $body) {
        if ($line =~ /^# HELP (\w+) \S/) {
            $help{$1} = 1;
        } elsif ($line =~ /^# TYPE (\w+) (counter|gauge|histogram)$/) {
            $type{$1} = $2;
        } elsif ($line =~ /^(\w+?)_bucket\{le="([^"]+)"\} (\d+)$/) {
            push @{ $buckets{$1} }, [$2, $3];
        } elsif ($line =~ /^(\w+?)_count (\d+)$/ && $type{$1}) {
            $count{$1} = $2;
        } elsif ($line !~ /^(\w+)(\{\w+="[^"]*"(,\w+="[^"]*")*\})? \d+(\.\d+)?$/) {
            push @bad, $line;
        }
    }
    Test::More::is("@bad", '', "$name - every sample line is well-formed");
    for my $m (sort keys %type) {
        Test::More::ok($help{$m}, "$name - $m has a HELP line");
        next unless $type{$m} eq 'histogram';
        my @b = @{ $buckets{$m} // [] };
        my @counts = map { $_->[1] } @b;
        Test::More::is($b[-1][0], '+Inf', "$name - $m ends with +Inf");
        Test::More::ok(!grep({ $counts[$_] < $counts[$_ - 1] } 1 .. $#counts),
                       "$name - $m buckets are cumulative");
        Test::More::is($count{$m}, $counts[-1], "$name - $m _count = +Inf");
    }
});

add_cleanup_handler(sub { drop_courses(601 .. 609) });

block_defaults(more_config => <<'_EOC_');
    error_page 404 /_seckill_error;

    location = /_seckill_error {
        internal;
        seckill_error;
    }
    location /api/ {
        return 404;
    }
    location = /metrics {
        allow 127.0.0.1;
        deny all;
        seckill_status;
    }
_EOC_
run_tests();

__DATA__

=== TEST 1: a purchase, a duplicate and a bad request are counted, with their Redis round trips and the Kafka delivery
--- init
main::course(601, 5);
--- request eval
["POST /api/seckill/601/1", "POST /api/seckill/601/1",
 "POST /api/seckill/601/x", "GET /metrics"]
--- error_code eval
[200, 409, 400, 200]
--- response_headers eval
["", "", "", "Content-Type: text/plain; version=0.0.4"]
--- response_body_like eval
[qr/"status":"pending"/, qr/"status":"duplicate"/, qr/"status":"bad_request"/,
 main::lines('seckill_responses_total\{endpoint="purchase",status="pending"\} [1-9]\d*',
             'seckill_responses_total\{endpoint="purchase",status="duplicate"\} [1-9]\d*',
             'seckill_responses_total\{endpoint="purchase",status="bad_request"\} [1-9]\d*',
             'seckill_responses_total\{endpoint="purchase",status="sold_out"\} 0',
             '# TYPE seckill_redis_seconds histogram',
             'seckill_redis_seconds_bucket\{le="0\.0005"\} \d+',
             'seckill_redis_seconds_sum \d+\.\d{6}',
             'seckill_redis_seconds_count [1-9]\d*',
             '# TYPE seckill_kafka_delivery_seconds histogram',
             'seckill_kafka_delivery_seconds_count [1-9]\d*',
             'seckill_kafka_delivery_failures_total 0',
             'seckill_kafka_inflight 0',
             'seckill_redis_connected 1',
             'seckill_workers 1')]
--- no_error_log
[error]



=== TEST 2: a course Redis said is sold out shows in the sold-out cache, and its 410s are counted
--- init
main::course(602, 0);
--- request eval
["POST /api/seckill/602/1", "POST /api/seckill/602/2", "GET /metrics"]
--- error_code eval
[410, 410, 200]
--- response_body_like eval
[qr/"status":"sold_out"/, qr/"status":"sold_out"/,
 main::lines('seckill_responses_total\{endpoint="purchase",status="sold_out"\} 2',
             '# TYPE seckill_sold_out gauge',
             'seckill_sold_out\{course="602"\} 1')]



=== TEST 3: the orders endpoint and the JSON error pages are counted by their status
--- request eval
["GET /api/orders/603/1", "GET /api/orders/603/x", "GET /api/nothing",
 "GET /metrics"]
--- error_code eval
[404, 400, 404, 200]
--- response_body_like eval
[qr/"status":"none"/, qr/"status":"bad_request"/, qr/"status":"not_found"/,
 main::lines('seckill_responses_total\{endpoint="orders",status="none"\} [1-9]\d*',
             'seckill_responses_total\{endpoint="orders",status="bad_request"\} 1',
             'seckill_responses_total\{endpoint="orders",status="success"\} 0',
             'seckill_responses_total\{endpoint="error",status="not_found"\} 1',
             'seckill_responses_total\{endpoint="courses",status="ok"\} 0')]



=== TEST 4: HEAD is answered with the headers only
--- request
HEAD /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body chomp



=== TEST 5: other methods: 405 JSON naming GET and HEAD, not counted
--- request eval
["POST /metrics", "DELETE /metrics", "GET /metrics"]
--- error_code eval
[405, 405, 200]
--- response_headers eval
["Allow: GET, HEAD\nContent-Type: application/json",
 "Allow: GET, HEAD\nContent-Type: application/json", ""]
--- response_body_like eval
[qr/^\{"status":"method_not_allowed","error":"[^"]+"\}$/,
 qr/^\{"status":"method_not_allowed","error":"[^"]+"\}$/,
 main::lines('seckill_responses_total\{endpoint="purchase",status="method_not_allowed"\} 0',
             'seckill_responses_total\{endpoint="error",status="method_not_allowed"\} 0')]



=== TEST 6: a status location alone, no other seckill location: every counter at zero, no Redis
--- http_config
--- config
    location = /metrics {
        seckill_status;
    }
--- request
GET /metrics
--- error_code: 200
--- response_body_like eval
my $counters = main::lines('seckill_responses_total\{endpoint="purchase",status="pending"\} 0',
                           'seckill_redis_seconds_count 0',
                           'seckill_redis_seconds_sum 0\.000000',
                           'seckill_kafka_delivery_seconds_count 0',
                           'seckill_redis_connected 0',
                           'seckill_kafka_inflight 0',
                           'seckill_workers 1');
# and no sold-out course (response_body_unlike is not checked beside _like)
qr/\A(?![\s\S]*^seckill_sold_out\{)$counters/m
--- no_error_log
[error]



=== TEST 7: seckill_status takes no argument
--- config
    location = /metrics {
        seckill_status on;
    }
--- must_die
--- error_log
invalid number of arguments in "seckill_status" directive



=== TEST 8: an "if" block inside the purchase location counts as the purchase location
--- config
    location /api/seckill/ {
        if ($arg_via_if) {
            set $seckill_test_if 1;
        }
        seckill_purchase;
    }
    location /api/orders/ {
        seckill_orders;
    }
    location = /metrics {
        seckill_status;
    }
--- init
main::course(604, 5);
--- request eval
["POST /api/seckill/604/1?via_if=1", "POST /api/seckill/604/2", "GET /metrics"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/"status":"pending"/, qr/"status":"pending"/,
 main::lines('seckill_responses_total\{endpoint="purchase",status="pending"\} 2')]
