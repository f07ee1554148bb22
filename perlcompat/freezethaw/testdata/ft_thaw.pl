# Go -> Perl: read hex frames (one per line) from STDIN, thaw each with
# FreezeThaw::thaw as POE::Filter::Reference does, print "ok <TAB> describe"
# or "err <TAB> message".
use strict;
use warnings;
use FreezeThaw ();
use FindBin;
require "$FindBin::Bin/../../internal/freezertest/describe.pl";
while (my $line = <STDIN>) {
    chomp $line;
    my $frame = pack('H*', $line);
    my @r = eval { FreezeThaw::thaw($frame) };
    if (my $err = $@) { $err =~ s/\s+/ /g; print "err\t$err\n"; next }
    print "ok\t", (@r == 1 ? describe($r[0]) : 'count=' . scalar(@r)), "\n";
}
