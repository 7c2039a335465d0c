# GET /api/orders/{course_id}/{user_id}: the order's status key, as the
# client sees it ("claimed" is still "pending").  Course 141.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(redis drop_courses block_defaults);

no_shuffle();

sub order {
    my ($user, $order, $status) = @_;
    redis('HSET', "seckill:{c141}:u:$user", order_id => $order,
          status => $status, ts => 1700000000000);
}

add_cleanup_handler(sub { drop_courses(141) });

block_defaults(kafka => undef, config => <<'_EOC_');
    location /api/orders/ {
        seckill_orders;
    }
_EOC_
run_tests();

__DATA__

=== TEST 1: a pending order
--- init
main::drop_courses(141);
main::order(1, 1048577, 'pending');
--- request
GET /api/orders/141/1
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"pending","order_id":1048577,"course_id":141,"user_id":1}
--- no_error_log
[error]



=== TEST 2: claimed by the consumer, not yet in the database: still pending
--- init
main::order(2, 1048578, 'claimed');
--- request
GET /api/orders/141/2
--- error_code: 200
--- response_body chomp
{"status":"pending","order_id":1048578,"course_id":141,"user_id":2}



=== TEST 3: persisted: success
--- init
main::order(3, 1048579, 'success');
--- request
GET /api/orders/141/3
--- error_code: 200
--- response_body chomp
{"status":"success","order_id":1048579,"course_id":141,"user_id":3}



=== TEST 4: released: failed
--- init
main::order(4, 1048580, 'failed');
--- request
GET /api/orders/141/4
--- error_code: 200
--- response_body chomp
{"status":"failed","order_id":1048580,"course_id":141,"user_id":4}



=== TEST 5: no order: 404 none
--- request
GET /api/orders/141/5
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"none","course_id":141,"user_id":5}



=== TEST 6: HEAD: the headers only
--- request
HEAD /api/orders/141/1
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 7: other methods: 405 JSON naming GET and HEAD
--- request eval
["POST /api/orders/141/1", "DELETE /api/orders/141/1"]
--- error_code eval
[405, 405]
--- response_headers eval
["Allow: GET, HEAD\nContent-Type: application/json",
 "Allow: GET, HEAD\nContent-Type: application/json"]
--- response_body_like eval
[qr/^\{"status":"method_not_allowed","error":"[^"]+"\}$/,
 qr/^\{"status":"method_not_allowed","error":"[^"]+"\}$/]



=== TEST 8: malformed ids: 400 with the reason
--- request eval
["GET /api/orders/x/1", "GET /api/orders/141/0", "GET /api/orders/141/01",
 "GET /api/orders/141", "GET /api/orders/141/1/2",
 "GET /api/orders/141/9007199254740992"]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_body eval
['{"status":"bad_request","error":"course id must be a decimal integer"}',
 '{"status":"bad_request","error":"user id must be from 1 to 9007199254740991"}',
 '{"status":"bad_request","error":"user id must not have a leading zero"}',
 '{"status":"bad_request","error":"missing user id: expected /{course_id}/{user_id}"}',
 '{"status":"bad_request","error":"unexpected path segment after the user id"}',
 '{"status":"bad_request","error":"user id must be from 1 to 9007199254740991"}']



=== TEST 9: a malformed status key is logged and answered 503, not guessed
--- init
main::order(6, 'abc', 'pending');
--- request
GET /api/orders/141/6
--- error_code: 503
--- response_body chomp
{"status":"unavailable","error":"malformed order status"}
--- error_log
malformed status key for course 141, user 6



=== TEST 10: a location without the trailing slash takes the same URIs
--- config
    location /api/orders {
        seckill_orders;
    }
--- request eval
["GET /api/orders/141/3", "GET /api/ordersx/141/3"]
--- error_code eval
[200, 400]
--- response_body eval
['{"status":"success","order_id":1048579,"course_id":141,"user_id":3}',
 '{"status":"bad_request","error":"expected /{course_id}/{user_id}"}']



=== TEST 11: Redis unreachable: 503 with Retry-After
--- http_config
    seckill_redis 127.0.0.1:1;
--- request
GET /api/orders/141/1
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like chomp
^\{"status":"unavailable","error":"[^"]+"\}$
