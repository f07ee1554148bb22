// Package storable reads and writes the image format of Perl's Storable
// 3.26, the default freezer of POE::Component::IKC.
//
// IKC sends Storable::nfreeze images (network order, header 05 0b) as frame
// payloads. NFreeze writes exactly what Perl 5.36's nfreeze would for the
// same data, using only opcodes Storable 3.26 understands; Thaw reads
// nfreeze images and native freeze images (header 04 0b plus the byte order
// and type sizes), with or without the "pst0" file magic.
//
// Storable always freezes a reference: the image's root item is the
// referent. Thaw gives back a reference to it (a *Hash, an *Array, or a
// *Ref to a scalar or to another reference) and NFreeze takes the same.
// Shared references and cycles survive both ways, as do blessings and the
// byte-string/character-string distinction of Perl strings and hash keys.
//
// Decoding never panics and never trusts a declared length: allocation is
// bounded by the bytes actually present, and Limits bound nesting depth and
// element counts. Errors are *DecodeError values naming the opcode and
// byte offset, wrapping sentinels such as ErrTruncated for errors.Is.
package storable
