#!/usr/bin/perl
# gen.pl MODE SEED COUNT: makes COUNT random Perl structures, freezes each
# with the ikcgate adapter for MODE (sereal or json), thaws the bytes again
# with the same adapter, and prints one JSON line per structure:
#   {"hex": <frozen bytes>, "desc": <Describe.pm description of the thawed copy>,
#    "how": <which encoder options>,
#    "again": <json mode: the adapter's freeze of the thawed copy>}
# The Go test decodes "hex" and must get exactly "desc".
# In sereal mode structures are also frozen with other Sereal::Encoder
# options (protocols 1, 2, 5, Snappy, zlib, string dedupe). Not
# aliased_dedupe_strings: Sereal::Decoder 5.003 refuses some of its output
# ("ALIAS tag not inside container").
use strict;
use warnings;
use JSON::PP ();
use Sereal::Encoder ();
use Sereal::Decoder ();
use ikcgate::Sereal;
use ikcgate::JSON;
use Describe;

my ($mode, $seed, $count) = @ARGV;
srand($seed);
my $json = $mode eq 'json';
my @pool;

my @classes = ('Foo', 'Foo::Bar', 'IKC::Thing');
my @words = ('', 'a', 'event', 'params', 'poe://Kernel/session/state', 'kernel', 'session', 'state', '007', '42', '3.14', '1e5', '-0', ' ');

sub rstr {
    my $k = int rand 8;
    if ($k == 0) { return join '', map { chr int rand 256 } 1 .. int rand 20 }     # bytes
    if ($k == 1) { return "caf\xe9 \xff" }                                          # Latin-1 bytes
    if ($k == 2) { my $s = "cl\xe9"; utf8::upgrade($s); return $s }                # upgraded Latin-1
    if ($k == 3) { return join '', map { chr(0x100 + int rand 0x2000) } 1 .. int rand 8 } # wide
    if ($k == 4) { return "\x{263a} smile \x{1F600}" }
    if ($k == 5) { my $s = $words[rand @words]; utf8::upgrade($s); return $s }     # ASCII with the flag
    return $words[rand @words];
}

sub rnum {
    my $k = int rand 8;
    if ($k == 0) { return int(rand 40) - 20 }
    if ($k == 1) { my @e = (127, 128, -128, -129, 2147483647, 2147483648, -2147483648, -2147483649, 1099511627776, 9223372036854775807, -9223372036854775808); return $e[rand @e] }
    if ($k == 2) { return 18446744073709551615 }
    if ($k == 3) { my @e = (0.5, -0.5, 0.1, 3.14159, -2.5e-7, 1e100, 1.0, 1e15, 123456.789); return $e[rand @e] }
    if ($k == 4) { return (rand() - 0.5) * 10 ** (int(rand 40) - 20) }
    if ($k == 5) { my $n = int rand 1000; my $s = "$n"; return $n }                # an integer that was printed
    if ($k == 6) { return !!(rand 2 > 1) }                                          # Perl booleans
    return int(rand 2**40);
}

sub rscalar {
    my $k = int rand 5;
    return undef if $k == 0;
    return rnum() if $k == 1 or $k == 2;
    return rstr();
}

sub rval {
    my ($depth) = @_;
    if (!$json and @pool and rand() < 0.1) { return $pool[rand @pool] }   # shared, maybe a cycle
    return rscalar() if $depth > 4;
    my $k = int rand 10;
    if ($k == 0) { return rarray($depth + 1) }
    if ($k == 1) { return rhash($depth + 1) }
    if ($k == 2 and $json) { return rand 2 > 1 ? JSON::PP::true() : JSON::PP::false() }
    if ($k == 2) { my $x = rval($depth + 1); my $r = \$x; push @pool, $r; $r = bless $r, $classes[rand @classes] if rand 3 < 1; return $r }
    return rscalar();
}

sub rarray {
    my ($depth) = @_;
    my $a = [];
    push @pool, $a;
    push @$a, rval($depth) for 1 .. (rand 10 < 1 ? 16 + int rand 20 : int rand 6);
    $a = bless $a, $classes[rand @classes] if !$json and rand 4 < 1;
    return $a;
}

sub rhash {
    my ($depth) = @_;
    my $h = {};
    push @pool, $h;
    $h->{ rstr() } = rval($depth) for 1 .. (rand 10 < 1 ? 16 + int rand 20 : int rand 6);
    $h = bless $h, $classes[rand @classes] if !$json and rand 4 < 1;
    return $h;
}

my @variants = (
    [ adapter => undef ],
    [ v5 => {} ],
    [ v1 => { protocol_version => 1 } ],
    [ v2 => { protocol_version => 2 } ],
    [ dedupe => { dedupe_strings => 1 } ],
    [ snappy => { compress => Sereal::Encoder::SRL_SNAPPY(), compress_threshold => 0 } ],
    [ zlib => { compress => Sereal::Encoder::SRL_ZLIB(), compress_threshold => 0 } ],
    [ canonical => { canonical => 1 } ],
);

my $out = JSON::PP->new->utf8->canonical;
for my $i (1 .. $count) {
    @pool = ();
    my $v = rand 4 < 1 ? rarray(0) : rhash(0);
    my ($how, $bytes);
    if ($json) {
        ($how, $bytes) = ('json', ikcgate::JSON::freeze($v));
    } else {
        my ($name, $opts) = @{ $variants[$i % @variants] };
        $how = $name;
        $bytes = $opts ? Sereal::Encoder->new($opts)->encode($v) : ikcgate::Sereal::freeze($v);
    }
    # The adapter's own thaw, or a default Sereal::Decoder for documents
    # of other encoder options.
    my $back = eval {
        $json ? ikcgate::JSON::thaw($bytes)
      : $how eq 'adapter' ? ikcgate::Sereal::thaw($bytes)
      : Sereal::Decoder->new->decode($bytes)
    };
    die "gen.pl: $how: thaw of our own freeze failed: $@" . unpack("H*", $bytes) . "\n" if $@;
    my %rec = (how => $how, hex => unpack('H*', $bytes), desc => Describe::describe($back, $json));
    $rec{again} = unpack('H*', ikcgate::JSON::freeze($back)) if $json;    # canonical: Go must match
    print $out->encode(\%rec), "\n";
}
