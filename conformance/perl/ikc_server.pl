#!/usr/bin/perl
# A real POE::Component::IKC::Server for tests: prints JSON lines on stdout,
# first {"ev":"listening","port":N} (or the unix path), then what it sees.
#
#   ikc_server.pl --name PerlSrv [--port 0 | --unix PATH] [--protocol IKC0|IKC]
#                 [--push CLIENTNAME]
#
# Session svc publishes: echo (returns ARG0), record (post; printed),
# ack_sender (posts `ack` with its args back to SENDER), noreturn (undef),
# get_list (returns a list: scalar context gives the last element),
# add_1 (ClientLite post_respond), quit (shuts IKC down). It also publishes
# ghost/x for a session that does not exist. With --push NAME, once kernel
# NAME registers the server posts client/hello to it and calls
# client/compute (reply printed as "computed").
# The process exits 0 after IKC shuts down; a Perl-side death exits non-zero.
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
my @aliases;
GetOptions('name=s' => \$o{name}, 'port=i' => \$o{port}, 'unix=s' => \$o{unix},
    'protocol=s' => \$o{protocol}, 'push=s' => \$o{push}, 'alias=s' => \@aliases,
    'timeout=i' => \$o{timeout}) or die "bad options\n";
$| = 1;
my $json = JSON::PP->new->canonical->allow_nonref;
sub emit { my %e = @_; print $json->encode(\%e), "\n" }

POE::Component::IKC::Responder->spawn;
my %s = (name => $o{name}, protocol => $o{protocol}, aliases => [@aliases]);
if ($o{unix}) { $s{unix} = $o{unix} } else { $s{ip} = '127.0.0.1'; $s{port} = $o{port} }
my $port = POE::Component::IKC::Server->spawn(%s);

POE::Session->create(
    inline_states => {
        _start => sub {
            my ($kernel) = $_[KERNEL];
            $kernel->alias_set('svc');
            $kernel->call(IKC => publish => svc => [qw(echo record ack_sender noreturn get_list add_1 quit)]);
            $kernel->call(IKC => publish => ghost => [qw(x)]);
            $kernel->post(IKC => monitor => '*' => {
                register => 'mon_register', unregister => 'mon_unregister',
                error => 'mon_error', subscribe => 'mon_subscribe',
            });
            $kernel->delay(timeout => $o{timeout});
            emit(ev => 'listening', ($o{unix} ? (unix => $o{unix}) : (port => $port || $o{port})));
        },
        echo => sub { emit(ev => 'svc/echo', args => [ map { describe::describe($_) } @_[ARG0 .. $#_] ]); $_[ARG0] },
        record => sub { emit(ev => 'svc/record', args => [ map { describe::describe($_) } @_[ARG0 .. $#_] ]); return },
        ack_sender => sub {
            # Hold SENDER until the post-back is sent, as a Perl handler
            # must: IKC reuses an unreferenced SENDER (the thunk) for the
            # next request, and a post-back queued to it then goes to the
            # next request's sender (PROTOCOL.md 9.13).
            my ($kernel, $sender, @args) = @_[KERNEL, SENDER, ARG0 .. $#_];
            my $sid = $sender->ID;
            $kernel->refcount_increment($sid, 'ack');
            $kernel->post($sid => ack => @args);
            $kernel->yield(release => $sid);
            return;
        },
        release => sub { $_[KERNEL]->refcount_decrement($_[ARG0], 'ack') },
        noreturn => sub { return },
        get_list => sub { return (1, 2, 3) },
        add_1 => sub {
            my ($kernel, $arg) = @_[KERNEL, ARG0];
            my ($n, $rsvp) = @$arg;
            $kernel->post(IKC => post => $rsvp => $n + 1);
            return;
        },
        quit => sub {
            emit(ev => 'quit');
            $_[KERNEL]->delay('timeout');
            $_[KERNEL]->post(IKC => 'shutdown');
            return;
        },
        computed => sub { emit(ev => 'computed', got => describe::describe($_[ARG0])) },
        mon_register => sub {
            my ($kernel, $name, $real, $pid) = @_[KERNEL, ARG1, ARG2, ARG4];
            emit(ev => 'monitor', what => 'register', name => $name, is_id => $real ? 1 : 0, pid => $pid);
            if ($o{push} and $name eq $o{push}) {
                $kernel->post(IKC => post => "poe://$name/client/hello" => 'from perl');
                $kernel->post(IKC => call => "poe://$name/client/compute" => [ 6, 7 ], 'poe:/svc/computed');
            }
        },
        mon_unregister => sub { emit(ev => 'monitor', what => 'unregister', name => $_[ARG1]) },
        mon_subscribe  => sub { emit(ev => 'monitor', what => 'subscribe', name => $_[ARG1]) },
        mon_error      => sub {
            my ($op, $msg) = @_[ARG4, ARG5];
            emit(ev => 'monitor', what => 'error', name => $_[ARG1], op => $op, msg => (ref $msg ? "$msg" : $msg));
        },
        timeout => sub { emit(ev => 'timeout'); $_[KERNEL]->post(IKC => 'shutdown') },
    },
);
$poe_kernel->run;
emit(ev => 'exit');
exit 0;
