#!/usr/bin/perl
# A real POE::Component::IKC::Client that calls one state over and over,
# for the end-to-end drain test. It prints one JSON line per event on
# stdout:
#
#   {"ev":"connected","t":T}
#   {"ev":"sent","seq":N,"arg":A,"t":T}      a call handed to IKC
#   {"ev":"reply","arg":A,"t":T}             a reply (the call's ARG0 back)
#   {"ev":"closed","t":T}                    the server's kernel unregistered
#   {"ev":"error",...}                       a connect error or a remote error
#   {"ev":"timeout"}                         --timeout seconds passed
#   {"ev":"exit"}                            the POE kernel returned
#
# T is the epoch time in seconds (Time::HiRes). The arg of call N is
# --ms + N, so every reply names the call it answers (demo/sleep returns
# its ARG0). --depth calls are kept outstanding at once; each reply sends
# the next call, up to --max calls (0: no bound). The script exits 0 once
# the connection closes (the server going away is not an error for it).
#
#   e2e_caller.pl --port N --server NAME [--state demo/sleep] [--ms 200]
#                 [--depth 1] [--max 0] [--protocol IKC0|IKC] [--name N]
#                 [--timeout 60]
use strict;
use warnings;
use Getopt::Long;
use JSON::PP ();
use Time::HiRes ();
use POE qw(Session);
use POE::Component::IKC::Client;
use POE::Component::IKC::Responder;

my %o = (state => 'demo/sleep', ms => 200, depth => 1, max => 0, protocol => 'IKC0',
    name => "Caller$$", timeout => 60);
GetOptions('port=i' => \$o{port}, 'server=s' => \$o{server}, 'state=s' => \$o{state},
    'ms=i' => \$o{ms}, 'depth=i' => \$o{depth}, 'max=i' => \$o{max},
    'protocol=s' => \$o{protocol}, 'name=s' => \$o{name}, 'timeout=i' => \$o{timeout})
    or die "bad options\n";
die "--port and --server are required\n" unless $o{port} and $o{server};
$| = 1;
my $json = JSON::PP->new->canonical->allow_nonref;
sub emit { my %e = @_; $e{t} = Time::HiRes::time(); print $json->encode(\%e), "\n" }

my $S = $o{server};
my $seq = 0;
my $closed = 0;

POE::Component::IKC::Responder->spawn;
POE::Session->create(
    inline_states => {
        _start => sub {
            my ($kernel) = $_[KERNEL];
            $kernel->alias_set('caller');
            $kernel->post(IKC => monitor => '*' => {
                unregister => 'mon_unregister', error => 'mon_error',
            });
            POE::Component::IKC::Client->spawn(
                ip => '127.0.0.1', port => $o{port}, name => $o{name}, protocol => $o{protocol},
                on_connect => sub { $poe_kernel->post(caller => 'go') },
                on_error => sub {
                    my ($op, $errnum, $errstr) = @_;
                    emit(ev => 'error', op => $op, errnum => $errnum, msg => $errstr);
                    $poe_kernel->post(caller => 'bye');
                },
            );
            $kernel->delay(timeout => $o{timeout});
        },
        go => sub {
            emit(ev => 'connected');
            $_[KERNEL]->yield('send') for 1 .. $o{depth};
        },
        send => sub {
            return if $closed or ($o{max} and $seq >= $o{max});
            $seq++;
            my $arg = $o{ms} + $seq;
            emit(ev => 'sent', seq => $seq, arg => $arg);
            $_[KERNEL]->post(IKC => call => "poe://$S/$o{state}" => $arg, 'poe:reply');
        },
        reply => sub {
            my $v = $_[ARG0];
            emit(ev => 'reply', arg => (defined $v ? $v + 0 : undef));
            $_[KERNEL]->yield('send');
        },
        mon_unregister => sub {
            return if $closed++;
            emit(ev => 'closed');
            $_[KERNEL]->yield('bye');
        },
        mon_error => sub {
            my ($op, $msg) = @_[ARG4, ARG5];
            emit(ev => 'error', op => $op, msg => (ref $msg ? "@$msg" : $msg));
        },
        bye => sub {
            $_[KERNEL]->delay('timeout');
            $_[KERNEL]->post(IKC => 'shutdown');
        },
        timeout => sub {
            emit(ev => 'timeout');
            $_[KERNEL]->post(IKC => 'shutdown');
        },
    },
);
$poe_kernel->run;
emit(ev => 'exit');
exit 0;
