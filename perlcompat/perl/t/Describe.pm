package Describe;
# Describes Perl data in the notation of perlcompat/perl/perltest
# (Describe in perltest.go has the grammar): string vs number from the
# scalar's own flags (B), the UTF8 flag, blessing, and sharing by refaddr.
# Used by the ikcgate adapter tests; never modifies the data it reads.
use strict;
use warnings;
no warnings 'experimental::builtin';
use builtin qw(is_bool blessed reftype refaddr);
use B ();

sub new { bless { ids => {}, n => 0, json_bools => $_[1] }, $_[0] }

sub hexs { my $s = shift; utf8::encode($s) if utf8::is_utf8($s); unpack 'H*', $s }

# scalar($ref_to_scalar): describe the scalar without touching its flags.
sub scalar {
    my ($self, $r) = @_;
    return undef unless defined $$r;
    return { bool => ($$r ? JSON::PP::true() : JSON::PP::false()) } if is_bool($$r);
    return $self->ref($$r) if ref $$r;
    my $f = B::svref_2object($r)->FLAGS;
    my $c = $$r;    # copies keep the flags; formatting reads the copy
    if ($f & B::SVf_POK) {
        return utf8::is_utf8($c) ? { utf8 => hexs($c) } : { str => hexs($c) };
    }
    if ($f & B::SVf_IOK) {
        return ($f & B::SVf_IVisUV) ? { uint => sprintf('%u', $c) } : { int => sprintf('%d', $c) };
    }
    if ($f & B::SVf_NOK) {
        return { num => unpack('H*', pack('d>', $c)) };
    }
    die "Describe: scalar with no value flags";
}

sub ref {
    my ($self, $v) = @_;
    if ($self->{json_bools} and blessed($v) and $v->isa('JSON::PP::Boolean')) {
        return { bool => ($$v ? JSON::PP::true() : JSON::PP::false()) };
    }
    my $addr = refaddr($v);
    return { seen => $self->{ids}{$addr} } if exists $self->{ids}{$addr};
    my $id = $self->{ids}{$addr} = $self->{n}++;
    my %d = (id => $id);
    $d{class} = blessed($v) if defined blessed($v);
    my $t = reftype($v);
    if ($t eq 'ARRAY') {
        $d{array} = [ map { $self->scalar(\$v->[$_]) } 0 .. $#$v ];
    } elsif ($t eq 'HASH') {
        $d{hash} = [ map { [ $self->key($_), $self->scalar(\$v->{$_}) ] } sort keys %$v ];
    } elsif ($t eq 'SCALAR' or $t eq 'REF') {
        $d{ref} = $self->scalar($v);
    } else {
        die "Describe: cannot describe a $t reference";
    }
    return \%d;
}

sub key {
    my ($self, $k) = @_;
    return (utf8::is_utf8($k) && $k =~ /[^\x00-\x7f]/) ? { utf8 => hexs($k) } : { str => hexs($k) };
}

# describe($value): a fresh description (ids from 0).
sub describe {
    my ($v, $json_bools) = @_;
    return Describe->new($json_bools)->scalar(\$v);
}

1;
