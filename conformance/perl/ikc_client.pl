#!/usr/bin/perl
# A real POE::Component::IKC::Client that runs one scenario against a
# kernel (ours, in the tests) and prints what it saw as JSON lines on
# stdout: {"ev":NAME, ...}. It ends with {"ev":"done"} when every expected
# answer arrived, or {"ev":"timeout","missing":[...]}.
#
#   ikc_client.pl --connect tcp:127.0.0.1:6603|unix:/path --server NAME
#                 [--protocol IKC0|IKC] [--serializer Storable ...] [--name N]
#                 [--scenario full|echo] [--ascii] [--ack N]
#
# The server is expected to publish svc/echo (returns ARG0), svc/record
# (post), svc/ack_sender (posts `ack` with its args back to SENDER),
# svc/fail (dies) and svc/noreturn (returns undef). The scenario posts
# ack_sender N directly and ("proxy", N+4) through the proxy: --ack N, 5 by
# default, tells several clients' post-backs apart.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Getopt::Long;
use JSON::PP ();
use POE qw(Session);
use POE::Component::IKC::Client;
use POE::Component::IKC::Responder;
use describe;

my %o = (protocol => 'IKC0', name => "PerlClient$$", scenario => 'full', timeout => 20, ack => 5);
my @ser;
GetOptions(
    'connect=s' => \$o{connect}, 'server=s' => \$o{server}, 'protocol=s' => \$o{protocol},
    'serializer=s' => \@ser, 'name=s' => \$o{name}, 'scenario=s' => \$o{scenario},
    'timeout=i' => \$o{timeout}, 'ascii' => \$o{ascii}, 'ack=i' => \$o{ack},
) or die "bad options\n";
die "--connect and --server are required\n" unless $o{connect} and $o{server};
$| = 1;
my $json = JSON::PP->new->canonical->allow_nonref;
sub emit { my %e = @_; print $json->encode(\%e), "\n" }

my $S = $o{server};
# The nested structure the echo round trip must bring back unchanged.
my $shared = [ 'shared', 1 ];
my $nested = {
    ascii => 'hello', utf8 => "caf\x{e9} \x{263a}", latin1 => "caf\xe9", binary => "\x00\x01\xff\r\n",
    int => 42, neg => -100000, big => 2**40, edge => 2147483648, float => 3.14159, str_num => '007',
    undef => undef, empty => '', list => [ 1, [ 2, [3] ], {} ], blessed => bless({ a => 1 }, 'My::Class'),
    sref => \'scalar', rref => \\'deep', a1 => $shared, a2 => $shared, "k\x{263a}" => 'utf8 key',
    long => 'x' x 70000,
};
utf8::upgrade(my $cle = "cl\xe9");
$nested->{$cle} = 'upgraded key';

if ($o{ascii}) {
    # FreezeThaw counts characters and kills the thawing Perl peer on
    # character strings (captures/g2b): leave them out for it.
    delete @$nested{ 'utf8', "k\x{263a}", $cle };
}

my %expect = map { $_ => 1 } $o{scenario} eq 'echo'
    ? qw(echo_reply)
    : qw(echo_reply pong list_reply ack ack_proxy subscribed err_check_state err_check_session err_invocation);

