# Perl -> Go: freeze random structures with FreezeThaw::freeze, thaw them
# again with FreezeThaw::thaw from the bytes a socket would carry, and
# print one line per structure:
#   ok <TAB> hex(frame) <TAB> describe(thawed)
#   fail <TAB> hex(frame) <TAB> describe(original, loose) <TAB> error
# Usage: perl ft_gen.pl SEED COUNT
use strict;
use warnings;
use FreezeThaw ();
use FindBin;
no warnings "once";
require "$FindBin::Bin/../../internal/freezertest/describe.pl";
my ($seed, $n) = @ARGV;
srand($seed);
for my $i (1 .. $n) {
    @main::POOL = ();
    my $utf8 = $i % 5 == 0;
    my $v = { event => 'poe://K/s/e', params => rand_value(0, $utf8) };
    my $frame = FreezeThaw::freeze($v);
    utf8::encode($frame) if utf8::is_utf8($frame);   # what POE writes
    my @r = eval { FreezeThaw::thaw($frame) };
    if (my $err = $@) {
        $err =~ s/\s+/ /g;
        print join("\t", 'fail', unpack('H*', $frame), describe($v, 1), $err), "\n";
    } else {
        print join("\t", 'ok', unpack('H*', $frame), describe($r[0])), "\n";
    }
}
