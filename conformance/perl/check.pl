#!/usr/bin/perl
# check.pl: reads JSON lines {"id":N,"hex":"<Storable image>","desc":"<expected
# description>"} on stdin, thaws each image with Storable::thaw (what
# POE::Filter::Reference calls), describes the result with describe.pm and
# compares. Writes one JSON line per mismatch or thaw failure:
#   {"id":N,"error":"<thaw error or empty>","got":"<description>"}
# and at the end {"done":<lines read>,"mismatches":<count>}.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Storable qw(thaw);
use describe;

binmode STDIN;
binmode STDOUT;
$| = 1;
my ($n, $bad) = (0, 0);
while (my $line = <STDIN>) {
    next unless $line =~ /\S/;
    my $o = describe::parse_flat_json($line);
    $n++;
    my $img = pack('H*', $o->{hex} // '');
    my $got;
    my $v = eval { thaw($img) };
    my $err = $@;
    if ($err) {
        $err =~ s/\s+$//;
    } elsif (!ref $v) {
        $err = 'thaw returned a non-reference: ' . (defined $v ? $v : 'undef');
    } else {
        $got = describe::describe($v);
    }
    if ($err || $got ne ($o->{desc} // '')) {
        $bad++;
        print '{"id":', ($o->{id} // -1) + 0, ',"error":', describe::json_str($err || ''),
            ',"got":', describe::json_str($got // ''), "}\n";
    }
}
print qq({"done":$n,"mismatches":$bad}\n);
