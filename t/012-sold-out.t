# The sold-out cache: once Redis said a course is sold out, the module
# answers 410 without asking it, for seckill_sold_out_ttl; a seat released
# by the module clears that at once.  Courses 121..129.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(redis course drop_courses http block_defaults);
use POSIX ();
use Time::HiRes ();

no_shuffle();

# a purchase in a child process, while the block goes on; its exit code
# tells whether it was answered $expect
sub purchase_aside {
    my ($path, $expect) = @_;
    my $pid = fork // die "fork: $!";
    POSIX::_exit(http('POST', $path) == $expect ? 0 : 1) if $pid == 0;
    return $pid;
}

add_cleanup_handler(sub { drop_courses(121 .. 129) });

# "--- stack: <name>" starts nginx with that configuration; a block without
# it goes on with the same nginx and what it has learned
block_defaults(stacks => {
    ttl => { http => 'seckill_sold_out_ttl 500ms;' },
    off => { http => 'seckill_sold_out_ttl off;' },
    kafka_down => { kafka => '127.0.0.1:1',
                    http => "seckill_sold_out_ttl 30s;\nseckill_kafka_timeout 1s;" },
});
run_tests();

__DATA__

=== TEST 1: the last seat, then Redis says sold out
--- stack: ttl
--- init
main::course(121, 1);
--- request eval
["POST /api/seckill/121/1", "POST /api/seckill/121/2"]
--- error_code eval
[200, 410]



=== TEST 2: stock back behind the module's back: still 410 within the TTL, Redis not asked
--- init
main::redis('HSET', 'seckill:{c121}', 'remaining', 1);
--- request
POST /api/seckill/121/3
--- error_code: 410
--- response_body chomp
{"status":"sold_out","course_id":121,"user_id":3}



=== TEST 3: after the TTL Redis is asked again and the seat is sold
--- init
Test::More::is(main::redis('EXISTS', 'seckill:{c121}:u:3'), 0,
               'the cached answer did not reach Redis');
Time::HiRes::sleep(0.6);
--- request
POST /api/seckill/121/3
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":\d+,"course_id":121,"user_id":3\}$



=== TEST 4: seckill_sold_out_ttl off: every purchase asks Redis
--- stack: off
--- init
main::course(122, 1);
--- request eval
["POST /api/seckill/122/1", "POST /api/seckill/122/2"]
--- error_code eval
[200, 410]



=== TEST 5: seckill_sold_out_ttl off: stock back is on sale at once
--- init
main::redis('HSET', 'seckill:{c122}', 'remaining', 1);
--- request
POST /api/seckill/122/3
--- error_code: 200



=== TEST 6: the last seat is held by an order Kafka cannot take; meanwhile sold out
--- stack: kafka_down
--- init
main::course(123, 1);
$main::aside = main::purchase_aside('/api/seckill/123/1', 503);
Time::HiRes::sleep(0.3);
--- request
POST /api/seckill/123/2
--- error_code: 410



=== TEST 7: the module released that seat: the course is on sale again at once, not after 30s
--- init
waitpid($main::aside, 0);
Test::More::is($?, 0, 'the first buyer was told 503');
Test::More::is(main::redis('HGET', 'seckill:{c123}', 'remaining'), 1,
               'its seat is back');
--- request
POST /api/seckill/123/3
--- error_code: 503
--- response_body_like chomp
^\{"status":"unavailable","error":"the order could not be delivered, nothing was reserved"\}$
--- timeout: 5
