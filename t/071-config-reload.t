# Editing conf/nginx.conf on a running stack: `make reload` (deploy/nginx.sh
# reload) checks the edited file with `nginx -t` and names that file and
# line when it is wrong, changing nothing; a good edit is applied by a
# graceful reload (same master, new workers); `make run` (nginx.sh start)
# on a running nginx applies an edit the same way; a `listen` moved off the
# stack's port is refused with what to do. A second stack of its own: a
# copy of conf/ in a temporary checkout, nginx on its own port.
use strict;
use warnings;
use lib 't/lib';
use File::Temp ();
use SeckillTest qw(run http);
use Test::More;

plan skip_all => 'needs the module built and the test stack (t/run.sh)'
    unless $ENV{SECKILL_MODULE} && -f $ENV{SECKILL_MODULE} && $ENV{SECKILL_TOP};

my $top = $ENV{SECKILL_TOP};
my $copy = File::Temp::tempdir('seckill-reload-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$copy/conf" or die "$copy/conf: $!";
system('cp', '-r', "$top/conf/.", "$copy/conf/") == 0 or die 'cp conf/';
symlink "$top/html", "$copy/html" or die "html: $!";
my $conf = "$copy/conf/nginx.conf";
my $port = $ENV{SECKILL_TEST_RELOAD_PORT} || 18095;
my %env = (
    SECKILL_TOP => $copy, SECKILL_RUN => "$copy/run", SECKILL_HTTP_PORT => $port,
    SECKILL_REDIS_PORT => $ENV{SECKILL_REDIS_PORT}, SECKILL_KAFKA_PORT => $ENV{SECKILL_KAFKA_PORT},
    SECKILL_MYSQL_PORT => $ENV{SECKILL_MYSQL_PORT},
    SECKILL_KAFKA_CONTROLLER_PORT => $ENV{SECKILL_KAFKA_CONTROLLER_PORT},
);

# deploy/nginx.sh ACTION for the copy: (exit status, output)
sub nginx_sh {
    my ($action) = @_;
    return run(\%env, 'sh', "$top/deploy/nginx.sh", $action);
}

sub edit {
    my ($from, $to) = @_;
    open my $in, '<', $conf or die "$conf: $!";
    my $text = do { local $/; <$in> };
    close $in;
    $text =~ s/\Q$from\E/$to/ or die "$conf: no \"$from\"";
    open my $out, '>', $conf or die "$conf: $!";
    print $out $text;
    close $out;
    my ($line) = grep { (split /\n/, $text)[$_ - 1] =~ /\Q$to\E/ } 1 .. ($text =~ tr/\n//);
    return $line;
}

sub master { open my $fh, '<', "$copy/run/nginx.pid" or return ''; my $p = <$fh>; chomp $p; $p }

# the ceiling's body, once it is $want (reloads take effect as workers start)
sub ceiling_says {
    my ($want) = @_;
    my $body = '';
    for (1 .. 100) {
        (undef, $body) = http('GET', '/bench/ceiling/1/1', $port);
        return 1 if $body eq $want;
        select undef, undef, undef, 0.05;
    }
    diag "the ceiling answers $body";
    return 0;
}

END { nginx_sh('stop') if -d "$copy/run" }

my ($rc, $out) = nginx_sh('start');
is($rc, 0, "nginx of a second stack starts on $port") or diag $out;
ok(ceiling_says('{"status":"ok"}'), 'and serves');
my $pid = master();

my $bad_line = edit('seckill_redis_batch 64;', 'seckill_redis_batch 0;');
($rc, $out) = nginx_sh('reload');
is($rc, 1, 'reload of a bad value: refused');
like($out, qr/seckill_redis_batch.*in \Q$conf\E:$bad_line\b/,
     'nginx -t names the directive and conf/nginx.conf:LINE, not the rendered copy');
like($out, qr/nothing changed/, 'saying nothing changed');
is(master(), $pid, 'the same master');
ok(ceiling_says('{"status":"ok"}'), 'still serving the old configuration');
edit('seckill_redis_batch 0;', 'seckill_redis_batch 64;');

edit(q('{"status":"ok"}'), q('{"status":"reloaded"}'));
($rc, $out) = nginx_sh('reload');
is($rc, 0, 'reload of a good edit') or diag $out;
like($out, qr/reloading \Q$conf\E/, 'says which file');
ok(ceiling_says('{"status":"reloaded"}'), 'the edit is served');
is(master(), $pid, 'by the same master (graceful, not a restart)');

edit(q('{"status":"reloaded"}'), q('{"status":"applied by start"}'));
($rc, $out) = nginx_sh('start');
is($rc, 0, 'start (make run) on a running nginx with an edit') or diag $out;
ok(ceiling_says('{"status":"applied by start"}'), 'applies it');
is(master(), $pid, 'same master');

($rc, $out) = nginx_sh('start');
is($rc, 0, 'start again without an edit: nothing to do') or diag $out;
is($out, '', 'silently');

my $listen_line = edit('listen 127.0.0.1:8080', 'listen 127.0.0.1:18099');
($rc, $out) = nginx_sh('reload');
is($rc, 1, 'a listen off the stack port: refused');
like($out, qr/\Q$conf\E:$listen_line: "listen 127\.0\.0\.1:18099.*" is not this stack's HTTP port $port .*nothing changed/,
     'naming the line, the port and what to do');
ok(ceiling_says('{"status":"applied by start"}'), 'still serving on the stack port');

($rc, $out) = nginx_sh('stop');
is($rc, 0, 'stop');
ok(!-s "$copy/run/nginx.pid", 'stopped');

done_testing();
