# A reload or a graceful stop does not drop a purchase in flight: the old
# worker stays until the delivery report has come and the client has its
# answer.  With Kafka unreachable that report is a failure after
# seckill_kafka_timeout: the old worker still releases the seat and answers
# 503.  nginx runs with a master here, started by this file.  Course 151.
use strict;
use warnings;
use File::Temp ();
use IO::Socket::INET;
use POSIX ();
use Test::More;
use lib 't/lib';
use SeckillTest qw(redis drop_courses alive nginx_start nginx_stop
                    nginx_workers);
use Time::HiRes ();

for my $var (qw(TEST_NGINX_BINARY TEST_NGINX_LOAD_MODULES
                TEST_NGINX_REDIS_PORT))
{
    plan skip_all => "$var is not set (see t/README)" unless $ENV{$var};
}

my $port = $ENV{TEST_NGINX_PORT} || 1984;
my $dir = File::Temp::tempdir('seckill-graceful-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);

sub http {
    my ($method, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10)
        or return (0, '');
    print $s "$method $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($code) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($code // 0, $body // '');
}

sub wait_gone {
    my ($pid, $secs) = @_;
    for (1 .. $secs * 20) {
        return 1 unless alive($pid);
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# a purchase in a child process; its answer in $dir/answer
sub purchase_aside {
    my $path = shift;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my ($code, $body) = http('POST', $path);
        open my $out, '>', "$dir/answer" or POSIX::_exit(1);
        print $out "$code $body";
        close $out;
        POSIX::_exit(0);
    }
    return $pid;
}

# Kafka unreachable: every purchase waits out its 1 s delivery timeout
my $nginx;
END { nginx_stop($nginx); drop_courses(151); }

ok($nginx = nginx_start(workers => 1, kafka => '127.0.0.1:1',
                        http => 'seckill_kafka_timeout 1s;'),
   'nginx starts');

my $now = int(Time::HiRes::time() * 1000);
drop_courses(151);
redis('HSET', 'seckill:{c151}', name => 'Test course 151', total => 2,
      remaining => 2, starts_at => $now - 60000, ends_at => $now + 3600000);

my ($old) = nginx_workers($nginx->{pid});
ok($old, 'a worker');

my $kid = purchase_aside('/api/seckill/151/1');
Time::HiRes::sleep(0.3);

is(redis('HGET', 'seckill:{c151}', 'remaining'), 1, 'the seat is reserved');

kill 'HUP', $nginx->{pid};
Time::HiRes::sleep(0.3);

ok(alive($old), 'after the reload the old worker is still there');
my @new = grep { $_ != $old } nginx_workers($nginx->{pid});
is(scalar @new, 1, 'next to a new one');

waitpid $kid, 0;
open my $in, '<', "$dir/answer" or die "answer: $!";
my $answer = <$in>;
like($answer, qr/^503 \{"status":"unavailable","error":"[^"]+"\}$/,
     'the client had its answer from the old worker: 503');

ok(wait_gone($old, 5), 'then the old worker exited');
is(redis('HGET', 'seckill:{c151}', 'remaining'), 2, 'the seat is back');
is(redis('HGET', 'seckill:{c151}:u:1', 'status'), 'failed',
   'the order is failed');

# the same for a stop: QUIT waits for the delivery as well
$kid = purchase_aside('/api/seckill/151/2');
Time::HiRes::sleep(0.3);
my $master = $nginx->{pid};
kill 'QUIT', $master;
Time::HiRes::sleep(0.3);
ok(alive($master), 'a graceful stop waits for the purchase in flight');

waitpid $kid, 0;
open $in, '<', "$dir/answer" or die "answer: $!";
$answer = <$in>;
like($answer, qr/^503 /, 'which is answered');
ok(wait_gone($master, 5), 'then nginx is gone');
is(redis('HGET', 'seckill:{c151}', 'remaining'), 2, 'and the seat is back');

open my $log, '<', $nginx->{error_log} or die "error.log: $!";
my @bad = grep { /\[(crit|alert|emerg)\]|open socket/ } <$log>;
is(scalar @bad, 0, 'no alert, no socket left open') or diag @bad;

done_testing();
