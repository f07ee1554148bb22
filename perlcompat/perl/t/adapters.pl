#!/usr/bin/perl
# adapters.pl: POE::Filter::Reference->new(NAME) accepts both adapters,
# round-trips a typical IKC request through put/get, and freeze/thaw also
# work as class methods. Dies with a message on any failure.
use strict;
use warnings;
use POE::Filter::Reference;

my $req = { event => 'poe://Server/svc/echo', params => [1, "caf\x{e9}", "\x{263a}", 2.5, undef, { k => 'v' }],
            rsvp => { kernel => 'Client', session => 2, state => 'reply' } };
for my $name ('ikcgate::Sereal', 'ikcgate::JSON') {
    my $f = POE::Filter::Reference->new($name) or die "POE::Filter::Reference->new('$name') failed\n";
    my $raw = join '', @{ $f->put([$req]) };
    $raw =~ /^(\d+)\0/ or die "$name: no frame header\n";
    my $got = $f->get([$raw . $raw]);    # two frames in one read
    @$got == 2 or die "$name: got " . scalar(@$got) . " frames\n";
    for my $g (@$got) {
        $g->{event} eq $req->{event} or die "$name: event\n";
        $g->{params}[2] eq "\x{263a}" or die "$name: UTF-8 string\n";
        $g->{params}[3] == 2.5 or die "$name: float\n";
        !defined $g->{params}[4] or die "$name: undef\n";
        $g->{rsvp}{session} == 2 or die "$name: rsvp\n";
    }
    my $class_way = $name->thaw($name->freeze($req));
    $class_way->{params}[5]{k} eq 'v' or die "$name: class-method call\n";
}
# Blessed data: Sereal keeps it, JSON refuses it.
my $obj = { o => bless({ a => 1 }, 'Some::Class') };
ref(ikcgate::Sereal::thaw(ikcgate::Sereal::freeze($obj))->{o}) eq 'Some::Class' or die "Sereal lost the class\n";
eval { ikcgate::JSON::freeze($obj) };
$@ or die "JSON froze a blessed object\n";
print "adapters ok\n";
