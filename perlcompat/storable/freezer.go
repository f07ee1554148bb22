package storable

import "github.com/ikcgate/ikcgate/perlcompat"

// Freezer is Storable as an IKC freezer: nfreeze to send, thaw to
// receive, as POE::Filter::Reference does with Storable. The zero value
// uses DefaultLimits both ways.
type Freezer struct {
	Decoder Decoder
	Encoder Encoder
}

var _ perlcompat.Freezer = Freezer{}

// Name is the package name IKC negotiates.
func (Freezer) Name() string { return "Storable" }

// Freeze appends the nfreeze image of v (a *Hash for IKC messages).
func (f Freezer) Freeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	return f.Encoder.NFreeze(dst, v)
}

// Thaw decodes one frame payload.
func (f Freezer) Thaw(payload []byte) (perlcompat.Value, error) {
	return f.Decoder.Thaw(payload)
}
