// Package perlcompat is Perl data as Go sees it, and the freezers that carry
// it between IKC kernels.
//
// The value model (Value and its types Undef, Str, Int, Uint, Float, Bool,
// *Array, *Hash and *Ref) keeps everything a Perl program can tell apart:
// undef, strings versus numbers (a "42" that travelled as a string stays a
// string), byte strings versus character strings (Perl's UTF8 flag, on
// values and on hash keys), blessed references with their class, and
// shared references and cycles.
//
// FromGo, Unmarshal and ToGo convert to and from ordinary Go values in the
// style of encoding/json (perl or json struct tags, Marshaler and
// Unmarshaler); AsInt, AsFloat, AsString and AsBool read Perl's dual
// scalars the way Perl does.
//
// The freezers live in sub-packages, each a Freezer under the Perl package
// name IKC negotiates: storable (what every Perl peer has), sereal and json
// (with the Perl adapters ikcgate::Sereal and ikcgate::JSON in
// perlcompat/perl/lib), freezethaw, and dumper, a parser of
// POE::Component::IKC::Freezer's Data::Dumper text that never evaluates it.
// RestrictClasses wraps any of them with a class allow-list (Storable and
// Sereal, ClassCheckingThawers, check classes as they decode); a
// ChannelFreezer keeps state per channel (Sereal answers each peer in the
// version it writes). Every decoder bounds depth and allocation by the
// bytes it was given and never panics on peer data.
package perlcompat
