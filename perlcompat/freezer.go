package perlcompat

// Freezer is one IKC serializer: what POE::Filter::Reference calls to turn a
// request hash into a frame payload and back. Name is the Perl package name
// both kernels agree on during negotiation ("Storable", "Sereal", ...).
//
// Freeze appends the payload for v to dst, like the append-style encoders
// of encoding/binary. Thaw decodes one whole payload; it must never panic on
// hostile input and returns an error that says what was wrong and where.
type Freezer interface {
	Name() string
	Freeze(dst []byte, v Value) ([]byte, error)
	Thaw(payload []byte) (Value, error)
}

// ChannelFreezer is a Freezer that keeps state per channel: a kernel
// calls ForChannel once for each channel that negotiates it and uses the
// result for that channel only. Sereal uses it to answer each peer in the
// protocol version the peer writes.
type ChannelFreezer interface {
	Freezer
	ForChannel() Freezer
}
