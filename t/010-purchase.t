# POST /api/seckill/{course_id}/{user_id}: every row of the answer table
# (SPEC §3), the order event on the topic, and the ids that are refused.
# The courses are made here, ids 101..109, and removed at the end; the demo
# catalogue is left alone.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(redis course drop_courses http block_defaults kcat_read);

no_shuffle();
add_cleanup_handler(sub { drop_courses(101 .. 109) });
block_defaults();
run_tests();

__DATA__

=== TEST 1: a seat: 200 pending with the order id, once Kafka has the event
--- init
main::course(101, 3);
--- request
POST /api/seckill/101/1
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"pending","order_id":[1-9][0-9]*,"course_id":101,"user_id":1\}$
--- no_error_log
[error]



=== TEST 2: the event is on the topic, keyed by course, with the reserved order id
--- init
my $order = main::redis('HGET', 'seckill:{c101}:u:1', 'order_id');
Test::More::like($order, qr/^[1-9][0-9]*$/, 'the status key holds the order id');
Test::More::is(main::redis('HGET', 'seckill:{c101}', 'remaining'), 2,
               'one seat less in Redis');
Test::More::like(main::redis('HGET', 'seckill:{c101}:u:1', 'status'),
                 qr/^(pending|claimed|success)$/,
                 'pending, unless the consumer got to it already');
my @events = grep { /"order_id":$order,/ } main::kcat_read('seckill.orders');
Test::More::is(scalar @events, 1, 'one event for the order');
Test::More::like($events[0] // '',
    qr/^101 \{"order_id":$order,"course_id":101,"user_id":1,"ts":1[0-9]{12}\}$/,
    'key = course id, value = the order as JSON');
--- request
GET /api/orders/101/1
--- error_code: 200
--- response_body_like chomp
^\{"status":"(pending|success)","order_id":[1-9][0-9]*,"course_id":101,"user_id":1\}$



=== TEST 3: the same user again: 409 duplicate with the order id already held
--- request
POST /api/seckill/101/1
--- error_code: 409
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"duplicate","order_id":[1-9][0-9]*,"course_id":101,"user_id":1\}$



=== TEST 4: the duplicate names the order the user holds, and costs no seat
--- init
my ($code, $body) = main::http('POST', '/api/seckill/101/1');
my $order = main::redis('HGET', 'seckill:{c101}:u:1', 'order_id');
Test::More::is($code, 409, 'duplicate');
Test::More::like($body, qr/"order_id":$order,/, 'with the order id held');
Test::More::is(main::redis('HGET', 'seckill:{c101}', 'remaining'), 2,
               'still one seat less');
--- request
GET /api/orders/101/1
--- error_code: 200



=== TEST 5: the last seat is sold, then 410 sold_out
--- init
main::course(102, 1);
--- request eval
["POST /api/seckill/102/1", "POST /api/seckill/102/2", "POST /api/seckill/102/3"]
--- error_code eval
[200, 410, 410]
--- response_body_like eval
[qr/^\{"status":"pending","order_id":\d+,"course_id":102,"user_id":1\}$/,
 qr/^\{"status":"sold_out","course_id":102,"user_id":2\}$/,
 qr/^\{"status":"sold_out","course_id":102,"user_id":3\}$/]



=== TEST 6: sold out: nothing reserved for the others, no oversell
--- init
Test::More::is(main::redis('HGET', 'seckill:{c102}', 'remaining'), 0,
               'no seat left, none below zero');
Test::More::is(scalar(() = split /\n/, main::redis('KEYS', 'seckill:{c102}:u:*')),
               1, 'one order');
--- request
GET /api/orders/102/2
--- error_code: 404
--- response_body chomp
{"status":"none","course_id":102,"user_id":2}



=== TEST 7: before the sale window: 403 not_started with starts_at
--- init
main::course(103, 5, from => 3600000, to => 7200000);
--- request
POST /api/seckill/103/1
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"not_started","starts_at":1[0-9]{12},"course_id":103,"user_id":1\}$



=== TEST 8: after the sale window: 403 ended with ends_at
--- init
main::course(104, 5, from => -7200000, to => -3600000);
--- request
POST /api/seckill/104/1
--- error_code: 403
--- response_body_like chomp
^\{"status":"ended","ends_at":1[0-9]{12},"course_id":104,"user_id":1\}$



=== TEST 9: no such course: 404 unknown_course
--- init
main::drop_courses(105);
--- request
POST /api/seckill/105/1
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"unknown_course","course_id":105,"user_id":1}



=== TEST 10: a user whose last attempt failed may buy again, with a new order id
--- init
main::course(106, 2);
main::redis('HSET', 'seckill:{c106}:u:7', order_id => 5, status => 'failed',
            ts => 1);
--- request
POST /api/seckill/106/7
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":(?!5,)[1-9][0-9]*,"course_id":106,"user_id":7\}$



