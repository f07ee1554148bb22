#!/usr/bin/perl
# A real POE::Component::IKC::Client for the soak test: for --seconds it
# calls demo/echo with a checksummed payload and posts demo/count 1, one
# of each every --interval seconds, then prints one JSON line:
# {"ev":"summary","calls":N,"replies":N,"bad":N,"posts":N} and exits.
use strict;
use warnings;
use Getopt::Long;
use JSON::PP ();
use Digest::MD5 qw(md5_hex);
use POE qw(Session);
use POE::Component::IKC::Client;
use POE::Component::IKC::Responder;

my %o = (seconds => 10, interval => 0.2, name => "Soak$$");
GetOptions('port=i' => \$o{port}, 'server=s' => \$o{server}, 'seconds=f' => \$o{seconds},
    'interval=f' => \$o{interval}, 'name=s' => \$o{name}) or die "bad options\n";
$| = 1;
my %n = (calls => 0, replies => 0, bad => 0, posts => 0);
my %pending;
my $S = $o{server};
POE::Component::IKC::Responder->spawn;
POE::Session->create(inline_states => {
    _start => sub {
        $_[KERNEL]->alias_set('soak');
        POE::Component::IKC::Client->spawn(ip => '127.0.0.1', port => $o{port}, name => $o{name},
            on_connect => sub { $poe_kernel->post(soak => 'begin') });  # runs in IKC's session
    },
    begin => sub {
        $_[KERNEL]->yield('tick');
        $_[KERNEL]->delay(stop => $o{seconds});
    },
    tick => sub {
        my $k = $_[KERNEL];
        my $seq = $n{calls}++;
        my $data = join ',', $o{name}, $seq, rand();
        $pending{$seq} = md5_hex($data);
        $k->post(IKC => call => "poe://$S/demo/echo" => { seq => $seq, data => $data, sum => md5_hex($data) }, 'poe:/soak/reply');
        $k->post(IKC => post => "poe://$S/demo/count" => 1);
        $n{posts}++;
        $k->delay(tick => $o{interval});
    },
    reply => sub {
        my $r = $_[ARG0];
        if (ref $r eq 'HASH' and defined $r->{seq} and exists $pending{$r->{seq}}
            and md5_hex($r->{data}) eq $r->{sum} and $r->{sum} eq delete $pending{$r->{seq}}) {
            $n{replies}++;
        } else {
            $n{bad}++;
        }
    },
    stop => sub {
        $_[KERNEL]->delay('tick');
        $_[KERNEL]->delay(finish => 2); # the last replies
    },
    finish => sub {
        print JSON::PP->new->canonical->encode({ ev => 'summary', %n }), "\n";
        $_[KERNEL]->post(IKC => 'shutdown');
    },
});
$poe_kernel->run;
exit 0;
