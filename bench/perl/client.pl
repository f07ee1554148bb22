#!/usr/bin/perl
# bench/perl/client.pl: one Perl IKC client process of scripts/bench. It
# drives a server (a real Perl IKC::Server or ikcgate) and prints one JSON
# line: {"ops":N,"secs":S,"p50":US,"p99":US} (latencies in microseconds).
#
#   client.pl --port N --server NAME --mode MODE [options]
#
# Modes:
#   post     IKC::Client posts --n messages to demo/count (1 each), then
#            calls demo/total until it has counted them all
#   call     IKC::Client calls demo/echo, --depth calls in flight (1:
#            sequential), --n calls or for --dur seconds
#   lite     ClientLite calls demo/echo sequentially, --n or --dur
#   respond  ClientLite post_respond to demo/respond sequentially, --n or
#            --dur (a post, and the server's post back to its rsvp)
#   connect  ClientLite connects, negotiates and disconnects --n times
# Options: --protocol IKC0|IKC, --size BYTES (the echo argument; default a
# 10-byte string), --start EPOCH (wait for that time once connected, so
# that many processes start together), --lat FILE (write every latency, in
# microseconds, one per line), --timeout SECONDS (give up).
use strict;
use warnings;
use Getopt::Long;
use Time::HiRes qw(time sleep);
no warnings 'once';
$SIG{__WARN__} = sub { warn @_ unless $_[0] =~ /deprecated/ };

my %o = (mode => 'call', n => 1000, depth => 1, dur => 0, protocol => 'IKC0', size => 0,
    start => 0, timeout => 120, name => "PerlBench$$");
GetOptions(map { ("$_=s" => \$o{$_}) } qw(port server mode n depth dur protocol size start lat timeout name))
    or die "bad options\n";
die "--port and --server are required\n" unless $o{port} && $o{server};
$| = 1;
my $S = $o{server};
my $arg = $o{size} ? ('x' x $o{size}) : 'hello, ikc';
my @lat;

