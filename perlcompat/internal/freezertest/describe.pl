# Test helper for ikcgate: describe a Perl value in a canonical text that
# the Go tests compute too. Strings: b:<hex bytes> (no UTF8 flag),
# c:<hex UTF-8> (UTF8 flag), or s:<hex UTF-8 of the characters> in loose
# mode; integers i:<dec>; floats n:<hex of IEEE bits>; undef u. References
# get #<id> the first time they are met and *<id> after (ids in walk
# order), then A[...] / H{key=value ...} (keys as hex UTF-8 of their
# characters, sorted) / R(...), with /<hex class> after the letter when
# blessed.
use strict;
use warnings;
use B ();
use Scalar::Util qw(blessed reftype refaddr);

sub _hexchars { my $s = shift; utf8::upgrade($s); utf8::encode($s); return unpack("H*", $s) }

sub describe {
    my ($loose) = $_[1];
    my %ids;
    my $walk;
    $walk = sub {
        if (!ref $_[0]) {
            return 'u' unless defined $_[0];
            my $f = B::svref_2object(\$_[0])->FLAGS;
            if ($loose) { return 's:' . _hexchars("$_[0]") }
            if ($f & B::SVf_POK) {
                return utf8::is_utf8($_[0]) ? 'c:' . _hexchars($_[0]) : 'b:' . unpack('H*', $_[0]);
            }
            if ($f & B::SVf_IOK) {
                return 'i:' . (($f & B::SVf_IVisUV) ? sprintf('%u', $_[0]) : sprintf('%d', $_[0]));
            }
            if ($f & B::SVf_NOK) { return 'n:' . unpack('H*', pack('d>', $_[0])) }
            return 'x:scalar';
        }
        my $r = $_[0];
        my $addr = refaddr($r);
        return "*$ids{$addr}" if exists $ids{$addr};
        my $id = $ids{$addr} = scalar keys %ids;
        my $cls = defined(blessed($r)) ? '/' . unpack('H*', blessed($r)) : '';
        my $t = reftype($r);
        if ($t eq 'ARRAY') {
            return "#$id" . "A$cls\[" . join(' ', map { $walk->($_) } @$r) . ']';
        } elsif ($t eq 'HASH') {
            my @k = sort keys %$r;
            return "#$id" . "H$cls\{" . join(' ', map { _hexchars($_) . '=' . $walk->($r->{$_}) } @k) . '}';
        } elsif ($t eq 'SCALAR' or $t eq 'REF') {
            return "#$id" . "R$cls(" . $walk->($$r) . ')';
        }
        return "#$id" . "x:$t";
    };
    return $walk->($_[0]);
}

# Random Perl data for the Perl-to-Go tests: every kind of scalar, blessed
# containers, scalar refs, shared references and cycles.
our @POOL;
sub rand_string {
    my $k = int rand 7;
    my $len = int rand 12;
    return join '', map { chr(32 + int rand 95) } 1 .. $len if $k <= 1;
    return join '', map { chr(int rand 256) } 1 .. $len if $k == 2;
    return join '', map { ("'", "\\", '"', '$', '@', "\n", "\0", '{', '}', '|', '%', '_', '<') [int rand 13] } 1 .. $len if $k == 3;
    return "caf\x{e9}" . join('', map { chr(0x100 + int rand 0x2000) } 1 .. $len % 3) if $k == 4;
    if ($k == 5) { my $s = "\x{263a}x\x{1F600}"; return $s }
    my $s = "\x{e9}t\x{e9}"; utf8::upgrade($s); return $s;
}
sub rand_scalar {
    my $k = int rand 9;
    return undef if $k == 0;
    return int(rand(2000)) - 1000 if $k == 1;
    return (1 << 40) * (rand() < .5 ? -1 : 1) + int rand 9 if $k == 2;
    return 18446744073709551615 if $k == 3 and rand() < .3;
    return 2147483647 + int rand 3 if $k == 3;
    return (rand() - .5) * 10 ** (int(rand 40) - 20) if $k == 4;
    return "" . int rand 100 if $k == 5;
    return rand_string();
}
sub rand_value {
    my ($depth, $utf8ok) = @_;
    my $k = int rand 12;
    if ($depth > 4 or $k < 4) {
        my $s = rand_scalar();
        $s = "x" . _hexchars($s) if defined $s and !$utf8ok and utf8::is_utf8($s);
        return $s;
    }
    if ($k == 4 and @POOL) { return $POOL[int rand @POOL] }
    my $v;
    if ($k <= 6) { $v = [ map { rand_value($depth + 1, $utf8ok) } 1 .. int rand 4 ] }
    elsif ($k <= 8) {
        $v = {};
        for (1 .. int rand 4) {
            my $key = rand_string();
            $key = "k" . _hexchars($key) if !$utf8ok and utf8::is_utf8($key);
            $v->{$key} = rand_value($depth + 1, $utf8ok);
        }
    }
    elsif ($k == 9) { my $t = rand_value($depth + 1, $utf8ok); $v = \$t }
    elsif ($k == 10) { $v = [ map { rand_value($depth + 1, $utf8ok) } 1 .. 2 ]; push @$v, $v if rand() < .3 }
    else { my $t = rand_value($depth + 1, $utf8ok); $v = { self => undef, t => $t }; $v->{self} = $v if rand() < .4 }
    if (rand() < .25) { bless $v, ('IKC::Obj', 'My::Class', 'A::B::C')[int rand 3] }
    push @POOL, $v if rand() < .3;
    return $v;
}
1;
