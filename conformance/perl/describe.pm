package describe;
# Describe a Perl value in the conformance notation shared with
# conformance/describe.go. Both sides must produce byte-identical text for
# the same Perl data; see the Go file for the grammar. Summary:
#
#   one node per line, indented one space per level;
#   undef                       undef (also PL_sv_undef)
#   str "<bytes>"               scalar with a string value (POK), UTF8 flag off
#   utf8 "<bytes>"              scalar with a string value, UTF8 flag on
#                               (<bytes> = Perl's internal UTF-8 bytes)
#   int <decimal>               no string value, IOK (IV)
#   uint <decimal>              no string value, IOK with IVisUV (UV > IV_MAX)
#   num <16 hex>                no string value, no IOK, NOK: IEEE 754 bits, big-endian
#   ref #<id> [bless "<class>" ]ARRAY <n>    then the n elements one level deeper
#   ref #<id> [bless "<class>" ]HASH <n>     then per key (sorted by characters):
#                               key str|utf8 "<bytes>" one level deeper,
#                               its value two levels deeper
#   ref #<id> [bless "<class>" ]SCALAR       then the referenced scalar one level deeper
#   ref #<id> [bless "<class>" ]REF          then the referenced reference one level deeper
#   ref @<id>                   a referent already described (shared ref, cycle)
#
#   a string longer than 64 bytes: str|utf8 ~<len> md5:<hex> "<first 16 bytes>"...
#
# Ids number referents (arrays, hashes, referenced scalars) in the order
# they are first met, depth first, starting at 0. Perl's immortals
# (PL_sv_undef/yes/no, which every "\undef" shares) have no identity a Go
# value can mirror: a ref to one gets a fresh id each time. Bytes inside
# quotes are printable ASCII except '"' and '\', everything else is \xNN.
# Immortal booleans show as what they are first: a string ("1" or "").
use strict;
use warnings;
use B ();
use Digest::MD5 ();
use Scalar::Util qw(blessed reftype refaddr);

my $POK  = B::SVf_POK();
my $IOK  = B::SVf_IOK();
my $NOK  = B::SVf_NOK();
my $ISUV = B::SVf_IVisUV();

sub esc {
    my ($s) = @_;
    $s =~ s/([^\x20\x21\x23-\x5b\x5d-\x7e])/sprintf("\\x%02x", ord $1)/ge;
    return qq("$s");
}

sub strnode {
    my ($s) = @_;    # a copy
    my $kind = 'str ';
    if (utf8::is_utf8($s)) {
        utf8::encode($s);
        $kind = 'utf8 ';
    }
    return $kind . _body($s);
}

# Strings up to 64 bytes are written out; longer ones as their length, MD5
# and first 16 bytes, which keeps big payloads' descriptions small.
sub _body {
    my ($s) = @_;
    return esc($s) if length($s) <= 64;
    return sprintf('~%d md5:%s %s...', length($s), Digest::MD5::md5_hex($s), esc(substr($s, 0, 16)));
}

# describe(VALUE) -> string. VALUE is described as a slot holding it, so a
# thawed structure (a reference) is passed as is.
sub describe {
    my $st = { next => 0, seen => {}, out => [] };
    _slot($st, \$_[0], 0);
    return join("\n", @{ $st->{out} }) . "\n";
}

# _slot(st, REF-TO-SLOT, depth): the slot's SV is ${$ref}; we look at its
# flags without copying it first.
sub _slot {
    my ($st, $sref, $d) = @_;
    my $pad = ' ' x $d;
    my $b = B::svref_2object($sref);
    if ($b->isa('B::SPECIAL')) {
        my $v = $$sref;
        if (!defined $v) { push @{ $st->{out} }, $pad . 'undef'; return }
        push @{ $st->{out} }, $pad . strnode($v ? '1' : '');
        return;
    }
    if (ref $$sref) {
        _ref($st, $$sref, $d);
        return;
    }
    my $v = $$sref;
    if (!defined $v) { push @{ $st->{out} }, $pad . 'undef'; return }
    my $f = $b->FLAGS;
    if ($f & $POK) {
        push @{ $st->{out} }, $pad . strnode($v);
    } elsif ($f & $IOK) {
        if ($f & $ISUV) {
            push @{ $st->{out} }, $pad . 'uint ' . sprintf('%s', $v + 0);
        } else {
            push @{ $st->{out} }, $pad . 'int ' . sprintf('%d', $v);
        }
    } elsif ($f & $NOK) {
        push @{ $st->{out} }, $pad . 'num ' . unpack('H16', pack('d>', $v));
    } else {
        # Defined but none of POK/IOK/NOK public: take the private flags as
        # Storable would see them (it would not store such a thing).
        push @{ $st->{out} }, $pad . 'strange ' . esc("$v");
    }
}

