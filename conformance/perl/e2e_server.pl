#!/usr/bin/perl
# The Perl IKC server of the end-to-end migration test: a real
# POE::Component::IKC::Server publishing session svc, which prints one
# JSON line on stdout per thing it sees: first {"ev":"listening","port":N},
# then {"ev":"svc/STATE","args":[...]} for every request it serves, the
# monitor events, and {"ev":"exit"} when it shut down cleanly.
#
#   e2e_server.pl --name PerlSrv [--port 0] [--protocol IKC0|IKC] [--timeout 60]
#
# svc publishes echo (returns ARG0), record (post), fail (returns undef:
# in the migration it belongs to Go and must never get here), noreturn
# (undef), ack_sender and quit (shuts IKC down).
#
# ack_sender posts `ack` with its args back to SENDER, 50 ms later, so that
# the post-back crosses other requests (other clients' too, when a gateway
# multiplexes them on one channel). It holds SENDER with
# refcount_increment meanwhile, as a Perl handler must: IKC 0.2402 reuses
# an unreferenced SENDER (its Responder::Thunk) for the next request, and
# a post-back posted to it after that goes to the next request's sender
# (ikc_server.pl's ack_sender, which posts without holding it, loses or
# misroutes post-backs so whenever requests of several senders are queued
# together, with no gateway involved).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Getopt::Long;
use JSON::PP ();
use POE qw(Session);
use POE::Component::IKC::Server;
use POE::Component::IKC::Responder;
use describe;

my %o = (name => 'PerlSrv', port => 0, protocol => 'IKC0', timeout => 60);
GetOptions('name=s' => \$o{name}, 'port=i' => \$o{port}, 'protocol=s' => \$o{protocol},
    'timeout=i' => \$o{timeout}) or die "bad options\n";
$| = 1;
my $json = JSON::PP->new->canonical->allow_nonref;
sub emit { my %e = @_; print $json->encode(\%e), "\n" }
sub described { [ map { describe::describe($_) } @_ ] }

POE::Component::IKC::Responder->spawn;
my $port = POE::Component::IKC::Server->spawn(name => $o{name}, protocol => $o{protocol},
    ip => '127.0.0.1', port => $o{port});

POE::Session->create(
    inline_states => {
        _start => sub {
            my ($kernel) = $_[KERNEL];
            $kernel->alias_set('svc');
            $kernel->call(IKC => publish => svc => [qw(echo record fail noreturn ack_sender quit)]);
            $kernel->post(IKC => monitor => '*' => {
                register => 'mon_register', unregister => 'mon_unregister', error => 'mon_error',
            });
            $kernel->delay(timeout => $o{timeout});
            emit(ev => 'listening', port => $port || $o{port});
        },
        echo => sub { emit(ev => 'svc/echo', args => described(@_[ARG0 .. $#_])); $_[ARG0] },
        record => sub { emit(ev => 'svc/record', args => described(@_[ARG0 .. $#_])); return },
        fail => sub { emit(ev => 'svc/fail', args => described(@_[ARG0 .. $#_])); return },
        noreturn => sub { emit(ev => 'svc/noreturn'); return },
        ack_sender => sub {
            my ($kernel, $sender, @args) = @_[KERNEL, SENDER, ARG0 .. $#_];
            emit(ev => 'svc/ack_sender', args => [ map { defined $_ ? "$_" : undef } @args ]);
            my $sid = $sender->ID;
            $kernel->refcount_increment($sid, 'e2e_ack');
            $kernel->delay_add(ack_later => 0.05, $sid, @args);
            return;
        },
        ack_later => sub {
            my ($kernel, $sid, @args) = @_[KERNEL, ARG0 .. $#_];
            $kernel->post($sid => ack => @args);
            $kernel->yield(release => $sid);    # after the thunk has sent the ack
        },
        release => sub { $_[KERNEL]->refcount_decrement($_[ARG0], 'e2e_ack') },
        quit => sub {
            emit(ev => 'quit');
            $_[KERNEL]->delay('timeout');
            $_[KERNEL]->post(IKC => 'shutdown');
            return;
        },
        mon_register => sub { emit(ev => 'monitor', what => 'register', name => $_[ARG1]) },
        mon_unregister => sub { emit(ev => 'monitor', what => 'unregister', name => $_[ARG1]) },
        mon_error => sub {
            my ($op, $msg) = @_[ARG4, ARG5];
            emit(ev => 'monitor', what => 'error', name => $_[ARG1], op => $op, msg => (ref $msg ? "@$msg" : $msg));
        },
        timeout => sub { emit(ev => 'timeout'); $_[KERNEL]->post(IKC => 'shutdown') },
    },
);
$poe_kernel->run;
emit(ev => 'exit');
exit 0;
