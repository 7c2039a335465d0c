# The guards of the shipped conf/nginx.conf in front of the module: nginx's
# limit_req per user and per address, and secure_link's signed, expiring
# URLs. The guard section and the purchase location are taken from
# conf/nginx.conf itself, with slower rates so that a few requests reach
# the limits; the answers must be the module's JSON, and a refused request
# must reserve nothing. Courses 551 (never made: every purchase is a cheap
# 404), 552 and 553 (made with the CLI, dropped at the end).
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(need_cli cli cli_ok redis drop_courses http_from
                   block_defaults);
use Digest::MD5 ();
use File::Temp ();
use FindBin ();
use Time::HiRes ();

no_shuffle();
need_cli();

our $SECRET = 's3cret051';

# --- the shipped guards, at test rates ---

my $shipped = do {
    local $/;
    open my $fh, '<', "$FindBin::Bin/../conf/nginx.conf" or die "conf/nginx.conf: $!";
    <$fh>;
};
my ($guards) = $shipped =~ /\n(    # --- guards .*?\n)    server \{/s
    or die "conf/nginx.conf: no guard section before the server block";
my ($purchase) = $shipped =~ /\n(        location \/api\/seckill\/ \{\n.*?\n        \}\n)/s
    or die "conf/nginx.conf: no purchase location";
my ($orders) = $shipped =~ /\n(        location \/api\/orders\/ \{\n.*?\n        \}\n)/s
    or die "conf/nginx.conf: no order status location";
my ($switch) = $shipped =~ /\n(        set \$seckill_link_secret "";\n)/
    or die "conf/nginx.conf: no signature switch (set \$seckill_link_secret \"\";)";

# A refused request is logged below the level the shipped error_log keeps:
# a crowd over its limits must not write a line per request (TEST 13 sees
# the level in a log that keeps everything).
my @severity = qw(emerg alert crit error warn notice info debug);
my %rank = map { ($severity[$_] => $_) } 0 .. $#severity;
my ($kept) = $shipped =~ /^error_log \S+ (\w+);/m
    or die "conf/nginx.conf: no error_log with a level";
my ($refusals) = $guards =~ /^\s*limit_req_log_level (\w+);/m
    or die "conf/nginx.conf: no limit_req_log_level in the guard section";
Test::More::cmp_ok($rank{$refusals}, '>', $rank{$kept},
                   "limit_req_log_level $refusals is below error_log's $kept");

# One request a minute after a burst of 2 per user and 3 per address.
$guards =~ s/(zone=seckill_\w+:)\w+ rate=\S+;/${1}1m rate=1r\/m;/g == 2
    or die "conf/nginx.conf: expected the zones seckill_user and seckill_addr";
$purchase =~ s/(zone=seckill_user burst=)\d+/${1}2/ or die "no per-user limit_req";
$purchase =~ s/(zone=seckill_addr burst=)\d+/${1}3/ or die "no per-address limit_req";

# the server block's config: the signature switch off ("") or set
sub server {
    my $secret = shift;
    (my $set = $switch) =~ s/""/"$secret"/;
    return $set . <<'_EOC_' . $purchase . $orders;
        error_page 400 403 404 405 413 414 429 500 502 503 504 /_seckill_error;
        location = /_seckill_error {
            internal;
            seckill_error;
        }
_EOC_
}

# --- helpers ---

# Redis connected: the order status answers something else than 503 (signed,
# for the blocks that switch signatures on; the query is ignored when off).
sub ready {
    my $status = signed('/api/seckill/1/1', time() + 60, $SECRET);
    $status =~ s{^/api/seckill/}{/api/orders/};
    for (1 .. 150) {
        my ($code) = http_from('127.0.0.1', 'GET', $status);
        return if $code != 503;
        Time::HiRes::sleep(0.02);
    }
}

# what the refused users of course 552 must not have
sub nothing_reserved {
    my ($remaining, @users) = @_;
    Test::More::is(redis('HGET', 'seckill:{c552}', 'remaining'), $remaining,
                   "remaining $remaining");
    Test::More::is(join(',', grep { redis('EXISTS', "seckill:{c552}:u:$_") } @users),
                   '', 'no order key for the refused users');
    Test::More::is(join(',', grep { redis('HEXISTS', 'seckill:{c552}:pending', $_) } @users),
                   '', 'none of them pending');
}

# secure_link's signature, computed here independently of the CLI
sub signed {
    my ($uri, $expires, $secret) = @_;
    (my $sig = Digest::MD5::md5_base64("$expires$uri $secret")) =~ tr{+/}{-_};
    return "$uri?sig=$sig&expires=$expires";
}

# URLs from `seckill sign-url`, and from the config file's secret
our %URL;
(undef, $URL{good}) = cli('sign-url', 552, 70, '--secret', $SECRET);
$URL{good} =~ s/\n+\z//;
my $conf = File::Temp->new(SUFFIX => '.conf');
{
    open my $in, '<', $ENV{TEST_NGINX_SECKILL_CONF} or die "$ENV{TEST_NGINX_SECKILL_CONF}: $!";
    local $/;
    my $text = <$in>;
    $text =~ s/^secure_link_secret\s*=.*\n//m;
    print $conf $text, "\nsecure_link_secret = $SECRET\n";
    close $conf;
}
(undef, $URL{from_config}) = cli('-c', $conf->filename, 'sign-url', 552, 71, '--ttl', '5m');
$URL{from_config} =~ s/\n+\z//;
(undef, my $for_60) = cli('sign-url', 552, 60, '--secret', $SECRET);
$for_60 =~ s/\n+\z//;
($URL{other_user} = $for_60) =~ s{/552/60\?}{/552/61?};
($URL{later} = $for_60) =~ s{/552/60\?(.*expires=)(\d+)}{"/552/62?$1" . ($2 + 3600)}e;
$URL{expired} = signed('/api/seckill/552/63', time() - 10, $SECRET);
$URL{wrong_secret} = signed('/api/seckill/552/64', time() + 60, 'not-the-secret');
$URL{status_of_61} = signed('/api/seckill/552/61', time() + 600, $SECRET)
    =~ s{^/api/seckill/}{/api/orders/}r;
# user 70's order status: with its purchase query, without, with user 71's
($URL{status} = $URL{good}) =~ s{^/api/seckill/}{/api/orders/};
($URL{status_bare} = $URL{status}) =~ s/\?.*//;
($URL{status_other} = $URL{from_config}) =~ s{^/api/seckill/552/71\?}{/api/orders/552/70?};
$URL{no_expires} = '/api/seckill/552/65?sig=' . (split /sig=|&/, $for_60)[1];

add_cleanup_handler(sub { drop_courses(552, 553) });
block_defaults(http => $guards, config => server(''), ready => \&ready);
run_tests();

__DATA__

=== TEST 1: a user over the limit: 429 as the module's JSON, other users go on
--- init
main::redis('DEL', 'seckill:{c551}');
--- request eval
[("POST /api/seckill/551/1") x 4, "POST /api/seckill/551/2"]
--- error_code eval
[404, 404, 404, 429, 404]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
[(qr/^\{"status":"unknown_course","course_id":551,"user_id":1\}$/) x 3,
 qr/^\{"status":"too_many_requests","error":"[^"<]+"\}$/,
 qr/^\{"status":"unknown_course","course_id":551,"user_id":2\}$/]



=== TEST 2: an address over the limit: 429; loopback is not limited per address
--- init
my @codes = map { (main::http_from('127.0.0.2', 'POST', "/api/seckill/551/$_"))[0] } 10 .. 14;
Test::More::is("@codes", '404 404 404 404 429',
               '127.0.0.2: one request and a burst of 3, then 429');
my ($code, $body) = main::http_from('127.0.0.2', 'POST', '/api/seckill/551/15');
Test::More::like($body, qr/^\{"status":"too_many_requests","error":"[^"<]+"\}$/,
                 'as JSON, not an HTML page');
--- request eval
[map { "POST /api/seckill/551/$_" } 20 .. 29]
--- error_code eval
[(404) x 10]



=== TEST 3: a limited request reserves nothing: the limits are in front of the module
--- init
main::cli('course', 'remove', 552, '--force', '--yes');
main::cli_ok('course', 'add', 552, 'Guards test 552', 10);
my @codes = map { (main::http_from('127.0.0.3', 'POST', "/api/seckill/552/$_"))[0] } 41 .. 45;
Test::More::is("@codes", '200 200 200 200 429', '127.0.0.3: four seats, then 429');
main::nothing_reserved(6, 45);
--- request eval
[("POST /api/seckill/552/40") x 4]
--- error_code eval
[200, 409, 409, 429]



=== TEST 4: five seats taken by the users above, none by the limited requests
--- init
Test::More::is(main::redis('HGET', 'seckill:{c552}', 'remaining'), 5, 'five seats taken');
--- request
GET /api/orders/552/40
--- error_code: 200



=== TEST 5: signatures switched on, none given: 403 as JSON, before any reservation
--- config eval
main::server($main::SECRET)
--- request
POST /api/seckill/552/50
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"forbidden","error":"[^"<]+"\}$



