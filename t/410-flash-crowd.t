# The original flash crowd on the whole pipeline of t/run.sh: 10,000 buyers
# (distinct users, 100 connections, keep-alive, wrk with bench/seckill.lua)
# on the demo catalogue of 6 courses and 850 seats. Once quiet: exactly 850
# answers 200 and 850 rows, each a (course, user) that was answered 200,
# every status key `success`, Redis remaining 0 everywhere, `seckill check`
# green. The sale is reset at the end for the tests after this one.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline env_of run cli redis sql pending);
use Test::More;

need_pipeline();

is((cli('reset'))[0], 0, 'a new sale');
select undef, undef, undef, 1.2;        # past the workers' sold-out cache

local $ENV{BENCH_REQUESTS} = 10000;
local $ENV{BENCH_THREADS} = 2;
local $ENV{BENCH_CONNECTIONS} = 100;
my (undef, $out) = run('wrk', '-t2', '-c100', '-d15s', '--timeout', '10s',
                      '-s', env_of('top') . '/bench/seckill.lua', env_of('url'));
my ($line) = $out =~ /^(BENCH .*)$/m or diag($out);
my %f = ($line // '') =~ /(\w+)=(\S+)/g;
my %statuses = ($f{statuses} // '') =~ /(\w+):(\d+)/g;
my $answered = 0;
$answered += $_ for values %statuses;

cmp_ok($answered, '>=', 10000, '10,000 buyers answered');
is($statuses{pending}, 850, 'exactly 850 answered 200 pending');
is(join(',', sort grep { $_ ne 'pending' && $_ ne 'sold_out' } keys %statuses), '',
   'every other answer is 410 sold_out');

# Quiet: the consumer has persisted everything and check holds.
my ($rc, $check) = (1, '');
for (1 .. 120) {
    ($rc, $check) = cli('check');
    last if $rc == 0 && sql('SELECT COUNT(*) FROM orders') == 850;
    select undef, undef, undef, 0.5;
}
is($rc, 0, 'seckill check is green') or diag($check);
is(sql('SELECT COUNT(*) FROM orders'), 850, 'exactly 850 rows');
is(sql('SELECT COUNT(*) FROM (SELECT course_id, user_id FROM orders GROUP BY 1, 2) x'), 850,
   'one row per (course, user)');
for my $c (1 .. 6) {
    is(redis('HGET', "seckill:{c$c}", 'remaining'), 0, "course $c: remaining 0 in Redis");
    is(pending($c), 0, "course $c: nothing pending");
}
my $total = sql('SELECT SUM(total) FROM courses WHERE id BETWEEN 1 AND 6');
is($total, 850, 'the demo catalogue has 850 seats');
my @rows = split /\n/, sql('SELECT course_id, user_id FROM orders');
my $success = 0;
for my $r (@rows) {
    my ($c, $u) = split /\t/, $r;
    $success++ if redis('HGET', "seckill:{c$c}:u:$u", 'status') eq 'success';
}
is($success, 850, 'every order row has its status key at success');

is((cli('reset'))[0], 0, 'the sale reset for the next tests');
select undef, undef, undef, 1.2;
done_testing();
