# Fault suite: an nginx worker killed -9 under a load of purchases, with
# order events still in its producer's queue (linger.ms 1500 on a private
# nginx, master + 2 workers, on the stack's Redis and Kafka): their
# reservations are orphans, pending with no event ever. The master starts a
# new worker; the dead worker's clients got no answer, the other worker's
# got 200. The sweeper (a test consumer: age 8 s, every 1 s) releases the
# orphans once the group has caught up; every 200 is exactly one row,
# nothing answered otherwise is one, no orphan is, `seckill check` is green
# and nothing is left pending. Course 350.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline redis sql svc now_ms status_of wait_for
                   nginx_start nginx_workers sale_under_load load_stop
                   codes_of wait_green verify_answers fault_consumer);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $course = 350;
my $seats = 100_000;
my ($tester, $nginx);

END { svc('consumer', 'start') }

ok(svc('consumer', 'stop'), "the stack's consumer stops");
ok($tester = fault_consumer('sweeper'), 'a consumer that sweeps every second starts')
    or do { done_testing(); exit 1 };
# events wait up to 1.5 s in the producer before they are sent
ok($nginx = nginx_start(http => 'seckill_kafka_property linger.ms 1500;'),
   'a private nginx with two workers starts') or do { done_testing(); exit 1 };
my @workers = nginx_workers($nginx->{pid});
is(scalar @workers, 2, "two workers (@workers)");

my $load = sale_under_load($course, $seats, workers => 8, url => $nginx->{url}, pause => 0.01);
sleep 2;
ok(kill('KILL', $workers[0]), "worker $workers[0] killed -9");
my $killed = now_ms();
ok(wait_for(10, sub { grep({ $_ != $workers[0] } nginx_workers($nginx->{pid})) == 2 }),
   'the master started a new worker');
my $answers = load_stop($load, 2);
my $codes = codes_of($answers);
ok(($codes->{200} // 0) > 0, 'purchases answered 200');
ok(($codes->{599} // 0) > 0, 'the dead worker\'s clients got no answer');
is(scalar(grep { $_ != 200 && $_ != 503 && $_ != 599 } keys %$codes), 0,
   'answers are 200, 503 (a new worker without order ids yet) or none');

# orphans: still pending, reserved before the kill, once the group has
# read everything (the delivered events are persisted within a second)
my @orphans;
wait_for(5, sub {
    my %at = split /\n/, redis('HGETALL', "seckill:{c$course}:pending");
    @orphans = grep { $at{$_} <= $killed && status_of($course, $_) eq 'pending' }
               keys %at;
    return 0;
});
ok(@orphans > 0, scalar(@orphans) . ' reservations orphaned by the kill');
my %unanswered = map { $_->{user} => 1 } grep { $_->{code} == 599 } @$answers;
is(scalar(grep { !$unanswered{$_} } @orphans), 0, 'all of clients that got no answer');

wait_green(40, $course);
is(scalar(grep { status_of($course, $_) ne 'failed' } @orphans), 0, 'the sweeper released them all');
verify_answers($answers, $course, $seats);
is(sql("SELECT COUNT(*) FROM orders WHERE course_id = $course AND user_id IN ("
       . join(',', @orphans, 0) . ')'), 0, 'no orphan became a row');
open my $log, '<', $nginx->{error_log};
is(scalar(grep { /exited on signal (?!9\b)/ } <$log>), 0, 'no other worker died');

done_testing();
