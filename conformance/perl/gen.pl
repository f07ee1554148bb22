#!/usr/bin/perl
# gen.pl SEED COUNT: COUNT random structures (conformance/perl/gen.pm), one
# JSON line each: {"i":N,"n":hex(nfreeze),"nd":describe(thaw(nfreeze)),
# "f":hex(freeze),"fd":describe(thaw(freeze))}; "fd" is left out
# when it equals "nd". The descriptions are what a
# Perl receiver sees after thawing, so the Go side must thaw to the same.
# The last line is {"done":COUNT}.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Storable qw(nfreeze freeze thaw);
use Scalar::Util ();
use describe;
use gen;

my ($seed, $count) = @ARGV;
die "usage: gen.pl SEED COUNT\n" unless defined $count && $seed =~ /^\d+$/ && $count =~ /^\d+$/;
srand($seed);
binmode STDOUT;
$| = 0;
for my $i (0 .. $count - 1) {
    my $v = gen::structure(bigprob => 0.0001, bigstr => 0.0004);
    my $n = nfreeze($v);
    my $f = freeze($v);
    my $nd = describe::describe(thaw($n));
    my $fd = describe::describe(thaw($f));
    print '{"i":', $i, ',"n":"', unpack('H*', $n), '","nd":', describe::json_str($nd),
        ',"f":"', unpack('H*', $f), '"', ($fd eq $nd ? '' : ',"fd":' . describe::json_str($fd)), "}\n";
    _breakcycles($v);
}
print qq({"done":$count}\n);

# Cycles would leak; not important for a short-lived process, but keep the
# memory flat for big runs.
sub _breakcycles {
    my ($v, $seen) = @_;
    $seen ||= {};
    my $t = Scalar::Util::reftype($v) or return;
    return if $seen->{ Scalar::Util::refaddr($v) }++;
    if ($t eq 'ARRAY') { _breakcycles($_, $seen) for @$v; @$v = () }
    elsif ($t eq 'HASH') { _breakcycles($_, $seen) for values %$v; %$v = () }
    elsif ($t eq 'REF') { my $x = $$v; _breakcycles($x, $seen); eval { $$v = undef } }
}