=== TEST 6: a signature for another user, a later expiry, an expired one, a wrong secret, no expiry: all 403
--- config eval
main::server($main::SECRET)
--- request eval
[map { "POST $main::URL{$_}" } qw(other_user later expired wrong_secret no_expires)]
--- error_code eval
[(403) x 5]
--- response_body_like eval
[(qr/^\{"status":"forbidden","error":"[^"<]+"\}$/) x 5]



=== TEST 7: the refused requests reserved nothing
--- config eval
main::server($main::SECRET)
--- init
main::nothing_reserved(5, 50, 60 .. 65);
--- request eval
"GET $main::URL{status_of_61}"
--- error_code: 404



=== TEST 8: a URL from `seckill sign-url --secret`: 200 pending
--- config eval
main::server($main::SECRET)
--- request eval
"POST $main::URL{good}"
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":[1-9][0-9]*,"course_id":552,"user_id":70\}$
--- no_error_log
[error]



=== TEST 9: a URL signed with secure_link_secret from the config file: 200 pending
--- config eval
main::server($main::SECRET)
--- init
Test::More::like($main::URL{from_config},
                 qr{^/api/seckill/552/71\?sig=[A-Za-z0-9_-]{22}&expires=[0-9]+$},
                 'path and query');
--- request eval
"POST $main::URL{from_config}"
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":[1-9][0-9]*,"course_id":552,"user_id":71\}$



=== TEST 10: with signatures on, an order's status needs its purchase URL's signature
--- config eval
main::server($main::SECRET)
--- request eval
["GET $main::URL{status_bare}", "GET $main::URL{status_other}", "GET $main::URL{status}"]
--- error_code eval
[403, 403, 200]
--- response_body_like eval
[(qr/^\{"status":"forbidden","error":"[^"<]+"\}$/) x 2,
 qr/^\{"status":"(pending|success)","order_id":[1-9][0-9]*\b/]



=== TEST 11: sign-url without a secret says where to set one
--- init
my ($rc, $out) = main::cli('sign-url', 552, 72);
Test::More::is($rc, 1, 'fails');
Test::More::like($out, qr/no secret: .*secure_link_secret/, 'naming the config key');
--- request
GET /api/orders/552/72
--- error_code: 404



=== TEST 12: a course this node knows is sold out: 410 from shared memory, its buyers not counted per user
--- init
main::cli('course', 'remove', 553, '--force', '--yes');
main::cli_ok('course', 'add', 553, 'Guards test 553', 1);
--- request eval
["POST /api/seckill/553/80", ("POST /api/seckill/553/81") x 6]
--- error_code eval
[200, (410) x 6]
--- response_body_like eval
[qr/^\{"status":"pending","order_id":[1-9][0-9]*,"course_id":553,"user_id":80\}$/,
 (qr/^\{"status":"sold_out","course_id":553,"user_id":81\}$/) x 6]



=== TEST 13: a refused request is logged at info, below the shipped error_log's notice: a crowd over its limits writes no line per request there
--- init
main::http_from('127.0.0.1', 'POST', '/api/seckill/551/90') for 1 .. 3;
--- request
POST /api/seckill/551/90
--- error_code: 429
--- error_log eval
qr/\[info\] .*limiting requests, excess: \S+ by zone "seckill_user"/
--- no_error_log eval
qr/\[(?:warn|error)\] .*limiting requests/
