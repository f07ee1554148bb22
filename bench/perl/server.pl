#!/usr/bin/perl
# bench/perl/server.pl: the Perl side of scripts/bench, a real
# POE::Component::IKC::Server publishing what ikcgate's demo session
# serves, with nothing printed per request:
#
#   server.pl --name PerlBench --port N [--timeout SECONDS]
#
# demo/echo returns ARG0; demo/count (post) adds ARG0 to a counter;
# demo/total returns it; demo/respond (ClientLite's post_respond) posts
# the value of ARG0 = [value, rsvp] back to rsvp. Prints
# {"ev":"listening","port":N} once ready and exits by itself after
# --timeout seconds (scripts/bench also stops it).
use strict;
use warnings;
use Getopt::Long;
use POE qw(Session);
use POE::Component::IKC::Server;
use POE::Component::IKC::Responder;

my %o = (name => 'PerlBench', port => 0, timeout => 900, protocol => 'IKC0');
GetOptions('name=s' => \$o{name}, 'port=i' => \$o{port}, 'timeout=i' => \$o{timeout},
    'protocol=s' => \$o{protocol}) or die "bad options\n";
$| = 1;

POE::Component::IKC::Responder->spawn;
my $port = POE::Component::IKC::Server->spawn(ip => '127.0.0.1', port => $o{port},
    name => $o{name}, protocol => $o{protocol});
my $total = 0;
POE::Session->create(
    inline_states => {
        _start => sub {
            $_[KERNEL]->alias_set('demo');
            $_[KERNEL]->call(IKC => publish => demo => [qw(echo count total respond)]);
            $_[KERNEL]->delay(timeout => $o{timeout});
            print qq({"ev":"listening","port":), ($port || $o{port}), "}\n";
        },
        echo    => sub { $_[ARG0] },
        count   => sub { $total += $_[ARG0]; return },
        total   => sub { $total },
        respond => sub { my ($v, $rsvp) = @{ $_[ARG0] }; $_[KERNEL]->post(IKC => post => $rsvp => $v); return },
        timeout => sub { $_[KERNEL]->post(IKC => 'shutdown') },
    },
);
$poe_kernel->run;
exit 0;
