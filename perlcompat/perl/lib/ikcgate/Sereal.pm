package ikcgate::Sereal;
use strict;
use warnings;

use Sereal::Encoder 3.0 ();
use Sereal::Decoder 3.0 ();

our $VERSION = '1.00';

# Options are package variables so a program can adjust them before the
# first freeze/thaw (the coders are built on first use).
our %ENCODER_OPTIONS = (
    protocol_version => 3,   # read by every Sereal::Decoder since 3.0 and by ikcgate
    croak_on_bless   => 0,   # blessed data travels, as with Storable
    freeze_callbacks => 0,   # never call FREEZE: the peer would have to run THAW
    undef_unknown    => 0,   # die on CODE/GLOB refs instead of sending undef
);
our %DECODER_OPTIONS = (
    refuse_objects        => 0,          # keep blessed data (see POD: DESTROY)
    no_thaw_objects       => 1,          # never call a class's THAW for a peer
    # validate_utf8 stays off: in Sereal::Decoder 5.003 it rejects some valid
    # documents Sereal::Encoder writes (an OBJECTV after an empty UTF-8
    # string, seen in ikcgate's tests).
    max_recursion_depth   => 2048,       # default is 10000; IKC requests are shallow
    max_uncompressed_size => 64 << 20,   # bound what a compressed frame may inflate to
);

my ($encoder, $decoder);

# freeze($ref) / thaw($bytes) are plain functions, which is how
# POE::Filter::Reference calls a serializer named by package. They also work
# as class methods (ikcgate::Sereal->freeze($ref)).
sub freeze {
    shift if @_ == 2 && !ref $_[0] && $_[0] eq __PACKAGE__;
    $encoder ||= Sereal::Encoder->new({%ENCODER_OPTIONS});
    return $encoder->encode($_[0]);
}

sub thaw {
    shift if @_ == 2 && !ref $_[0] && $_[0] eq __PACKAGE__;
    $decoder ||= Sereal::Decoder->new({%DECODER_OPTIONS});
    return $decoder->decode($_[0]);
}

1;

__END__

=head1 NAME

ikcgate::Sereal - Sereal freezer for POE::Component::IKC, understood by ikcgate

=head1 SYNOPSIS

    # Client: offer Sereal first, Storable as the fallback
    use POE::Component::IKC::Client;
    POE::Component::IKC::Client->spawn(
        ip          => 'gateway.example', port => 603,
        name        => 'MyClient',
        serializers => ['ikcgate::Sereal', 'Storable'],
    );

    # Direct use
    use ikcgate::Sereal;
    my $bytes = ikcgate::Sereal::freeze({ event => 'poe://K/s/e', params => [1] });
    my $data  = ikcgate::Sereal::thaw($bytes);

=head1 DESCRIPTION

IKC serializes every message with a I<freezer>: a package with C<freeze>
(or C<nfreeze>) and C<thaw> functions that POE::Filter::Reference calls with
one argument. Sereal::Encoder and Sereal::Decoder are objects, not such
functions, so IKC cannot use them directly; this package wraps them. The
package name C<ikcgate::Sereal> is what the kernels negotiate and what the
Go gateway (perlcompat/sereal, default name) expects.

Unlike Storable, Sereal keeps floats and large integers as numbers, booleans,
and shares hash keys, and it decodes much faster.

Encoding: Sereal protocol 3 (readable by Sereal::Decoder 3.0 and later and by
ikcgate, which reads 1 to 5), no compression, blessed objects kept, no
FREEZE callbacks, dies on code refs and globs.

Decoding options, chosen for data that comes from another machine:

=over

=item * C<no_thaw_objects>: an C<OBJECT_FREEZE> item never calls a class's
C<THAW>; it arrives as the array of its arguments.

=item * C<validate_utf8> is left off: Sereal::Decoder 5.003 wrongly rejects
some valid documents with it (ikcgate's random tests hit it with an OBJECTV
after an empty UTF-8 string). ikcgate itself never sends invalid UTF-8.

=item * C<max_recursion_depth> 2048 and C<max_uncompressed_size> 64 MiB.

=item * C<refuse_objects> is B<off>, so blessed data keeps its class, as it
does with Storable. Thawing creates objects without running their code, but
their C<DESTROY> runs when they are freed: a peer can make objects of any
class your program has loaded. To refuse them (the thaw then dies, which
kills an IKC connection), or to keep them unblessed, set before first use:

    $ikcgate::Sereal::DECODER_OPTIONS{refuse_objects} = 1;
    # or
    $ikcgate::Sereal::DECODER_OPTIONS{no_bless_objects} = 1;

=back

=head1 INSTALLATION

Copy F<lib/ikcgate/Sereal.pm> (from perlcompat/perl in the ikcgate source)
into a directory of C<@INC>, as F<ikcgate/Sereal.pm>, or run the kernel with

    PERL5LIB=/path/to/ikcgate/perlcompat/perl/lib perl my_kernel.pl

It needs Sereal::Encoder and Sereal::Decoder (Debian: libsereal-perl).

=head1 USE WITH IKC

A client offers it with C<serializers> (IKC::Client) or C<serialiser>
(IKC::ClientLite): C<< serializers => ['ikcgate::Sereal', 'Storable'] >>.
The server accepts the first offered freezer that POE::Filter::Reference can
load, which is any installed package with C<freeze> and C<thaw>: a Perl
server needs only this file in its C<@INC>, no configuration. Both ends must
have it; a peer without it negotiates Storable.

POE::Filter::Reference is built with
C<< POE::Filter::Reference->new('ikcgate::Sereal') >>: it finds C<freeze>
and C<thaw> with C<can> (C<require>-ing the package if needed) and calls
them as functions, C<freeze($message_ref)> and C<thaw($payload)>.

=cut
