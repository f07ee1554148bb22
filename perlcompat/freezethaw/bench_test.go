package freezethaw

import (
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// typicalRequest is an IKC call as a Perl client sends it.
var typicalRequest = []byte("FrT;@1|%8|$5|event$4|from$6|params$4|rsvp$21|poe://Server/svc/echo" +
	"%6|$6|kernel$7|session$5|state$29|vm-6b04cc91-0000084f-00000001$3|cli$9|IKC:proxy" +
	"@3|$5|hello%4|$1|a$1|b$1|1$4|text$2|42" +
	"%6|$6|kernel$7|session$5|state$10|TestClient$1|2$10|echo_reply")

func BenchmarkThawTypicalRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalRequest)))
	for b.Loop() {
		if _, err := (Freezer{}).Thaw(typicalRequest); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkThawCaptureFrame(b *testing.B) {
	p := loadFrames(b, "g2-freezer-freezethaw")[0].Payload
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := (Freezer{}).Thaw(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFreezeTypicalRequest(b *testing.B) {
	v, err := Freezer{}.Thaw(typicalRequest)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, err = Freezer{}.Freeze(buf[:0], v.(*perlcompat.Hash))
		if err != nil {
			b.Fatal(err)
		}
	}
}