POE::Component::IKC::Responder->spawn;
POE::Session->create(
    inline_states => {
        _start => sub {
            my ($kernel) = $_[KERNEL];
            $kernel->alias_set('client');
            $kernel->call(IKC => publish => client => [qw(ack)]);
            $kernel->post(IKC => monitor => '*' => {
                register => 'mon_register', unregister => 'mon_unregister',
                channel => 'mon_channel', error => 'mon_error',
            });
            my %c = (name => $o{name}, protocol => $o{protocol}, on_connect => sub { $poe_kernel->post(client => 'go') });
            $c{serializers} = [@ser] if @ser;
            if ($o{connect} =~ /^unix:(.+)$/) {
                $c{unix} = $1;
            } elsif ($o{connect} =~ /^tcp:(.+):(\d+)$/) {
                @c{qw(ip port)} = ($1, $2);
            } else {
                die "bad --connect $o{connect}\n";
            }
            POE::Component::IKC::Client->spawn(%c);
            $kernel->delay(timeout => $o{timeout});
        },
        go => sub {
            my ($kernel) = $_[KERNEL];
            emit(ev => 'connected');
            $kernel->post(IKC => call => "poe://$S/svc/echo" => $nested, 'poe:echo_reply');
            return if $o{scenario} eq 'echo';
            $kernel->post(IKC => post => "poe://$S/svc/record" => 'hello');
            $kernel->post(IKC => call => "poe://$S/IKC/ping" => 'PING', 'poe:/client/pong');
            $kernel->post(IKC => post => "poe://$S/svc/nope" => 1);
            $kernel->post(IKC => post => "poe://$S/nosuch/x" => 1);
            $kernel->post(IKC => call => "poe://$S/svc/fail" => 'why', 'poe:fail_reply');
            $kernel->post(IKC => call => "poe://$S/svc/echo" => [ 1, 2, 3 ], 'poe:list_reply');
            $kernel->post(IKC => post => "poe://$S/svc/ack_sender" => $o{ack});
            $kernel->post(IKC => subscribe => ["poe://$S/svc"], 'subscribed');
        },
        echo_reply => sub {
            my $got = $_[ARG0];
            # What a Perl server's echo gives: the data frozen and thawed
            # twice with the freezer in use (Storable sends 2**40 and 3.14
            # as strings, so not even Perl gets the original back).
            my $fz = $ser[0] || 'Storable';
            (my $file = "$fz.pm") =~ s{::}{/}g;
            require $file;
            my $freeze = $fz->can('nfreeze') || $fz->can('freeze');
            my $thaw1 = $fz->can('thaw');
            my $thaw = sub { my @r = $thaw1->(@_); $r[0] };  # FreezeThaw thaws a list
            my $twice = $thaw->($freeze->($thaw->($freeze->($nested))));
            my ($want, $have) = (describe::describe($twice), describe::describe($got));
            emit(ev => 'echo_reply', same => ($want eq $have ? 1 : 0), ($want eq $have ? () : (want => $want, got => $have)));
            done('echo_reply');
        },
        list_reply => sub { emit(ev => 'list_reply', got => describe::describe($_[ARG0])); done('list_reply') },
        fail_reply => sub { emit(ev => 'fail_reply_unexpected', got => describe::describe($_[ARG0])) },
        pong => sub { emit(ev => 'pong', got => $_[ARG0]); done('pong') },
        ack => sub {
            my @args = @_[ARG0 .. $#_];
            my $which = (@args && defined $args[0] && $args[0] eq 'proxy') ? 'ack_proxy' : 'ack';
            emit(ev => $which, args => [ map { defined $_ ? "$_" : undef } @args ]);
            done($which);
        },
        subscribed => sub {
            my ($kernel, $ok) = @_[KERNEL, ARG0];
            emit(ev => 'subscribed', ok => $ok);
            done('subscribed');
            # Through the proxy session: IKC:proxy requests.
            $kernel->post("poe://$S/svc" => record => 'via', 'proxy', 3);
            $kernel->post("poe://$S/svc" => ack_sender => 'proxy', $o{ack} + 4);
        },
        mon_register   => sub { emit(ev => 'monitor', what => 'register', name => $_[ARG1], is_id => $_[ARG2] ? 1 : 0, pid => $_[ARG4]) },
        mon_unregister => sub { emit(ev => 'monitor', what => 'unregister', name => $_[ARG1]) },
        mon_channel    => sub { emit(ev => 'monitor', what => 'channel', name => $_[ARG1], state => $_[ARG4]) },
        mon_error      => sub {
            my ($op, $msg) = @_[ARG4, ARG5];
            emit(ev => 'monitor', what => 'error', name => $_[ARG1], op => $op, msg => (ref $msg ? "$msg" : $msg));
            return unless defined $msg and $op =~ /^remote-/;
            done('err_check_state')   if $msg =~ /has not published state 'nope'/;
            done('err_check_session') if $msg =~ /Session 'nosuch' is not available/;
            done('err_invocation')    if $op eq 'remote-invocation' and $msg =~ /Request poe:\/\/\Q$S\E\/svc\/fail/;
        },
        bye => sub { $_[KERNEL]->post(IKC => 'shutdown') },
        timeout => sub {
            emit(ev => 'timeout', missing => [ sort keys %expect ]);
            $_[KERNEL]->post(IKC => 'shutdown');
        },
    },
);

sub done {
    my ($what) = @_;
    delete $expect{$what};
    return if %expect;
    emit(ev => 'done');
    $poe_kernel->delay('timeout');
    $poe_kernel->post(client => 'bye');
}

$poe_kernel->run;
emit(ev => 'exit');
exit 0;
