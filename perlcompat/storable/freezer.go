package storable

import "github.com/ikcgate/ikcgate/perlcompat"

// Freezer is Storable as an IKC freezer: nfreeze to send, thaw to
// receive, as POE::Filter::Reference does with Storable. The zero value
// uses DefaultLimits both ways.
type Freezer struct {
	Decoder Decoder
	Encoder Encoder
}

var (
	_ perlcompat.Freezer             = Freezer{}
	_ perlcompat.ClassCheckingThawer = Freezer{}
)

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

// ThawAllowing is Thaw that also fails with ErrClassNotAllowed on a class
// allow refuses (as well as on one Decoder.AllowClass refuses), asking
// once per class name in the image.
func (f Freezer) ThawAllowing(payload []byte, allow func(class string) bool) (perlcompat.Value, error) {
	d := f.Decoder
	if own := d.AllowClass; own != nil {
		d.AllowClass = func(class string) bool { return own(class) && allow(class) }
	} else {
		d.AllowClass = allow
	}
	return d.Thaw(payload)
}
