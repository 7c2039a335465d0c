# GET /api/courses: the catalogue with live seat counts, answered from Redis
# by the module (the harness loaded the demo catalogue with `seckill init`).
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(block_defaults);

no_shuffle();
block_defaults(kafka => undef, http => 'seckill_redis_timeout 300ms;', config => undef,
               ready => 0);
run_tests();

__DATA__

=== TEST 1: the six demo courses, 850 seats, in id order, with the server's clock
--- config
    location = /api/courses {
        seckill_courses;
    }
--- request
GET /api/courses
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"now":1[0-9]{12},"courses":\[\{"id":1,"name":"C 语言程序设计 / C Programming","total":150,"remaining":150,"starts_at":1[0-9]{12},"ends_at":1[0-9]{12}\},\{"id":2,"name":"[^"]+","total":100,"remaining":100,[^}]+\},\{"id":3,"name":"[^"]+","total":150,"remaining":150,[^}]+\},\{"id":4,"name":"[^"]+","total":150,"remaining":150,[^}]+\},\{"id":5,"name":"[^"]+","total":100,"remaining":100,[^}]+\},\{"id":6,"name":"[^"]+","total":200,"remaining":200,[^}]+\}\]\}$
--- no_error_log
[error]



=== TEST 2: HEAD answers the headers only
--- config
    location = /api/courses {
        seckill_courses;
    }
--- request
HEAD /api/courses
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 3: POST is refused with a JSON 405 naming the allowed methods
--- config
    location = /api/courses {
        seckill_courses;
    }
--- request
POST /api/courses
--- error_code: 405
--- response_headers
Content-Type: application/json
Allow: GET, HEAD
--- response_body_like chomp
^\{"status":"method_not_allowed","error":"[^"]+"\}$



=== TEST 4: Redis unreachable: 503 JSON with Retry-After, and fast
--- http_config
    seckill_redis 127.0.0.1:1;
    seckill_redis_connect_timeout 100ms;
--- config
    location = /api/courses {
        seckill_courses;
    }
--- request
GET /api/courses
--- error_code: 503
--- response_headers
Content-Type: application/json
Retry-After: 1
--- response_body_like chomp
^\{"status":"unavailable","error":"[^"]+"\}$
--- timeout: 2



=== TEST 5: a location without the module is untouched while Redis is down
--- http_config
    seckill_redis 127.0.0.1:1;
--- config
    location = /api/courses {
        seckill_courses;
    }
    location = /plain {
        return 200 "still here\n";
    }
--- request
GET /plain
--- error_code: 200
--- response_body
still here
