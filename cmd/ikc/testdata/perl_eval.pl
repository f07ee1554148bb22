#!/usr/bin/perl
# Reads one Perl literal per line on stdin (as ikc -perl prints them),
# evaluates it as `my $VAR1 = <literal>` and prints the result on one line
# in ikc's JSON notation, from Perl's own flags: POK is a string (bytes
# with a byte >= 0x80 and no UTF8 flag as {"$bytes"}), IOK an integer, NOK
# a number (always with "." or an exponent). A literal that fails to
# evaluate prints {"error": "..."}. Core Perl only.
use strict;
use warnings;
use B ();
use JSON::PP ();
use Scalar::Util qw(blessed reftype);

my $json = JSON::PP->new->utf8->allow_nonref->canonical;
$| = 1;

sub str {
    my ($s) = @_;
    if (!utf8::is_utf8($s) && $s =~ /[\x80-\xff]/) {
        return '{"$bytes":"' . unpack('H*', $s) . '"}';
    }
    return $json->encode("$s");
}

sub key {
    my ($k) = @_;
    if (!utf8::is_utf8($k) && $k =~ /[\x80-\xff]/) {
        return $json->encode('$bytes:' . unpack('H*', $k));
    }
    $k = '$' . $k if $k =~ /^\$/;
    return $json->encode("$k");
}

# enc(REF-TO-SLOT)
sub enc {
    my ($sref) = @_;
    my $v = $$sref;
    return 'null' unless defined $v;
    if (ref $v) {
        my $t = reftype($v);
        my $out;
        if ($t eq 'ARRAY') {
            $out = '[' . join(',', map { enc(\$v->[$_]) } 0 .. $#$v) . ']';
        } elsif ($t eq 'HASH') {
            my %k = map { (key($_) => $_) } keys %$v;
            $out = '{' . join(',', map { "$_:" . enc(\$v->{ $k{$_} }) } sort keys %k) . '}';
        } elsif ($t eq 'SCALAR' || $t eq 'REF') {
            $out = '{"$ref":' . enc($v) . '}';
        } else {
            die "unsupported reftype $t\n";
        }
        my $class = blessed($v);
        return defined $class ? '{"$blessed":' . $json->encode($class) . ',"$value":' . $out . '}' : $out;
    }
    my $f = B::svref_2object($sref)->FLAGS;
    return str($v) if $f & B::SVf_POK;
    if ($f & B::SVf_IOK) {
        return ($f & B::SVf_IVisUV) ? sprintf('%u', $v) : sprintf('%d', $v);
    }
    if ($f & B::SVf_NOK) {
        my $s = sprintf('%.17g', $v);
        return $json->encode("$s") if $s =~ /inf|nan/i;
        $s .= '.0' unless $s =~ /[.e]/;
        return $s;
    }
    return str($v);
}

while (my $line = <STDIN>) {
    chomp $line;
    my $VAR1;
    my $ok = eval "\$VAR1 = $line; 1";
    if (!$ok) {
        my $e = $@; $e =~ s/\s+$//;
        print $json->encode({ error => $e }), "\n";
        next;
    }
    print enc(\$VAR1), "\n";
}
