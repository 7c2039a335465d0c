# A stack remembers the settings it was created with ($SECKILL_RUN/settings)
# and every later command talks to it: the environment may repeat a
# setting, never change it, and a command that would reach another stack's
# ports stops with a message saying which setting and what to do. No
# service is started: the stacks here are directories.
use strict;
use warnings;
use File::Temp ();
use lib 't/lib';
use SeckillTest qw(run);
use Test::More;

my $dir = File::Temp::tempdir('seckill-settings-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @settings = qw(SECKILL_HTTP_PORT SECKILL_MYSQL_PORT SECKILL_REDIS_PORT
                  SECKILL_KAFKA_PORT SECKILL_KAFKA_CONTROLLER_PORT
                  SECKILL_KAFKA_HEAP SECKILL_TOPIC SECKILL_KAFKA_NODES SECKILL_REDIS_NODES);

# a deploy/ command in a clean environment plus %env: (exit status, output)
sub deploy {
    my ($env, @cmd) = @_;
    return run({ (map { $_ => undef } @settings, 'SECKILL_RUN'), %$env }, @cmd);
}

sub nginx_port {
    my ($out) = @_;
    return $out =~ /^nginx\s+\S+\s+\S+\s+(\S+)/m ? $1 : '';
}

# The first `up` writes what the stack is made with (save_settings).
my ($rc, $out) = deploy({ SECKILL_RUN => $dir, SECKILL_HTTP_PORT => 38081,
                          SECKILL_REDIS_PORT => 36380 },
                        'sh', '-c', '. deploy/lib.sh && save_settings');
is($rc, 0, 'settings saved') or diag $out;
open my $fh, '<', "$dir/settings" or die "$dir/settings: $!";
my %saved = map { /^(\w+)=(.*)$/ ? ($1, $2) : () } <$fh>;
close $fh;
is_deeply([sort keys %saved], [sort @settings], 'every setting is written');
is("$saved{SECKILL_HTTP_PORT} $saved{SECKILL_REDIS_PORT} $saved{SECKILL_MYSQL_PORT}",
   '38081 36380 3306', 'the given ports and the defaults');

($rc, $out) = deploy({ SECKILL_RUN => $dir },
                     'sh', '-c', '. deploy/lib.sh && save_settings && cat "$SECKILL_RUN/settings"');
like($out, qr/^SECKILL_HTTP_PORT=38081$/m, 'a later up keeps them');

# Later commands take them without being told.
($rc, $out) = deploy({ SECKILL_RUN => $dir }, 'sh', 'deploy/stack.sh', 'status');
is($rc, 0, 'status without any variable') or diag $out;
is(nginx_port($out), 38081, "status shows the stack's own HTTP port");
like($out, qr/^redis\s+\S+\s+\S+\s+36380\s/m, "and its own Redis port");

($rc, $out) = deploy({ SECKILL_RUN => $dir, SECKILL_HTTP_PORT => 38081 },
                     'sh', 'deploy/stack.sh', 'status');
is($rc, 0, 'the environment may repeat a setting');

# Asking for other ports than the stack has: refused, nothing done.
($rc, $out) = deploy({ SECKILL_RUN => $dir, SECKILL_HTTP_PORT => 8080 },
                     'sh', 'deploy/stack.sh', 'status');
is($rc, 1, 'another HTTP port: refused');
like($out, qr/SECKILL_HTTP_PORT=8080, but the stack in \Q$dir\E was created with SECKILL_HTTP_PORT=38081: unset SECKILL_HTTP_PORT to use that stack, or give another stack a SECKILL_RUN directory of its own/,
     'naming the setting, both values and what to do');

for my $cmd (['sh', 'deploy/stack.sh', 'up'], ['sh', 'deploy/stack.sh', 'down'],
             ['sh', 'deploy/stack.sh', 'cli', 'reset'], ['sh', 'bench/run.sh'])
{
    ($rc, $out) = deploy({ SECKILL_RUN => $dir, SECKILL_REDIS_PORT => 6379 }, @$cmd);
    is($rc, 1, "@$cmd with another Redis port: refused") or diag $out;
    like($out, qr/SECKILL_REDIS_PORT=6379, but the stack/, '... before doing anything');
}
ok(!-e "$dir/log", 'nothing was started');

