# The operator's locations of the shipped nginx.conf answer loopback
# (127.0.0.1) only: a request from any other address, here 127.0.0.2 (an
# address of this host that is not the allowed one), gets a JSON 403 and
# nothing else. /bench/ceiling/ is the one to watch: its `return` runs
# before nginx's allow/deny would. Runs against the stack of t/run.sh.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(http_from);
use Test::More;

plan skip_all => 'needs the pipeline of t/run.sh (SECKILL_URL)' unless $ENV{SECKILL_URL};
my ($port) = $ENV{SECKILL_URL} =~ /:(\d+)/;

for my $path ('/bench/ceiling/1/1', '/metrics') {
    my ($code, $body) = http_from('127.0.0.1', 'GET', $path, $port);
    is($code, 200, "$path from 127.0.0.1: 200");
    ($code, $body) = http_from('127.0.0.2', 'GET', $path, $port);
    is($code, 403, "$path from 127.0.0.2: 403");
    like($body, qr/^\{"status":"forbidden"/, '... as JSON');
    unlike($body, qr/"ok"|seckill_responses_total/, '... and nothing of the answer');
}

done_testing();
