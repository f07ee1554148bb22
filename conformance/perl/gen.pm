package gen;
# Random Perl data for the conformance tests: every kind of scalar Storable
# stores differently, containers nested up to depth 6, blessed things,
# scalar refs, refs to refs, shared refs and cycles. Deterministic for a
# given srand() seed (Perl's own drand48).
use strict;
use warnings;

my @CLASSES = ('Foo', 'Foo::Bar', 'IKC::Thing', 'A', "Caf\xe9::X",
               'Very::Long::' . ('Name' x 40));    # > 127 bytes: long SX_BLESS length

sub pick { $_[ int rand @_ ] }

my @INTS = (0, 1, -1, 42, -17, 127, 128, -128, -129, 200, 255, 256, -100000,
    32767, 32768, -32768, -32769, 2147483647, 2147483648, -2147483648,
    -2147483649, 4294967295, 4294967296, 1099511627776, -1099511627776,
    9007199254740991, 9007199254740992, 4611686018427387904,
    9223372036854775807, -9223372036854775807, -9223372036854775807 - 1);
my @UVS = (9223372036854775808, 18446744073709551615, 12345678901234567890);
my @FLOATS = (0.1, -0.5, 3.14159, 1e100, -2.5e-7, 1.0, 2.0, -0.0, 0.5, 1e15,
    1e16, 2**31, 2**53, 2**53 - 1, 2**60, 2**63, 2**64, -2**63, 1e300, -1e-300,
    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 123456.789,
    9**9**9, -9**9**9, 1e21, 0.000123, 1 / 3);
my $NAN = 9**9**9 / 9**9**9;

sub rand_int {
    my $r = rand;
    return pick(@INTS) if $r < 0.35;
    return int(rand(256)) - 128 if $r < 0.55;
    return int(rand(2**32)) - 2**31 if $r < 0.7;
    # random 64-bit signed / unsigned, from 8 random bytes
    my $bytes = join '', map { chr int rand 256 } 1 .. 8;
    return unpack('q>', $bytes) if $r < 0.85;
    return unpack('q>', substr($bytes, 0, 4) . "\0\0\0\0") >> int(rand 32);
}

sub rand_uv {
    return pick(@UVS) if rand() < 0.5;
    my $bytes = chr(128 + int rand 128) . join '', map { chr int rand 256 } 1 .. 7;
    return unpack('Q>', $bytes);
}

sub rand_float {
    my $r = rand;
    return pick(@FLOATS) if $r < 0.45;
    return $NAN if $r < 0.5;
    return (rand() - 0.5) * 10**(int(rand 40) - 20) if $r < 0.8;
    return int(rand 1e6) + 0.0 if $r < 0.9;    # integral NV
    return unpack('d>', join '', map { chr int rand 256 } 1 .. 8);    # any bits
}

sub ascii_str {
    my ($n) = @_;
    return join '', map { chr(32 + int rand 95) } 1 .. $n;
}

# Probability that a string is one of the 64 KiB+ ones.
our $BIGSTR = 0.0015;

sub rand_str {
    my $r = rand;
    my $n = pick(0, 1, 2, 5, 10, 30, int rand 100);
    my $s;
    if ($r < 0.25) { $s = ascii_str($n) }
    elsif ($r < 0.35) { $s = join '', map { pick("a", "\n", "\r\n", "\t", "\0", " ", "\"", "\\", "\$") } 1 .. $n }
    elsif ($r < 0.5) { $s = join '', map { chr pick(0x41, 0xe9, 0x263a, 0x1f600, 0x4e2d, 0xff, 0x100, 0x7ff, 0x800, 0xffff, 0x10ffff) } 1 .. $n; utf8::upgrade($s) }
    elsif ($r < 0.58) { $s = ascii_str($n); utf8::upgrade($s) }    # flagged ASCII
    elsif ($r < 0.66) { $s = join '', map { chr(0x80 + int rand 128) } 1 .. $n; utf8::upgrade($s) }    # flagged Latin-1
    elsif ($r < 0.76) { $s = join '', map { chr(0x80 + int rand 128) } 1 .. $n }    # Latin-1 bytes
    elsif ($r < 0.84) { $s = join '', map { chr int rand 256 } 1 .. $n }    # binary
    elsif ($r < 0.88) { $s = '' }
    elsif ($r < 0.93) { $s = 'x' x pick(254, 255, 256, 257, 1000) }
    elsif ($r < 0.97) { $s = "\x{263a}" x pick(84, 85, 86, 300) }    # UTF-8 near the 255-byte boundary
    elsif ($r < 0.97 + $BIGSTR) { $s = pick('', "\x{e9}", "\x{263a}") . join('', map { chr(65 + $_ % 26) } 0 .. pick(65535, 65536, 69999) - 1) }
    else { $s = join '', map { chr int rand 256 } 1 .. pick(255, 256) }
    return $s;
}

