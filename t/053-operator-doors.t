# The operator's locations of the shipped nginx.conf answer loopback
# (127.0.0.1) only: a request from any other address, here 127.0.0.2 (an
# address of this host that is not the allowed one), gets a JSON 403 and
# nothing else. /bench/ceiling/ is the one to watch: its `return` runs
# before nginx's allow/deny would. Runs against the stack of t/run.sh.
use strict;
use warnings;
use IO::Socket::INET;
use Test::More;

plan skip_all => 'needs the pipeline of t/run.sh (SECKILL_URL)' unless $ENV{SECKILL_URL};
my ($port) = $ENV{SECKILL_URL} =~ /:(\d+)/;

sub get_from {
    my ($from, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  LocalAddr => $from, Timeout => 5)
        or die "connect from $from: $!";
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($code) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($code // 0, $body // '');
}

for my $path ('/bench/ceiling/1/1', '/metrics') {
    my ($code, $body) = get_from('127.0.0.1', $path);
    is($code, 200, "$path from 127.0.0.1: 200");
    ($code, $body) = get_from('127.0.0.2', $path);
    is($code, 403, "$path from 127.0.0.2: 403");
    like($body, qr/^\{"status":"forbidden"/, '... as JSON');
    unlike($body, qr/"ok"|seckill_responses_total/, '... and nothing of the answer');
}

done_testing();
