# Fault suite: Kafka deliveries that time out although they reached the
# broker. A private nginx (master + 2 workers) with seckill_kafka_timeout 1s
# takes a load of purchases while the broker is paused (SIGSTOP) for 3 s:
# its produce requests sit in the broker's socket, librdkafka gives up
# after 1 s, the module releases the seats and answers 503; when the broker
# runs again (SIGCONT) it appends those events all the same. The arbiter
# decides: the consumer's claim finds them released and drops them. So
# whatever the client was told is what happened: each 200 is one row with
# status success, each 503 is no row and status failed, and `seckill check`
# is green. Course 380.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline env_of svc_pid now_ms statuses_of wait_for
                   nginx_start sale_under_load load_stop codes_of wait_green
                   verify_answers);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $course = 380;
my $seats = 100_000;
my ($nginx, $paused);

END { kill 'CONT', $paused if $paused }

ok($nginx = nginx_start(http => 'seckill_kafka_timeout 1s;'),
   'a private nginx with a 1 s delivery timeout starts') or do { done_testing(); exit 1 };
my $since = now_ms();
my $load = sale_under_load($course, $seats, workers => 8, url => $nginx->{url});
sleep 1.5;
my $broker = svc_pid('kafka');
ok(kill('STOP', $broker), 'the broker is paused');
$paused = $broker;
sleep 3;
kill 'CONT', $broker;
$paused = undef;
my $answers = load_stop($load, 2.5);
my $codes = codes_of($answers);
ok(($codes->{503} // 0) > 0, "deliveries timed out: $codes->{503} answered 503");
ok(($codes->{200} // 0) > 0, "and the rest 200 ($codes->{200})");
is(scalar(grep { $_ != 200 && $_ != 503 } keys %$codes), 0, 'nothing else');

# the events of purchases answered 503 that reached the broker anyway
my %refused = map { $_->{user} => 1 } grep { $_->{code} == 503 } @$answers;
my $late = 0;
ok(wait_for(20, sub {
    open my $fh, '-|', 'kcat', '-C', '-q', '-b', '127.0.0.1:' . env_of('kafka'),
        '-t', 'seckill.orders', '-o', 's@' . $since, '-e', '-f', '%k %s\n' or return 0;
    $late = 0;
    while (my $line = <$fh>) {
        $late++ if $line =~ /^$course \{.*"user_id":(\d+),/ && $refused{$1};
    }
    return $late > 0;
}), "$late events of purchases answered 503 are on the topic all the same");

wait_green(30, $course);
verify_answers($answers, $course, $seats);
my @told = grep { $_->{code} == 200 || $_->{code} == 503 } @$answers;
my $status = statuses_of($course, map { $_->{user} } @told);
my $wrong = grep {
    $status->{ $_->{user} } ne ($_->{code} == 200 ? 'success' : 'failed')
} @told;
is($wrong, 0, 'each status key says what its client was told');

done_testing();
