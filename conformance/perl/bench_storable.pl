#!/usr/bin/perl
# bench_storable.pl: Perl's side of scripts/bench-storable.
#
#   bench_storable.pl inputs DIR   writes the benchmark inputs to DIR:
#       call-rsvp.bin  the first client->server frame payload of the
#                      b-call-rsvp capture (a typical IKC call request)
#       big-1mb.bin    nfreeze of a deterministic ~1 MB IKC message
#   bench_storable.pl time DIR     times Storable::thaw of each DIR/*.bin and
#       Storable::nfreeze of the thawed value (what POE::Filter::Reference
#       does per frame) and prints lines "perl <op> <case> <ns/op> <iterations>";
#       then the same for Sereal (ops serealdecode and serealencode) on
#       DIR/*.srl, with the options of ikcgate::Sereal, the adapter a Perl
#       kernel uses to negotiate Sereal with ikcgate
#
# inputs also writes <case>.srl: the same value encoded by ikcgate::Sereal.
#
# The Go benchmarks in conformance/bench_test.go read the same files when
# IKCGATE_BENCH_DIR=DIR is set, so both sides work on the same bytes.
use strict;
use warnings;
use FindBin;
use Storable qw(nfreeze thaw);
use Time::HiRes qw(time);
use lib "$FindBin::Bin/../../perlcompat/perl/lib";
use ikcgate::Sereal;

my ($mode, $dir) = @ARGV;
die "usage: bench_storable.pl inputs|time DIR\n" unless defined $dir && ($mode eq 'inputs' || $mode eq 'time');

if ($mode eq 'inputs') {
    my $cap = "$FindBin::Bin/../testdata/captures/b-call-rsvp.c2s.bin";
    open my $fh, '<:raw', $cap or die "$cap: $!\n";
    my $stream = do { local $/; <$fh> };
    close $fh;
    # skip the negotiation line(s), then take the first <len>\0<payload> frame
    $stream =~ /(?:^|\n)(\d+)\0/ or die "no frame in $cap\n";
    my $payload = substr($stream, $+[0], $1);
    length($payload) == $1 or die "short frame in $cap\n";
    thaw($payload) or die "capture frame does not thaw\n";
    write_file("$dir/call-rsvp.bin", $payload);
    write_file("$dir/call-rsvp.srl", ikcgate::Sereal::freeze(thaw($payload)));

    local $Storable::canonical = 1;
    my @items;
    for my $i (0 .. 3999) {
        push @items, {
            id    => $i,
            name  => "item number $i",
            price => sprintf('%.2f', $i * 1.25),
            big   => $i * 1000003,
            tags  => ['alpha', 'beta', "t$i", "caf\x{e9}", "\x{263a}"],
            blob  => chr(65 + $i % 26) x 120,
            meta  => { created => 1700000000 + $i, ok => 1, note => undef },
        };
    }
    my $msg = { event => 'poe://Server/svc/bulk', params => \@items,
                rsvp => { kernel => 'TestClient', session => 2, state => 'bulk_reply' } };
    write_file("$dir/big-1mb.bin", nfreeze($msg));
    write_file("$dir/big-1mb.srl", ikcgate::Sereal::freeze($msg));
    exit 0;
}

opendir my $dh, $dir or die "$dir: $!\n";
for my $f (sort grep { /\.bin$/ } readdir $dh) {
    (my $case = $f) =~ s/\.bin$//;
    open my $fh, '<:raw', "$dir/$f" or die "$dir/$f: $!\n";
    my $img = do { local $/; <$fh> };
    close $fh;
    my $v = thaw($img);
    printf "perl thaw %s %.1f %d\n", $case, bench(sub { thaw($img) });
    printf "perl nfreeze %s %.1f %d\n", $case, bench(sub { nfreeze($v) });
}
rewinddir $dh;
for my $f (sort grep { /\.srl$/ } readdir $dh) {
    (my $case = $f) =~ s/\.srl$//;
    open my $fh, '<:raw', "$dir/$f" or die "$dir/$f: $!\n";
    my $doc = do { local $/; <$fh> };
    close $fh;
    my $v = ikcgate::Sereal::thaw($doc);
    printf "perl serealdecode %s %.1f %d\n", $case, bench(sub { ikcgate::Sereal::thaw($doc) });
    printf "perl serealencode %s %.1f %d\n", $case, bench(sub { ikcgate::Sereal::freeze($v) });
}

# Runs $code for about a second after a warm-up and returns (ns/op, iterations).
sub bench {
    my ($code) = @_;
    $code->() for 1 .. 3;
    my $n = 1;
    while (1) {
        my $t0 = time;
        $code->() for 1 .. $n;
        my $dt = time - $t0;
        return ($dt * 1e9 / $n, $n) if $dt >= 1.0;
        $n = $dt > 0.01 ? int($n * 1.2 / $dt) + 1 : $n * 10;
    }
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>:raw', $path or die "$path: $!\n";
    print $out $data;
    close $out or die "$path: $!\n";
}
