# A bad directive value stops nginx at start-up (and `nginx -t`) with a
# message naming the directive and the value.
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a timeout that is not a time
--- http_config
    seckill_redis 127.0.0.1:6379;
    seckill_redis_timeout abc;
--- config
--- must_die
--- error_log eval
qr/invalid value "abc" in "seckill_redis_timeout"|"seckill_redis_timeout" directive invalid value/



=== TEST 2: a Redis address without a port
--- http_config
    seckill_redis nohost;
--- config
--- must_die
--- error_log eval
qr/"nohost".*seckill_redis|seckill_redis.*"nohost"/



=== TEST 3: a Redis port out of range
--- http_config
    seckill_redis 127.0.0.1:99999;
--- config
--- must_die
--- error_log eval
qr/seckill_redis.*99999|99999.*seckill_redis/



=== TEST 4: an unknown librdkafka property, with librdkafka's reason
--- http_config
    seckill_kafka_property no.such.property 1;
--- config
--- must_die
--- error_log eval
qr/seckill_kafka_property.*no\.such\.property|no\.such\.property.*seckill_kafka_property/



=== TEST 5: a bad value for a known librdkafka property
--- http_config
    seckill_kafka_property acks sometimes;
--- config
--- must_die
--- error_log eval
qr/seckill_kafka_property.*sometimes|sometimes.*seckill_kafka_property/



=== TEST 6: seckill_courses outside a location is refused
--- http_config
    seckill_courses;
--- config
--- must_die
--- error_log eval
qr/"seckill_courses" directive is not allowed here/



=== TEST 7: a reserve batch of no orders
--- http_config
    seckill_redis_batch 0;
--- config
--- must_die
--- error_log eval
qr/invalid value "0" in "seckill_redis_batch" directive, it must be a number of orders from 1 to 1000/



=== TEST 8: a reserve batch above the bound
--- http_config
    seckill_redis_batch 1001;
--- config
--- must_die
--- error_log eval
qr/invalid value "1001" in "seckill_redis_batch" directive/



=== TEST 9: more seed addresses than a cluster needs
--- http_config
    seckill_redis 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4 127.0.0.1:5 127.0.0.1:6 127.0.0.1:7 127.0.0.1:8 127.0.0.1:9 127.0.0.1:10 127.0.0.1:11 127.0.0.1:12 127.0.0.1:13 127.0.0.1:14 127.0.0.1:15 127.0.0.1:16 127.0.0.1:17;
--- config
--- must_die
--- error_log eval
qr/"seckill_redis" takes at most 16 addresses/



=== TEST 10: a valid configuration starts
--- http_config
    seckill_redis 127.0.0.1:6379 127.0.0.1:6380 127.0.0.1:6381;
    seckill_redis_timeout 150ms;
    seckill_redis_batch 1;
    seckill_redis_connect_timeout 2s;
    seckill_kafka_property linger.ms 1;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
