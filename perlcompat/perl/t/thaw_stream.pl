#!/usr/bin/perl
# thaw_stream.pl FREEZER [json]: reads POE::Filter::Reference frames
# ("<len>\0<payload>"...) on stdin, thaws them the way a Perl IKC kernel
# does (POE::Filter::Reference->new(FREEZER)->get), and prints one
# description (Describe.pm) per frame, one JSON line each.
use strict;
use warnings;
use JSON::PP ();
use POE::Filter::Reference;
use Describe;

my ($freezer, $json_bools) = @ARGV;
binmode STDIN;
my $stream = do { local $/; <STDIN> };
my $filter = POE::Filter::Reference->new($freezer)
    or die "POE::Filter::Reference cannot use $freezer\n";
my $out = JSON::PP->new->utf8->canonical;
for my $thawed (@{ $filter->get([$stream]) }) {
    print $out->encode(Describe::describe($thawed, $json_bools)), "\n";
}
