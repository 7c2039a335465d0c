# Errors are JSON: the `seckill_error` handler answers any API path that does
# not exist, and every status error_page routes to it, never nginx's HTML.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(block_defaults);

no_shuffle();
block_defaults(kafka => undef, ready => 0, config => <<'_EOC_');
    location /api/ {
        error_page 400 403 404 405 413 414 429 500 503 @seckill_error;
        return 404;
    }
    location = /api/limited {
        error_page 429 @seckill_error;
        return 429;
    }
    location = /api/forbidden {
        error_page 403 =403 @seckill_error;
        return 403;
    }
    location @seckill_error {
        seckill_error;
    }
_EOC_
run_tests();

__DATA__

=== TEST 1: an unknown API path is a JSON 404
--- request
GET /api/nope
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"not_found","error":"no such API endpoint"}



=== TEST 2: an unknown API path with another method is a JSON 404 too
--- request
DELETE /api/seckill/1/2/3
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"not_found","error":"[^"]+"\}$



=== TEST 3: a 429 routed by error_page keeps its status and says why
--- request
GET /api/limited
--- error_code: 429
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"too_many_requests","error":"[^"]+"\}$



=== TEST 4: error_page with an explicit "=403" answers that status
--- request
GET /api/forbidden
--- error_code: 403
--- response_body_like chomp
^\{"status":"forbidden","error":"[^"]+"\}$



=== TEST 5: seckill_error used directly as a location answers 404
--- config
    location /api/ {
        seckill_error;
    }
--- request
GET /api/anything
--- error_code: 404
--- response_body chomp
{"status":"not_found","error":"no such API endpoint"}
