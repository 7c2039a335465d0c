# Loader for Test::Nginx::Socket: the real one wins, the shim is the fallback.
#
# The suite runs as `prove -I t/lib -r t/`.  -I puts t/lib in FRONT of @INC,
# so this file is what `use Test::Nginx::Socket` finds first.  It does not
# implement anything itself:
#
#   1. It looks for another Test/Nginx/Socket.pm in @INC (the real OpenResty
#      Test::Nginx from CPAN, e.g. /usr/local/share/perl/*/Test/Nginx/Socket.pm
#      or wherever PERL5LIB points).  If there is one, that file is loaded and
#      used unchanged (its Test::Nginx::Util etc. come from its own install:
#      t/lib holds no other Test::Nginx::* file that could shadow them).
#   2. Otherwise it loads our small implementation of the subset this suite
#      uses, t/lib/shim/Test/Nginx/Socket.pm (not on @INC by itself).
#
# SECKILL_TEST_NGINX_SHIM=1 forces the shim even when the real module exists
# (used to check that the suite still passes on machines without it).
#
# See t/README.

use strict;
use warnings;
use File::Spec ();
use Cwd ();

{
    my $rel = 'Test/Nginx/Socket.pm';
    my $self = Cwd::abs_path(__FILE__);
    (my $libdir = $self) =~ s{/Test/Nginx/Socket\.pm\z}{};

    my $real;
    unless ($ENV{SECKILL_TEST_NGINX_SHIM}) {
        for my $dir (@INC) {
            next if ref $dir;
            my $f = File::Spec->catfile($dir, $rel);
            next unless -f $f;
            my $abs = Cwd::abs_path($f);
            next if !defined $abs || $abs eq $self;
            $real = $abs;
            last;
        }
    }

    my $file = $real // "$libdir/shim/$rel";
    # Load it under its own path; record it as the provider of Test/Nginx/Socket.pm
    # so later `use Test::Nginx::Socket` (e.g. from Test::Nginx::Socket::Lua)
    # does not come back here.
    my $ok = do $file;
    if (!$ok) {
        die "Test::Nginx::Socket: failed to load $file: $@" if $@;
        die "Test::Nginx::Socket: cannot read $file: $!" unless defined $ok;
        die "Test::Nginx::Socket: $file did not return a true value\n";
    }
    $INC{$rel} = $file;
}

1;
