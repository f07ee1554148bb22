# Perl -> Go: dump random structures the way POE::Component::IKC::Freezer
# does (Data::Dumper, Purity 1, Indent 0, its Varname), read each back the
# way its thaw does (string eval in that package, written here from
# scratch), and print: hex(text) <TAB> describe(thawed) <TAB> same|mangled,
# or
# hex(text) <TAB> evalfail <TAB> error when Perl cannot eval Data::Dumper's
# own text (Data::Dumper mangles fix-up paths for keys with '}' and quotes).
# Usage: perl dd_gen.pl SEED COUNT
use strict;
use warnings;
no warnings 'once';
use Data::Dumper ();
use FindBin;
require "$FindBin::Bin/../../internal/freezertest/describe.pl";

sub ikc_dump {
    local $Data::Dumper::Purity  = 1;
    local $Data::Dumper::Indent  = 0;
    local $Data::Dumper::Varname = 'POE::Component::IKC::Freezer::VAR';
    return Data::Dumper::Dumper($_[0]);
}

package POE::Component::IKC::Freezer;   # the receiving side's eval, our own
sub test_thaw { local our $VAR1; local $SIG{__WARN__} = sub {}; eval $_[0]; die $@ if $@; return $VAR1 }

package main;
my ($seed, $n) = @ARGV;
srand($seed);
for my $i (1 .. $n) {
    @main::POOL = ();
    my $v = { event => 'poe://K/s/e', params => rand_value(0, 1) };
    my $text = ikc_dump($v);
    utf8::encode($text) if utf8::is_utf8($text);   # what POE writes
    my $back = eval { POE::Component::IKC::Freezer::test_thaw($text) };
    if (my $err = $@) {
        $err =~ s/\s+/ /g;
        print unpack('H*', $text), "\tevalfail\t$err\n";
        next;
    }
    # Perl's own round trip: equal characters, numbers as strings, same
    # classes and sharing. "mangled" marks texts where Data::Dumper broke
    # the data (its fix-up paths are built by string surgery).
    my $same = describe($v, 1) eq describe($back, 1) ? 'same' : 'mangled';
    print unpack('H*', $text), "\t", describe($back), "\t$same\n";
}
