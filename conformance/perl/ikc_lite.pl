#!/usr/bin/perl
# A real POE::Component::IKC::ClientLite session against a kernel, printing
# one JSON line per step: {"ev":STEP, "ret":[described return values],
# "err":ERROR-or-null}, then {"ev":"done"}.
#
#   ikc_lite.pl --port N --server NAME [--protocol IKC0|IKC] [--name N]
#               [--scenario demo|gateway] [--count N]
#
# scenario "demo" calls the ikcgate demo session; "gateway" (default) the
# svc states of the conformance kernel: echo, record, add_1 (post_respond),
# plus calls that must fail; "pairs" posts to svc/record and then calls
# svc/echo, --count times, printing {"ev":"pair","us":MICROSECONDS} each,
# then times --count more connections (connect, negotiate, disconnect),
# printing {"ev":"connect","us":MICROSECONDS} each.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Getopt::Long;
use JSON::PP ();
use POE::Component::IKC::ClientLite;
use describe;

my %o = (protocol => 'IKC0', name => "Lite$$", scenario => 'gateway', count => 1, timeout => 10);
GetOptions('port=i' => \$o{port}, 'server=s' => \$o{server}, 'protocol=s' => \$o{protocol},
    'name=s' => \$o{name}, 'scenario=s' => \$o{scenario}, 'count=i' => \$o{count},
    'timeout=i' => \$o{timeout}) or die "bad options\n";
$| = 1;
my $json = JSON::PP->new->canonical->allow_nonref;
sub emit { my %e = @_; print $json->encode(\%e), "\n" }

my $c = create_ikc_client(port => $o{port}, ip => '127.0.0.1', name => $o{name},
    protocol => $o{protocol}, timeout => $o{timeout});
unless ($c) {
    emit(ev => 'connect_failed', err => $POE::Component::IKC::ClientLite::error);
    exit 1;
}
emit(ev => 'connected');
my $S = $o{server};

sub step {
    my ($name, $code) = @_;
    my @ret = $code->();
    emit(ev => $name, ret => [ map { describe::describe($_) } @ret ], err => $c->error);
    $c->{error} = undef;
}

if ($o{scenario} eq 'gateway') {
    for my $i (1 .. $o{count}) {
        step(post => sub { $c->post("poe://$S/svc/record", "lite $i") });
        step(call_scalar => sub { my $r = $c->call("poe://$S/svc/echo", { n => $i, s => "caf\x{e9}" }); ($r) });
        step(call_list => sub { my @r = $c->call("poe://$S/svc/echo", [ 1, 2, $i ]); @r });
        step(post_respond => sub { my $r = $c->post_respond("poe://$S/svc/add_1", 41); ($r) });
    }
    step(call_unpublished => sub { my $r = $c->call("poe://$S/svc/nope", 1); ($r) });
    step(post_unpublished => sub { $c->post("poe://$S/svc/nope", 1) });
    step(call_after_errors => sub { my $r = $c->call("poe://$S/svc/echo", 'still in sync'); ($r) });
} elsif ($o{scenario} eq 'pairs') {
    require Time::HiRes;
    for my $i (1 .. $o{count}) {
        my $t = Time::HiRes::time();
        $c->post("poe://$S/svc/record", "pair $i") or die $c->error;
        my $r = $c->call("poe://$S/svc/echo", $i);
        die "pair $i: " . ($c->error // 'no answer') unless defined $r && $r == $i;
        emit(ev => 'pair', us => int((Time::HiRes::time() - $t) * 1e6));
    }
    for my $i (1 .. $o{count}) {
        my $t = Time::HiRes::time();
        my $c2 = create_ikc_client(port => $o{port}, ip => '127.0.0.1', name => "$o{name}x$i",
            protocol => $o{protocol}, timeout => $o{timeout}) or die $POE::Component::IKC::ClientLite::error;
        $c2->disconnect;
        emit(ev => 'connect', us => int((Time::HiRes::time() - $t) * 1e6));
    }
} else {
    step(echo_scalar => sub { my $r = $c->call("poe://$S/demo/echo", { n => 1, s => "caf\x{e9}", l => [ 1, 'two' ] }); ($r) });
    step(echo_list => sub { my @r = $c->call("poe://$S/demo/echo", [ 1, 'two', 3 ]); @r });
    step(time => sub { my $r = $c->call("poe://$S/demo/time", undef); ($r) });
    step(sleep => sub { my $r = $c->call("poe://$S/demo/sleep", 20); ($r) });
    step(count => sub { ($c->post("poe://$S/demo/count", 5), $c->post("poe://$S/demo/count", 7)) });
    step(total => sub { my $r = $c->call("poe://$S/demo/total", undef); ($r) });
    step(fail => sub { my $r = $c->call("poe://$S/demo/fail", 'on purpose'); ($r) });
    step(respond => sub { my $r = $c->post_respond("poe://$S/demo/respond", [ 'back', { n => 2 } ]); ($r) });
    step(whoami => sub { my $r = $c->call("poe://$S/demo/whoami", undef); ($r) });
}
$c->disconnect;
emit(ev => 'done');
exit 0;
