# No open account, no readable secret: the stack of t/run.sh was made by
# deploy/ as `make run` makes one, so its Redis, MariaDB and config files
# are what a user gets. Every door is tried the way another local user
# would: without a password, with the shipped placeholder, as root over TCP.
use strict;
use warnings;
use lib 't/lib';
use File::Temp ();
use SeckillTest qw(need_pipeline env_of);
use Test::More;

need_pipeline();
my $run = env_of('run');
my $redis_port = env_of('redis');
my $mysql_port = env_of('mysql');

sub mode_of { return sprintf '%04o', (stat $_[0])[2] & 07777 }

# --- files: the passwords and every config holding one, the stack user's only

is(mode_of("$run/secrets"), '0600', 'run/secrets is 0600');
for my $conf (qw(consumer.conf nginx.conf redis.conf mariadb.cnf)) {
    is(mode_of("$run/conf/$conf"), '0600', "run/conf/$conf is 0600");
}
is(mode_of("$run/mariadb"), '0700', "MariaDB's directory (its socket) is 0700");

my %secret;
{
    open my $fh, '<', "$run/secrets" or die "$run/secrets: $!";
    while (<$fh>) {
        $secret{$1} = $2 if /^(SECKILL_\w+_PASSWORD)=([0-9a-f]{32})$/;
    }
}
is(scalar(keys %secret), 3, 'three generated passwords of 128 bits');
isnt($secret{SECKILL_REDIS_PASSWORD}, $secret{SECKILL_MYSQL_PASSWORD}, 'not the same one');

my $consumer_conf = do { local (@ARGV, $/) = "$run/conf/consumer.conf"; <> };
like($consumer_conf, qr/^redis_password = $secret{SECKILL_REDIS_PASSWORD}$/m,
     "consumer.conf has Redis's password");
like($consumer_conf, qr/^mysql_password = $secret{SECKILL_MYSQL_PASSWORD}$/m,
     "... and the seckill account's");

# --- Redis: nothing without the password

sub redis_as {
    my ($password, @cmd) = @_;
    local $ENV{REDISCLI_AUTH} = $password;
    my $out = qx{redis-cli -p $redis_port @cmd 2>&1};
    $out =~ s/\s+\z//;
    return $out;
}
like(redis_as('', 'HGET', 'seckill:{c1}', 'remaining'), qr/NOAUTH/,
     'Redis without a password: NOAUTH');
like(redis_as('seckill', 'HGET', 'seckill:{c1}', 'remaining'), qr/WRONGPASS|NOAUTH/,
     "Redis with the shipped placeholder: refused");
like(redis_as($secret{SECKILL_REDIS_PASSWORD}, 'PING'), qr/^PONG$/,
     "Redis with the stack's password: PONG");

# --- MariaDB: no account without its password, no root over TCP

sub mariadb_as {
    my ($user, $password, @how) = @_;
    local $ENV{MYSQL_PWD} = $password;
    my $out = qx{mariadb --no-defaults @how -u'$user' -N -B -e 'SELECT CURRENT_USER()' 2>&1};
    $out =~ s/\s+\z//;
    return $out;
}
my @tcp = ('-h127.0.0.1', "-P$mysql_port");
for my $user ('root', 'seckill', '') {
    like(mariadb_as($user, '', @tcp), qr/Access denied/,
         "MariaDB over TCP as '$user' without a password: denied");
}
like(mariadb_as('root', $secret{SECKILL_MYSQL_ROOT_PASSWORD}, @tcp), qr/Access denied/,
     'MariaDB over TCP as root even with its password: denied (no root@127.0.0.1)');
like(mariadb_as('seckill', 'seckill', @tcp), qr/Access denied/,
     'MariaDB as seckill with the shipped placeholder: denied');
like(mariadb_as('root', '', "--socket=$run/mariadb/mysqld.sock"), qr/Access denied/,
     "MariaDB's root through the socket without its password: denied");
is(mariadb_as('seckill', $secret{SECKILL_MYSQL_PASSWORD}, @tcp), 'seckill@127.0.0.1',
   "MariaDB as seckill with the stack's password: in");

# --- the CLI says which key is wrong

{
    my $bad = "$run/conf/054-wrong-redis.conf";
    (my $text = $consumer_conf) =~ s/^redis_password = .*$/redis_password = not-it/m;
    open my $fh, '>', $bad or die "$bad: $!";
    print $fh $text;
    close $fh;
    my $cli = env_of('cli');
    my $out = qx{'$cli' -c '$bad' stats 2>&1 </dev/null};
    my $rc = $? >> 8;
    unlink $bad;
    isnt($rc, 0, 'seckill stats with a wrong redis_password fails');
    like($out, qr/refused AUTH: WRONGPASS.*redis_password/, '... naming the key to fix');
}

# --- the CLI without -c talks to the stack (its rendered copy), not to the
# shipped conf/consumer.conf and its placeholder passwords

{
    my $cli = env_of('cli');
    local $ENV{SECKILL_CONF};
    delete $ENV{SECKILL_CONF};
    my $out = qx{cd / && '$cli' stats 2>&1 </dev/null};
    is($? >> 8, 0, 'seckill stats with SECKILL_RUN and no -c: the stack of SECKILL_RUN')
        or diag $out;

    # a checkout elsewhere: its build/bin/seckill reads its run/conf/
    my $copy = File::Temp::tempdir('seckill-cli-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    system('mkdir', '-p', "$copy/build/bin", "$copy/run/conf") == 0 or die 'mkdir';
    system('cp', $cli, "$copy/build/bin/seckill") == 0 or die 'cp';
    (my $text = $consumer_conf) =~ s/^redis = .*$/redis = 127.0.0.1:1/m;
    open my $fh, '>', "$copy/run/conf/consumer.conf" or die "$copy: $!";
    print $fh $text;
    close $fh;
    local $ENV{SECKILL_RUN};
    delete $ENV{SECKILL_RUN};
    $out = qx{cd / && '$copy/build/bin/seckill' stats 2>&1 </dev/null};
    like($out, qr/127\.0\.0\.1:1\b/, "build/bin/seckill of a checkout reads that checkout's run/conf/consumer.conf");
}

done_testing();
