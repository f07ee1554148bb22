#!/usr/bin/perl
# filter_peer.pl: the far side of a TCP socket speaking POE::Filter::Reference
# framing with its default serializer (Storable nfreeze/thaw), without a POE
# kernel: plain IO::Socket, sysread/syswrite and the filter's get/put.
#
#   filter_peer.pl read PORT
#       connects to 127.0.0.1:PORT, feeds everything it reads to
#       $filter->get([$chunk]) and prints one JSON line per thawed value:
#       {"n":<index>,"desc":"<describe.pm description>"}; at EOF prints
#       {"eof":1,"count":<values>,"pending":<bytes left in the filter>}.
#   filter_peer.pl write PORT SEED COUNT
#       builds COUNT random structures (gen.pm), frames them with
#       $filter->put, prints {"n":<index>,"desc":...} for each as a Perl
#       receiver sees it (the frame run through a second filter's get),
#       then {"frames":COUNT,"bytes":<total>}, then writes all frames to the
#       socket in random-sized syswrites (1 byte to 64 KiB, some with short
#       pauses) and closes.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IO::Socket::INET;
use POE::Filter::Reference;
use describe;
use gen;

binmode STDOUT;
$| = 1;
my ($mode, $port, $seed, $count) = @ARGV;
die "usage: filter_peer.pl read PORT | write PORT SEED COUNT\n"
    unless defined $port && ($mode eq 'read' || ($mode eq 'write' && defined $count));

my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
    or die "connect 127.0.0.1:$port: $!\n";
binmode $sock;

if ($mode eq 'read') {
    my $filter = POE::Filter::Reference->new();
    my $n = 0;
    while (1) {
        my $got = sysread($sock, my $chunk, 65536);
        die "sysread: $!\n" unless defined $got;
        last if $got == 0;
        for my $v (@{ $filter->get([$chunk]) }) {
            print '{"n":', $n++, ',"desc":', describe::json_str(describe::describe($v)), "}\n";
        }
    }
    my $pending = $filter->get_pending;
    my $left = 0;
    $left += length($_) for @{ $pending || [] };
    print qq({"eof":1,"count":$n,"pending":$left}\n);
    exit 0;
}

srand($seed);
my $tx = POE::Filter::Reference->new();
my $rx = POE::Filter::Reference->new();
my $stream = '';
for my $i (0 .. $count - 1) {
    my $v = gen::structure(bigprob => 0.002, bigstr => 0.0015);
    my $frame = $tx->put([$v])->[0];
    my $back = $rx->get([$frame]);
    die "frame $i: the receiving filter returned " . scalar(@$back) . " values\n" unless @$back == 1;
    print '{"n":', $i, ',"desc":', describe::json_str(describe::describe($back->[0])), "}\n";
    $stream .= $frame;
}
print '{"frames":', $count, ',"bytes":', length($stream), "}\n";
my $off = 0;
while ($off < length $stream) {
    my $r = rand;
    my $len = $r < 0.3 ? 1 + int rand 8 : $r < 0.8 ? 1 + int rand 600 : 1 + int rand 65536;
    $len = length($stream) - $off if $off + $len > length $stream;
    my $w = syswrite($sock, $stream, $len, $off);
    die "syswrite: $!\n" unless defined $w;
    $off += $w;
    select(undef, undef, undef, 0.001) if rand() < 0.02;
}
close $sock or die "close: $!\n";
