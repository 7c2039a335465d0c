# The purchase path's directives: a bad value stops nginx at start-up
# (and `nginx -t`) naming the directive and the value.
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a Kafka delivery timeout that is not a time
--- http_config
    seckill_kafka_timeout soon;
--- config
--- must_die
--- error_log eval
qr/invalid value "soon" in "seckill_kafka_timeout" directive/



=== TEST 2: a zero Kafka delivery timeout
--- http_config
    seckill_kafka_timeout 0;
--- config
--- must_die
--- error_log eval
qr/invalid value "0" in "seckill_kafka_timeout" directive/



=== TEST 3: a sold-out TTL that is neither a time nor "off"
--- http_config
    seckill_sold_out_ttl forever;
--- config
--- must_die
--- error_log eval
qr/invalid value "forever" in "seckill_sold_out_ttl" directive, it must be a positive time such as "1s", or "off"/



=== TEST 4: seckill_purchase in a regex location: the ids follow a prefix
--- config
    location ~ ^/api/seckill/ {
        seckill_purchase;
    }
--- must_die
--- error_log eval
qr/"seckill_purchase" is not allowed in "location \^\/api\/seckill\/": it needs a prefix location/



=== TEST 5: seckill_orders in an exact location
--- config
    location = /api/orders/ {
        seckill_orders;
    }
--- must_die
--- error_log eval
qr/"seckill_orders" is not allowed in "location \/api\/orders\/": it needs a prefix location such as "location \/api\/orders\/"/



=== TEST 6: seckill_purchase takes no argument
--- config
    location /api/seckill/ {
        seckill_purchase on;
    }
--- must_die
--- error_log eval
qr/invalid number of arguments in "seckill_purchase" directive/



=== TEST 7: seckill_purchase outside a location
--- http_config
    seckill_purchase;
--- config
--- must_die
--- error_log eval
qr/"seckill_purchase" directive is not allowed here/



=== TEST 8: every purchase directive with a valid value starts
--- http_config
    seckill_redis 127.0.0.1:1;
    seckill_kafka_brokers 127.0.0.1:1;
    seckill_kafka_timeout 2s;
    seckill_sold_out_ttl 250ms;
    seckill_kafka_property linger.ms 5;
--- config
    location /api/seckill/ {
        seckill_purchase;
    }
    location /api/orders/ {
        seckill_orders;
    }
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok



=== TEST 9: a Kafka delivery timeout beyond librdkafka's limit
--- http_config
    seckill_kafka_timeout 30d;
--- config
--- must_die
--- error_log eval
qr/"seckill_kafka_timeout" of 2592000000 ms is too long/
