package ikcgate::JSON;
use strict;
use warnings;

use JSON::PP ();

our $VERSION = '1.00';

# JSON::PP is core Perl and what ikcgate was checked against; JSON::XS
# (->utf8->canonical->allow_nonref) writes the same bytes for IKC messages
# and may be put here by a program that wants speed, before first use.
our $CODER;

# freeze($ref) / thaw($bytes) are plain functions, as POE::Filter::Reference
# calls them; they also work as class methods.
sub freeze {
    shift if @_ == 2 && !ref $_[0] && $_[0] eq __PACKAGE__;
    $CODER ||= JSON::PP->new->utf8->canonical->allow_nonref;
    return $CODER->encode($_[0]);
}

sub thaw {
    shift if @_ == 2 && !ref $_[0] && $_[0] eq __PACKAGE__;
    $CODER ||= JSON::PP->new->utf8->canonical->allow_nonref;
    return $CODER->decode($_[0]);
}

1;

__END__

=head1 NAME

ikcgate::JSON - JSON freezer for POE::Component::IKC, understood by ikcgate

=head1 SYNOPSIS

    POE::Component::IKC::Client->spawn(
        ip => 'gateway.example', port => 603, name => 'MyClient',
        serializers => ['ikcgate::JSON', 'Storable'],
    );

=head1 DESCRIPTION

A freezer package (C<freeze> and C<thaw> functions, as POE::Filter::Reference
calls them) over JSON::PP C<< ->utf8->canonical->allow_nonref >>: UTF-8 JSON,
compact, keys sorted, so a message is byte-stable. The name C<ikcgate::JSON>
is what the kernels negotiate and what the Go gateway (perlcompat/json)
expects by default.

JSON carries less than Perl has, and IKC messages must fit it:

=over

=item * Blessed objects cannot be frozen: C<freeze> dies (JSON::PP without
C<allow_blessed>/C<convert_blessed>), and so does the sending kernel. The one
exception is JSON::PP's own booleans.

=item * References to scalars die too, except C<\1> and C<\0>, which are
JSON C<true> and C<false>; these thaw as JSON::PP::Boolean objects.

=item * Shared references are written out twice and thaw as copies; a cycle
dies (nesting beyond 512).

=item * Strings thaw as characters: a byte string with bytes 0x80-0xFF is
sent as those Latin-1 characters and comes back UTF-8-flagged. Non-ASCII
strings thaw with the UTF8 flag, ASCII ones without.

=item * A number that was ever used as a string may travel as a string, and
a string that looks like a number may travel as a number (JSON::PP guesses
from the value, not the flags). Integers of more than 20 characters thaw as
strings; other numbers thaw as integers when they have no C<.> and are whole,
else as floats.

=back

=head1 INSTALLATION

Copy F<lib/ikcgate/JSON.pm> into C<@INC> as F<ikcgate/JSON.pm>, or set
C<PERL5LIB=/path/to/ikcgate/perlcompat/perl/lib>. JSON::PP is core Perl.

=head1 USE WITH IKC

Offer it with C<< serializers => ['ikcgate::JSON', 'Storable'] >> on
IKC::Client (C<serialiser> on ClientLite). An IKC server accepts any freezer
POE::Filter::Reference can load, so a Perl server needs this file in
C<@INC> and nothing else. POE::Filter::Reference finds C<freeze>/C<thaw> with
C<can> and calls them as functions with one argument.

=cut
