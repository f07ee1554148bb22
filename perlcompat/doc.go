// Package perlcompat is Perl data as Go sees it, and the freezers that carry
// it between IKC kernels.
//
// The value model (Value and its types Undef, Str, Int, Uint, Float, Bool,
// *Array, *Hash and *Ref) keeps everything a Perl program can tell apart:
// undef, strings versus numbers (a "42" that travelled as a string stays a
// string), byte strings versus character strings (Perl's UTF8 flag),
// blessed references with their class, and shared references and cycles.
//
// The freezers live in sub-packages (perlcompat/storable, ...); each
// implements Freezer under the Perl package name IKC negotiates.
package perlcompat