my $reported;
sub report {
    my ($ops, $secs) = @_;
    return if $reported++;
    my @s = sort { $a <=> $b } @lat;
    my $pct = sub { @s ? $s[ int($_[0] * $#s + 0.5) ] : 0 };
    if ($o{lat} && @s) {
        open my $fh, '>', $o{lat} or die "$o{lat}: $!\n";
        print $fh join("\n", map { int($_) } @lat), "\n";
        close $fh;
    }
    printf qq({"ops":%d,"secs":%.6f,"p50":%.1f,"p99":%.1f}\n), $ops, $secs, $pct->(0.50), $pct->(0.99);
}

sub wait_start { my $d = $o{start} - time; sleep $d if $d > 0 }

if ($o{mode} eq 'lite' || $o{mode} eq 'respond' || $o{mode} eq 'connect') {
    require POE::Component::IKC::ClientLite;
    my %c = (port => $o{port}, ip => '127.0.0.1', name => $o{name}, protocol => $o{protocol}, timeout => $o{timeout});
    if ($o{mode} eq 'connect') {
        wait_start();
        my $t0 = time;
        for my $i (1 .. $o{n}) {
            my $c = POE::Component::IKC::ClientLite::create_ikc_client(%c, name => "$o{name}x$i")
                or die "connect: $POE::Component::IKC::ClientLite::error\n";
            $c->disconnect;
        }
        report($o{n}, time - $t0);
        exit 0;
    }
    my $c = POE::Component::IKC::ClientLite::create_ikc_client(%c)
        or die "connect: $POE::Component::IKC::ClientLite::error\n";
    wait_start();
    my $t0 = time;
    my $end = $o{dur} ? $t0 + $o{dur} : 0;
    my $n = 0;
    while ($end ? time < $end : $n < $o{n}) {
        my $t = time;
        my $r = $o{mode} eq 'respond'
            ? $c->post_respond("poe://$S/demo/respond", $arg)
            : $c->call("poe://$S/demo/echo", $arg);
        die "$o{mode}: " . ($c->error // 'no reply') . "\n" unless defined $r && $r eq $arg;
        push @lat, (time - $t) * 1e6;
        $n++;
    }
    report($n, time - $t0);
    $c->disconnect;
    exit 0;
}

require POE;
POE->import(qw(Session));
require POE::Component::IKC::Client;
require POE::Component::IKC::Responder;
POE::Component::IKC::Responder->spawn;
my ($t0, $end, $sent, $done) = (0, 0, 0, 0);
my %sent_at;
POE::Session->create(
    inline_states => {
        _start => sub {
            my $kernel = $_[POE::Session::KERNEL()];
            $kernel->alias_set('bench');
            POE::Component::IKC::Client->spawn(ip => '127.0.0.1', port => $o{port}, name => $o{name},
                protocol => $o{protocol}, on_connect => sub { $POE::Kernel::poe_kernel->post(bench => 'go') });
            $kernel->delay(timeout => $o{timeout});
        },
        go => sub {
            # The counter of demo/count may not start at zero: read it first.
            $POE::Kernel::poe_kernel->post(IKC => call => "poe://$S/demo/total" => undef, 'poe:/bench/base');
        },
        base => sub {
            my $kernel = $_[POE::Session::KERNEL()];
            $_[POE::Session::HEAP()]{base} = $_[POE::Session::ARG0()] || 0;
            wait_start();
            $t0 = time;
            $end = $o{dur} ? $t0 + $o{dur} : 0;
            if ($o{mode} eq 'post') {
                $kernel->yield('post_more');
            } else {
                $kernel->yield('call_one') for 1 .. $o{depth};
            }
        },
        post_more => sub {
            my $kernel = $_[POE::Session::KERNEL()];
            for (1 .. 200) {
                last if $sent >= $o{n};
                $kernel->post(IKC => post => "poe://$S/demo/count" => 1);
                $sent++;
            }
            if ($sent < $o{n}) { $kernel->yield('post_more') }
            else { $kernel->post(IKC => call => "poe://$S/demo/total" => undef, 'poe:/bench/total') }
        },
        total => sub {
            my ($kernel, $got) = @_[POE::Session::KERNEL(), POE::Session::ARG0()];
            if (defined $got && $got >= $_[POE::Session::HEAP()]{base} + $o{n}) {
                report($o{n}, time - $t0);
                $kernel->yield('bye');
            } else {
                $kernel->post(IKC => call => "poe://$S/demo/total" => undef, 'poe:/bench/total');
            }
        },
        call_one => sub {
            my $kernel = $_[POE::Session::KERNEL()];
            if ($end ? time >= $end : $sent >= $o{n}) {
                if ($done == $sent) {    # the last reply came before the end
                    report($done, time - $t0);
                    $kernel->yield('bye');
                }
                return;
            }
            my $id = ++$sent;
            $sent_at{$id} = time;
            $kernel->post(IKC => call => "poe://$S/demo/echo" => $arg, "poe:/bench/reply");
            push @{ $_[POE::Session::HEAP()]{order} }, $id;
        },
        reply => sub {
            my ($kernel, $heap) = @_[POE::Session::KERNEL(), POE::Session::HEAP()];
            my $id = shift @{ $heap->{order} };    # replies come back in order on one channel
            push @lat, (time - delete $sent_at{$id}) * 1e6;
            $done++;
            if ($done == $sent && ($end ? time >= $end : $sent >= $o{n})) {
                report($done, time - $t0);
                $kernel->yield('bye');
                return;
            }
            $kernel->yield('call_one');
        },
        bye => sub {
            $_[POE::Session::KERNEL()]->delay('timeout');
            $_[POE::Session::KERNEL()]->post(IKC => 'shutdown');
        },
        timeout => sub {
            print STDERR "client.pl: timeout after $o{timeout}s ($done of $sent done)\n";
            $_[POE::Session::KERNEL()]->post(IKC => 'shutdown');
            exit 1;
        },
    },
);
POE::Kernel->run;
exit 0;