sub _ref {
    my ($st, $r, $d) = @_;
    my $pad = ' ' x $d;
    my $type = reftype($r);
    my $target_special = 0;
    if ($type eq 'SCALAR' || $type eq 'REF') {
        $target_special = B::svref_2object($r)->isa('B::SPECIAL');
    }
    my $addr = refaddr($r);
    if (!$target_special && exists $st->{seen}{$addr}) {
        push @{ $st->{out} }, $pad . 'ref @' . $st->{seen}{$addr};
        return;
    }
    my $id = $st->{next}++;
    $st->{seen}{$addr} = $id unless $target_special;
    my $head = $pad . 'ref #' . $id . ' ';
    my $class = blessed($r);
    $head .= 'bless ' . esc(_bytes($class)) . ' ' if defined $class;
    if ($type eq 'ARRAY') {
        push @{ $st->{out} }, $head . 'ARRAY ' . scalar(@$r);
        for my $i (0 .. $#$r) {
            _slot($st, \$r->[$i], $d + 1);
        }
    } elsif ($type eq 'HASH') {
        my @keys = sort keys %$r;
        push @{ $st->{out} }, $head . 'HASH ' . scalar(@keys);
        for my $k (@keys) {
            push @{ $st->{out} }, $pad . ' key ' . strnode($k);
            _slot($st, \$r->{$k}, $d + 2);
        }
    } elsif ($type eq 'SCALAR' || $type eq 'REF') {
        push @{ $st->{out} }, $head . $type;
        _slot($st, $r, $d + 1);
    } else {
        push @{ $st->{out} }, $head . $type;
    }
}

sub _bytes { my ($s) = @_; utf8::encode($s) if utf8::is_utf8($s); $s }

# JSON string for ASCII-safe text (our hex and descriptions): escapes " \ and
# control characters.
sub json_str {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/([\x00-\x1f\x7f-\xff])/sprintf("\\u%04x", ord $1)/ge;
    return qq("$s");
}

# Parse one flat JSON object of string/integer/bool/null members, as
# written by the Go tests (encoding/json, no nesting). Returns a hash ref.
# Scans token by token: a single regex over a multi-megabyte string would
# hit Perl's regex recursion limit.
sub parse_flat_json {
    my ($line) = @_;
    my %o;
    pos($line) = 0;
    $line =~ /\G\s*\{/gc or die "not a JSON object: " . substr($line, 0, 80) . "\n";
    while (1) {
        $line =~ /\G[\s,]*/gc;
        last if $line =~ /\G\}/gc;
        my $k = _json_string(\$line);
        $line =~ /\G\s*:\s*/gc or die "JSON: expected ':' at " . pos($line) . "\n";
        my $v;
        if ($line =~ /\G(?=")/gc) { $v = _json_string(\$line) }
        elsif ($line =~ /\G(-?\d+)/gc) { $v = $1 }
        elsif ($line =~ /\G(true|false)/gc) { $v = $1 eq 'true' ? 1 : 0 }
        elsif ($line =~ /\Gnull/gc) { $v = undef }
        else { die "JSON: unsupported value at " . pos($line) . "\n" }
        $o{$k} = $v;
    }
    return \%o;
}

my %JSON_ESC = (n => "\n", t => "\t", r => "\r", b => "\b", f => "\f", '"' => '"', '\\' => '\\', '/' => '/');

sub _json_string {
    my ($ref) = @_;
    $$ref =~ /\G"/gc or die "JSON: expected a string at " . pos($$ref) . "\n";
    my $out = '';
    while (1) {
        if ($$ref =~ /\G([^"\\]+)/gc) { $out .= $1; next }
        if ($$ref =~ /\G"/gc) { return $out }
        if ($$ref =~ /\G\\u([0-9a-fA-F]{4})/gc) { $out .= chr(hex $1); next }
        if ($$ref =~ /\G\\(.)/gcs) {
            exists $JSON_ESC{$1} or die "JSON: bad escape \\$1\n";
            $out .= $JSON_ESC{$1};
            next;
        }
        die "JSON: unterminated string\n";
    }
}

1;
