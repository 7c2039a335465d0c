# Purchases when Redis or Kafka fail: 503 with Retry-After, nothing held,
# the seat back on sale, other locations served.  Courses 111..119.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(redis course drop_courses block_defaults wait_error_log
                   stall_redis);
use Time::HiRes ();

no_shuffle();

add_cleanup_handler(sub { drop_courses(111 .. 119) });

my $plain = <<'_EOC_';
    location = /plain {
        return 200 "still here\n";
    }
_EOC_

# "--- stack: <what is broken>" starts nginx with that; a block without it
# goes on with the same nginx, to see what it did after its answer (with
# Redis broken no worker can be ready)
block_defaults(more_config => $plain, stacks => {
    redis_down => { redis => '127.0.0.1:1', password => undef, kafka => '127.0.0.1:1',
                    http => 'seckill_redis_connect_timeout 100ms;', ready => 0 },
    kafka_down => { kafka => '127.0.0.1:1', http => 'seckill_kafka_timeout 1s;' },
    redis_refused => { password => 'not-the-password', ready => 0 },
    redis_no_password => { password => undef, ready => 0 },
    redis_slow => { http => 'seckill_redis_timeout 150ms;' },
    redis_seeds => { redis => "127.0.0.1:1 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}" },
});
run_tests();

__DATA__

=== TEST 1: Redis unreachable: 503 JSON with Retry-After, at once
--- stack: redis_down
--- request
POST /api/seckill/111/1
--- error_code: 503
--- response_headers
Content-Type: application/json
Retry-After: 1
--- response_body_like chomp
^\{"status":"unavailable","error":"[^"]+"\}$
--- timeout: 1



=== TEST 2: Redis unreachable: the order status is 503 too
--- request
GET /api/orders/111/1
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like chomp
^\{"status":"unavailable","error":"[^"]+"\}$
--- timeout: 1



=== TEST 3: Redis unreachable: another location is still served
--- request
GET /plain
--- error_code: 200
--- response_body
still here



=== TEST 4: Kafka unreachable: 503 after the delivery timeout, Retry-After
--- stack: kafka_down
--- init
main::course(112, 3);
$main::start = Time::HiRes::time();
--- request
POST /api/seckill/112/1
--- error_code: 503
--- response_headers
Content-Type: application/json
Retry-After: 1
--- response_body_like chomp
^\{"status":"unavailable","error":"[^"]+"\}$
--- error_log
not delivered to kafka
--- timeout: 4



=== TEST 5: Kafka unreachable: the seat is back on sale, the order failed
--- init
my $waited = Time::HiRes::time() - $main::start;
Test::More::cmp_ok($waited, '>=', 0.9, 'answered after the delivery timeout');
Test::More::cmp_ok($waited, '<', 3, 'and not much later');
Test::More::is(main::redis('HGET', 'seckill:{c112}', 'remaining'), 3,
               'remaining unchanged');
Test::More::is(main::redis('HGET', 'seckill:{c112}:u:1', 'status'), 'failed',
               'the status key says failed');
Test::More::is(main::redis('HLEN', 'seckill:{c112}:pending'), 0,
               'nothing pending');
--- request
GET /api/orders/112/1
--- error_code: 200
--- response_body_like chomp
^\{"status":"failed","order_id":\d+,"course_id":112,"user_id":1\}$



=== TEST 6: Kafka unreachable: a client that went away leaves no reservation behind
--- stack: kafka_down
--- init
main::course(113, 2);
--- request
POST /api/seckill/113/1
--- timeout: 0.3
--- abort
--- ignore_response



=== TEST 7: ... its seat was released all the same
--- init
Time::HiRes::sleep(3);
Test::More::is(main::redis('HGET', 'seckill:{c113}', 'remaining'), 2,
               'remaining unchanged');
Test::More::is(main::redis('HGET', 'seckill:{c113}:u:1', 'status'), 'failed',
               'the status key says failed');
--- request
GET /plain
--- error_code: 200



=== TEST 8: Redis too slow: 503 within seckill_redis_timeout
--- stack: redis_slow
--- init
main::course(114, 2);
$main::stall = main::stall_redis(700);
--- request
POST /api/seckill/114/1
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body chomp
{"status":"unavailable","error":"redis timed out"}
--- error_log
did not answer within 150 ms



=== TEST 9: ... the reservation Redis made after that is released, not orphaned
--- init
waitpid($main::stall, 0);
Time::HiRes::sleep(0.3);
Test::More::is(main::redis('HGET', 'seckill:{c114}', 'remaining'), 2,
               'remaining unchanged');
Test::More::is(main::redis('HGET', 'seckill:{c114}:u:1', 'status'), 'failed',
               'the late reservation was released');
Test::More::is(main::redis('HLEN', 'seckill:{c114}:pending'), 0,
               'nothing pending');
--- request
POST /api/seckill/114/2
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":\d+,"course_id":114,"user_id":2\}$



=== TEST 10: Redis refuses the password: 503, the reason in the error log, nothing reserved
--- stack: redis_refused
--- init
main::course(115, 2);
main::wait_error_log(qr/AUTH refused/);
--- request
POST /api/seckill/115/1
--- error_code: 503
--- response_body_like chomp
^\{"status":"unavailable","error":"[^"]+"\}$
--- error_log
AUTH refused (WRONGPASS
seckill_redis_password must be the requirepass of redis.conf



=== TEST 11: ... and the stock is untouched
--- init
Test::More::is(main::redis('HGET', 'seckill:{c115}', 'remaining'), 2, 'remaining 2');
Test::More::is(main::redis('EXISTS', 'seckill:{c115}:u:1'), 0, 'no order key');
--- request
GET /api/orders/115/1
--- error_code: 503



=== TEST 12: a Redis with a password, none configured: 503, Redis's NOAUTH in the error log
--- stack: redis_no_password
--- init
main::wait_error_log(qr/NOAUTH/);
--- request
POST /api/seckill/115/1
--- error_code: 503
--- error_log
NOAUTH Authentication required



=== TEST 13: several addresses, the first one dead: the Redis that answers serves every course
--- stack: redis_seeds
--- init
main::course(116, 1);
--- request
POST /api/seckill/116/1
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":\d+,"course_id":116,"user_id":1\}$
--- error_log
is not a cluster: it serves every course
