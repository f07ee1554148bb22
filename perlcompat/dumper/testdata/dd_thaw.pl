# Go -> Perl: read hex texts (one per line) from STDIN, eval each in
# package POE::Component::IKC::Freezer as its thaw does (our own code),
# print "ok <TAB> describe" or "err <TAB> message".
use strict;
use warnings;
use FindBin;
require "$FindBin::Bin/../../internal/freezertest/describe.pl";

package POE::Component::IKC::Freezer;
sub test_thaw { local our $VAR1; eval $_[0]; die $@ if $@; return $VAR1 }

package main;
while (my $line = <STDIN>) {
    chomp $line;
    my $v = eval { POE::Component::IKC::Freezer::test_thaw(pack('H*', $line)) };
    if (my $err = $@) { $err =~ s/\s+/ /g; print "err\t$err\n"; next }
    print "ok\t", describe($v), "\n";
}
