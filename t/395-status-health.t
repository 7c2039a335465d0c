# `make status` asks every service itself, not only its pid file, and
# `seckill stats --watch` shows the sale live. A frozen
# Redis (SIGSTOP) keeps its pid and answers nothing, and status says so
# while nginx answers 503; an nginx master killed -9 leaves workers selling
# on the port, and status names them and `make stop`'s nginx step ends
# them. Runs on the stack of t/run.sh and leaves it running as it found it.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline env_of run svc svc_pid wait_for alive);
use Test::More;
use Time::HiRes qw(sleep);

need_pipeline();

my $frozen;
END {
    kill 'CONT', $frozen if $frozen;
    svc('nginx', 'start');
}

sub status {
    my ($rc, $out) = run('sh', env_of('deploy') . '/stack.sh', 'status');
    return $out;
}

sub row {
    my ($out, $service) = @_;
    return $out =~ /^(\Q$service\E\s.*)$/m ? $1 : '';
}

my $out = status();
like(row($out, 'redis'), qr/\bup\b.*ok \(PING\)$/, 'redis: up, answers PING') or diag $out;
like(row($out, 'mariadb'), qr/\bup\b.*ok \(ping\)$/, 'mariadb: up, answers ping');
like(row($out, 'kafka'), qr/\bup\b.*ok \(listening\)$/, 'kafka: up, listening');
like(row($out, 'consumer'), qr/\bup\b.*lag \d+, stats \d+ s old$/, 'consumer: its lag and how fresh its stats are');
like(row($out, 'nginx'), qr/\bup\b.*ok \(\/api\/courses 200\)$/, 'nginx: answers');

# A live view of the sale: the stats table again every second.
my (undef, $watch) = run('timeout', '2.5', env_of('cli'), '-c',
                                           env_of('conf'), 'stats', '--watch');
my @tables = $watch =~ /^seckill stats, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(every second/mg;
ok(@tables >= 2, scalar(@tables) . ' tables in 2.5 s from `seckill stats --watch`') or diag $watch;
like($watch, qr/^\s+all\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+ course\(s\)$/m, '... each with its totals');

# Redis frozen: the pid is there, the service is not
$frozen = svc_pid('redis');
ok(kill('STOP', $frozen), 'redis frozen (SIGSTOP)');
$out = status();
like(row($out, 'redis'), qr/\bup\b.*NO ANSWER to PING in 1 s$/, 'status: redis does not answer') or diag $out;
like(row($out, 'nginx'), qr{/api/courses answers 503$}, 'status: nginx answers 503');
kill 'CONT', $frozen;
$frozen = undef;
ok(wait_for(5, sub { row(status(), 'redis') =~ /ok \(PING\)$/ }), 'redis answers again once continued');

# nginx's master killed -9: its workers go on selling
my $master = svc_pid('nginx');
ok(kill('KILL', $master), "nginx's master killed -9");
ok(wait_for(5, sub { !alive($master) }), '... and gone');
$out = status();
like(row($out, 'nginx'), qr/^nginx\s+down\b/, 'status: nginx down') or diag $out;
like($out, qr/nginx workers without their master still serve port \d+: \d+( \d+)* \('make stop' ends them\)/,
     'status: the orphan workers named');
ok(svc('nginx', 'stop'), "nginx's stop step");
unlike(status(), qr/without their master/, 'no orphan worker left');
ok(svc('nginx', 'start'), 'nginx starts again on its port');
like(row(status(), 'nginx'), qr/ok \(\/api\/courses 200\)$/, 'and answers');

done_testing();