# The rendered consumer.conf holds the database password: its owner's only.
($rc, $out) = deploy({ SECKILL_RUN => $dir },
                     'sh', '-c', '. deploy/lib.sh && render_conf conf/consumer.conf "$SECKILL_RUN/conf/consumer.conf"');
is($rc, 0, 'consumer.conf rendered') or diag $out;
is(sprintf('%04o', (stat "$dir/conf/consumer.conf")[2] & 07777), '0600',
   'consumer.conf is 0600');

# nginx.conf's file limit: the shipped 65536, or the hard limit nginx will
# start under when that is lower (a worker cannot raise it, and would log an
# alert at every start).
# A hard limit can only be lowered here: the one this test runs under is
# the other case (65536 at most is asked for when it is higher).
chomp(my $hard = `sh -c 'ulimit -H -n'`);
my $want = $hard =~ /^\d+$/ && $hard < 65536 ? $hard : 65536;
for my $case ([4096, 4096], ['', $want]) {
    my ($lower, $asked) = @$case;
    ($rc, $out) = deploy({ SECKILL_RUN => $dir }, 'sh', '-c',
                         ($lower ? "ulimit -n $lower && " : '') . '. deploy/lib.sh && '
                         . 'render_conf conf/nginx.conf "$SECKILL_RUN/conf/nginx.conf" && '
                         . 'grep "^worker_rlimit_nofile" "$SECKILL_RUN/conf/nginx.conf"');
    is($out, "worker_rlimit_nofile $asked;\n",
       'nginx.conf rendered under a hard limit of ' . ($lower || $hard) . " files asks for $asked");
}

# Destructive commands are not run without a confirmation: on no terminal
# they want YES=1, and say what they would delete.
for my $what (qw(reset clean)) {
    ($rc, $out) = deploy({ SECKILL_RUN => $dir }, 'sh', 'deploy/stack.sh', $what);
    is($rc, 1, "$what without a terminal or YES=1: refused") or diag $out;
    like($out, qr/make $what .*delete.*\Q$dir\E.*not asked without a terminal; confirm with YES=1/,
         '... naming what it deletes and how to confirm');
}
ok(-f "$dir/settings", 'the stack is still there');
($rc, $out) = deploy({ SECKILL_RUN => $dir, YES => 1 }, 'sh', 'deploy/stack.sh', 'clean');
is($rc, 0, 'clean with YES=1') or diag $out;
ok(!-e $dir, 'its directory is gone');

# A stack that was never started has no settings and no CLI config.
my $empty = File::Temp::tempdir('seckill-settings-XXXXXX', TMPDIR => 1, CLEANUP => 1);
($rc, $out) = deploy({ SECKILL_RUN => $empty }, 'sh', 'deploy/stack.sh', 'cli', 'stats');
is($rc, 1, 'the CLI on a stack never started: refused');
like($out, qr/no stack in \Q$empty\E yet: start one with 'make run'/, 'saying so');

# A cluster's nodes agree on where its controllers are, on the default
# ports too (node 1's 9093 once became each node's own controller port).
my $props = File::Temp::tempdir('seckill-settings-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my %voters;
for my $node (1 .. 3) {
    ($rc, $out) = deploy({ SECKILL_RUN => $props, SECKILL_KAFKA_NODES => 3 },
                         'sh', 'deploy/kafka.sh', 'props', $node);
    is($rc, 0, "kafka.sh props $node") or diag $out;
    ($voters{$node}) = $out =~ /^controller\.quorum\.voters=(.*)$/m;
    like($out, qr/^node\.id=$node$/m, "node $node has its id");
    like($out, qr/^listeners=.*CONTROLLER:\/\/127\.0\.0\.1:${\(9093 + 2 * ($node - 1))}$/m,
         "node $node has its own controller port");
}
is_deeply([ @voters{1 .. 3} ], [ ('1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097') x 3 ],
          'every node names the same three voters');

done_testing();
