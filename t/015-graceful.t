# A reload or a graceful stop does not drop a purchase in flight: the old
# worker stays until the delivery report has come and the client has its
# answer.  With Kafka unreachable that report is a failure after
# seckill_kafka_timeout: the old worker still releases the seat and answers
# 503.  nginx runs with a master here, started by this file.  Course 151.
use strict;
use warnings;
use File::Temp ();
use POSIX ();
use Test::More;
use lib 't/lib';
use SeckillTest qw(need_nginx redis course drop_courses http wait_for alive
                   nginx_start nginx_workers);
use Time::HiRes ();

need_nginx();

my $dir = File::Temp::tempdir('seckill-graceful-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);

sub wait_gone {
    my ($pid, $secs) = @_;
    return wait_for($secs, sub { !alive($pid) }, 0.05);
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
END { drop_courses(151) }

ok($nginx = nginx_start(workers => 1, kafka => '127.0.0.1:1',
                        http => 'seckill_kafka_timeout 1s;'),
   'nginx starts');

course(151, 2);

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