# Scalars that are both strings and numbers, or numbers that were
# stringified: the flags decide what Storable stores.
sub rand_dual {
    my $r = rand;
    if ($r < 0.3) { my $s = pick('42', '007', '-3', '2147483648', '99999999999', '1e3', ' 12 ', '0x10', 'abc'); no warnings 'numeric'; my $n = $s + 0; return $s }
    if ($r < 0.5) { my $s = pick('3.5', '0.1', '-0.0', '1.0', 'NaN', 'inf'); no warnings 'numeric'; my $n = $s * 1.0; return $s }
    if ($r < 0.75) { my $n = rand_int(); my $s = "$n"; return $n }
    my $f = rand_float(); my $s = "$f"; return $f;
}

sub rand_key {
    my $r = rand;
    if ($r < 0.4) { return ascii_str(pick(1, 3, 6, 10)) }
    if ($r < 0.45) { return '' }
    if ($r < 0.55) { return pick("caf\x{e9} \x{263a}", "\x{263a}", "k\x{1f600}", "\x{4e2d}\x{6587}") . int(rand 100) }
    if ($r < 0.62) { my $k = "cl\xe9" . int(rand 100); utf8::upgrade($k); return $k }    # upgraded Latin-1
    if ($r < 0.67) { my $k = ascii_str(3); utf8::upgrade($k); return $k }    # upgraded ASCII
    if ($r < 0.75) { return "cl\xe9" . chr(0x80 + int rand 128) }    # Latin-1 bytes
    if ($r < 0.82) { return pick("a\nb", "nul\0key", "\0", "\r\n", "tab\tx") }
    if ($r < 0.88) { return '$' . ascii_str(2) }
    if ($r < 0.93) { return pick('event', 'params', 'rsvp', 'from', 'kernel', 'session', 'state') }
    return join '', map { chr int rand 256 } 1 .. pick(1, 4, 8);
}

# One structure. $ctx holds the pool of refs for sharing.
sub rand_scalar {
    my ($ctx) = @_;
    my $r = rand;
    return undef if $r < 0.07;
    return rand_int() if $r < 0.3;
    return rand_uv() if $r < 0.34;
    return rand_float() if $r < 0.46;
    return rand_dual() if $r < 0.54;
    return rand_str();
}

sub rand_value {
    my ($ctx, $depth) = @_;
    my $r = rand;
    if ($depth >= $ctx->{maxdepth} || $r < 0.55) {
        return rand_scalar($ctx);
    }
    if ($r < 0.62 && @{ $ctx->{pool} }) {
        return pick(@{ $ctx->{pool} });    # shared ref (maybe an ancestor: a cycle)
    }
    return rand_ref($ctx, $depth);
}

sub rand_ref {
    my ($ctx, $depth) = @_;
    my $r = rand;
    my $ref;
    if ($r < 0.38) {
        my @a;
        $ref = \@a;
        push @{ $ctx->{pool} }, $ref;
        my $n = rand() < 0.1 ? 0 : int rand 8;
        $n = pick(1000, 10000) if rand() < $ctx->{bigprob};
        for (1 .. $n) { push @a, $n > 100 ? rand_scalar($ctx) : rand_value($ctx, $depth + 1) }
        $a[$n + 2] = 1 if rand() < 0.03;    # holes: missing elements
    } elsif ($r < 0.76) {
        my %h;
        $ref = \%h;
        push @{ $ctx->{pool} }, $ref;
        my $n = rand() < 0.1 ? 0 : int rand 8;
        $n = 1000 if rand() < $ctx->{bigprob};
        for (1 .. $n) { $h{ rand_key() } = rand_value($ctx, $depth + 1) }
    } elsif ($r < 0.86) {
        my $x = rand_scalar($ctx);
        $ref = \$x;
        push @{ $ctx->{pool} }, $ref;
    } elsif ($r < 0.93) {
        my $inner = rand_ref($ctx, $depth + 1);
        $ref = \$inner;    # ref to a ref
        push @{ $ctx->{pool} }, $ref;
    } elsif ($r < 0.96) {
        my $x;
        $x = \$x;    # scalar ref cycle
        $ref = $x;
    } elsif ($r < 0.98) {
        $ref = \undef;    # ref to PL_sv_undef (immortal)
    } else {
        if ($ctx->{immortal}++) {
            my $x = 1; $ref = \$x;
        } else {
            $ref = rand() < 0.5 ? \!!1 : \!!0;    # ref to PL_sv_yes / PL_sv_no, once per structure
        }
    }
    if (rand() < 0.12) {
        my $t = Scalar::Util::reftype($ref);
        bless $ref, pick(@CLASSES) if $t eq 'ARRAY' || $t eq 'HASH' || ($t eq 'SCALAR' && !Internals::SvREADONLY($$ref)) || $t eq 'REF';
    }
    return $ref;
}

# A whole structure: a reference, a hash most of the time (IKC messages).
sub structure {
    my (%o) = @_;
    local $BIGSTR = $o{bigstr} // $BIGSTR;
    my $ctx = { pool => [], maxdepth => 1 + int rand 6, bigprob => $o{bigprob} // 0.0003, immortal => 0 };
    my $r = rand;
    if ($r < 0.7) {
        my %h;
        my $ref = \%h;
        push @{ $ctx->{pool} }, $ref;
        for (0 .. int rand 6) { $h{ rand_key() } = rand_value($ctx, 1) }
        bless $ref, pick(@CLASSES) if rand() < 0.05;
        return $ref;
    }
    my $ref = rand_ref($ctx, 0);
    return $ref;
}

1;