=== TEST 11: Redis lost the scripts (SCRIPT FLUSH): loaded again, the purchase goes on
--- init
main::course(107, 2);
main::redis('SCRIPT', 'FLUSH');
--- request
POST /api/seckill/107/1
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":\d+,"course_id":107,"user_id":1\}$
--- error_log
has lost the reserve script, loading it again



=== TEST 12: a request body is ignored
--- request
POST /api/seckill/107/2
{"anything": "at all"}
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":\d+,"course_id":107,"user_id":2\}$



=== TEST 12b: a chunked request body: 413 JSON, nothing reserved
--- raw_request eval
"POST /api/seckill/107/3 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
--- error_code: 413
--- response_body_like chomp
^\{"status":"too_large","error":"[^"]+"\}$
--- no_error_log
[error]



=== TEST 12c: and the user holds no order
--- request
GET /api/orders/107/3
--- error_code: 404



=== TEST 13: other methods: 405 JSON naming POST
--- request eval
["GET /api/seckill/101/1", "PUT /api/seckill/101/1", "DELETE /api/seckill/101/1"]
--- error_code eval
[405, 405, 405]
--- response_headers eval
["Allow: POST\nContent-Type: application/json",
 "Allow: POST\nContent-Type: application/json",
 "Allow: POST\nContent-Type: application/json"]
--- response_body_like eval
[qr/^\{"status":"method_not_allowed","error":"[^"]+"\}$/,
 qr/^\{"status":"method_not_allowed","error":"[^"]+"\}$/,
 qr/^\{"status":"method_not_allowed","error":"[^"]+"\}$/]



=== TEST 14: ids with letters or signs are 400
--- request eval
["POST /api/seckill/abc/1", "POST /api/seckill/101/1x", "POST /api/seckill/-1/1",
 "POST /api/seckill/101/+1", "POST /api/seckill/1.5/1", "POST /api/seckill/101/%20"]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_body eval
['{"status":"bad_request","error":"course id must be a decimal integer"}',
 '{"status":"bad_request","error":"user id must be a decimal integer"}',
 '{"status":"bad_request","error":"course id must be a decimal integer"}',
 '{"status":"bad_request","error":"user id must be a decimal integer"}',
 '{"status":"bad_request","error":"course id must be a decimal integer"}',
 '{"status":"bad_request","error":"user id must be a decimal integer"}']



=== TEST 15: 0, a leading zero, 2^53 and longer numbers are 400
--- request eval
["POST /api/seckill/0/1", "POST /api/seckill/101/0", "POST /api/seckill/0101/1",
 "POST /api/seckill/101/007", "POST /api/seckill/9007199254740992/1",
 "POST /api/seckill/101/9007199254740992",
 "POST /api/seckill/" . ("9" x 300) . "/1",
 "POST /api/seckill/101/" . ("1" x 2000)]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400]
--- response_body eval
['{"status":"bad_request","error":"course id must be from 1 to 9007199254740991"}',
 '{"status":"bad_request","error":"user id must be from 1 to 9007199254740991"}',
 '{"status":"bad_request","error":"course id must not have a leading zero"}',
 '{"status":"bad_request","error":"user id must not have a leading zero"}',
 '{"status":"bad_request","error":"course id must be from 1 to 9007199254740991"}',
 '{"status":"bad_request","error":"user id must be from 1 to 9007199254740991"}',
 '{"status":"bad_request","error":"course id must be from 1 to 9007199254740991"}',
 '{"status":"bad_request","error":"user id must be from 1 to 9007199254740991"}']



=== TEST 16: the largest id, 2^53 - 1, is an id
--- request
POST /api/seckill/9007199254740991/9007199254740991
--- error_code: 404
--- response_body chomp
{"status":"unknown_course","course_id":9007199254740991,"user_id":9007199254740991}



=== TEST 17: missing, empty and extra path segments are 400
--- request eval
["POST /api/seckill/", "POST /api/seckill/101", "POST /api/seckill/101/",
 "POST /api/seckill/101/1/2", "POST /api/seckill/101/1/",
 "POST /api/seckill/101/1?x=1/2"]
--- error_code eval
[400, 400, 400, 400, 400, 409]
--- response_body_like eval
[qr/^\{"status":"bad_request","error":"missing course id[^"]*"\}$/,
 qr/^\{"status":"bad_request","error":"missing user id[^"]*"\}$/,
 qr/^\{"status":"bad_request","error":"missing user id[^"]*"\}$/,
 qr/^\{"status":"bad_request","error":"unexpected path segment after the user id"\}$/,
 qr/^\{"status":"bad_request","error":"unexpected path segment after the user id"\}$/,
 qr/^\{"status":"duplicate",/]



=== TEST 18: malformed requests reserved nothing
--- init
my @users = split /\n/, main::redis('KEYS', 'seckill:{c101}:u:*');
Test::More::is(join(',', sort @users), 'seckill:{c101}:u:1',
               'only user 1 holds a key for course 101');
Test::More::is(main::redis('HGET', 'seckill:{c101}', 'remaining'), 2,
               'one seat taken');
--- request
POST /api/seckill/101/
--- error_code: 400
