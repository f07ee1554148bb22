package conformance

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/dumper"
	"github.com/ikcgate/ikcgate/perlcompat/freezethaw"
	"github.com/ikcgate/ikcgate/perlcompat/json"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
	"github.com/ikcgate/ikcgate/protocol"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHostileSizesAllocateInProportionToWhatArrived feeds every decoder
// the inputs issue #6 names: a 4 GB string declared in a few bytes,
// billions of declared elements, deep nesting, back-references to tags
// never seen, and cycles. None may panic, and none may allocate more than
// a bounded multiple of the bytes actually received (plus a small
// constant for the decoder's own state).
func TestHostileSizesAllocateInProportionToWhatArrived(t *testing.T) {
	srl, err := sereal.New(sereal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.New(json.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srlHeader := []byte("=\xf3rl\x03\x00") // Sereal v3, no header suffix
	varint := func(n uint64) []byte {
		var b []byte
		for n >= 0x80 {
			b = append(b, byte(n)|0x80)
			n >>= 7
		}
		return append(b, byte(n))
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	deep := 200000
	cases := []struct {
		name    string
		freezer perlcompat.Freezer
		input   []byte
	}{
		{"storable 4 GB string", storable.Freezer{}, []byte("\x05\x0b\x01\xff\xff\xff\xff")},
		{"storable 4 G array elements", storable.Freezer{}, []byte("\x05\x0b\x02\xff\xff\xff\xff\x05")},
		{"storable 4 G hash keys", storable.Freezer{}, []byte("\x05\x0b\x03\xff\xff\xff\xff\x05")},
		{"storable 4 GB class name", storable.Freezer{}, []byte("\x05\x0b\x11\x80\xff\xff\xff\xff")},
		{"storable deep refs", storable.Freezer{}, cat([]byte("\x05\x0b"), bytes.Repeat([]byte{0x04}, deep), []byte{0x05})},
		{"storable deep arrays", storable.Freezer{}, cat([]byte("\x05\x0b"), bytes.Repeat([]byte("\x02\x00\x00\x00\x01"), deep), []byte{0x05})},
		{"storable unknown tag", storable.Freezer{}, []byte("\x05\x0b\x02\x00\x00\x00\x01\x00\x7f\xff\xff\xff")},
		{"storable self cycle", storable.Freezer{}, []byte("\x05\x0b\x02\x00\x00\x00\x01\x04\x00\x00\x00\x00\x00")},
		{"sereal 4 GB binary", srl, cat(srlHeader, []byte{0x26}, varint(1<<32))},
		{"sereal 4 G array", srl, cat(srlHeader, []byte{0x2b}, varint(1<<32), []byte{0x25})},
		{"sereal 4 G hash", srl, cat(srlHeader, []byte{0x2a}, varint(1<<32), []byte{0x25})},
		{"sereal deep refs", srl, cat(srlHeader, bytes.Repeat([]byte{0x28}, deep), []byte{0x25})},
		{"sereal copy of unknown offset", srl, cat(srlHeader, []byte{0x2f}, varint(1<<40))},
		{"json deep arrays", js, []byte(strings.Repeat("[", deep) + strings.Repeat("]", deep))},
		{"json huge number", js, []byte("[" + strings.Repeat("9", 1<<16) + "]")},
		{"freezethaw 4 GB string", freezethaw.Freezer{}, []byte("FrT;$4294967295|x")},
		{"freezethaw 4 G array", freezethaw.Freezer{}, []byte("FrT;@4294967295|")},
		{"freezethaw deep", freezethaw.Freezer{}, []byte("FrT;" + strings.Repeat("@1|", deep) + "_")},
		{"freezethaw unknown back-reference", freezethaw.Freezer{}, []byte("FrT;@1|<99999999|")},
		{"dumper deep", dumper.Freezer{}, []byte("$POE::Component::IKC::Freezer::VAR1 = " + strings.Repeat("[", deep) + strings.Repeat("]", deep) + ";")},
		{"dumper unknown path", dumper.Freezer{}, []byte("$POE::Component::IKC::Freezer::VAR1 = [];$POE::Component::IKC::Freezer::VAR1->[99999999][99999999] = 1;")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			n := allocated(func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				_, err = c.freezer.Thaw(c.input)
			})
			limit := uint64(1<<20) + 64*uint64(len(c.input))
			if n > limit {
				t.Errorf("allocated %d bytes for %d bytes of input (limit %d)", n, len(c.input), limit)
			}
			// A cycle and a long number are valid: only the bound applies.
			valid := strings.Contains(c.name, "cycle") || strings.Contains(c.name, "huge number")
			if err == nil && !valid {
				t.Errorf("a hostile input decoded without an error")
			}
		})
	}
	// The frame layer refuses an oversized declared length before reading it.
	t.Run("frame of 999999999999 bytes", func(t *testing.T) {
		var err error
		n := allocated(func() {
			fr := protocol.NewFrameReader(strings.NewReader("999999999999\x00abc"), nil, protocol.DefaultMaxFrameSize)
			_, err = fr.ReadFrame()
		})
		if err == nil || n > 1<<20 {
			t.Errorf("err %v after allocating %d bytes", err, n)
		}
	})
}
