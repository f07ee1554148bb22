package storable

import (
	"os"
	"strings"
	"testing"

	P "github.com/ikcgate/ikcgate/perlcompat"
)

// callRequest is the first call request with an rsvp in b-call-rsvp, as
// the Perl client sent it.
func callRequest(b *testing.B) []byte {
	b.Helper()
	for _, fr := range storableCaptures(b) {
		if !strings.HasPrefix(fr.Name, "b-call-rsvp/c2s/") {
			continue
		}
		if m, ok := fr.Value.(map[string]any); ok && m["rsvp"] != nil {
			return fr.Payload
		}
	}
	b.Fatal("no call request in b-call-rsvp")
	return nil
}

// bigValue is a ~1.5 MB message: a 1 MB string plus arrays of many small
// items.
func bigValue() P.Value {
	ints := make([]P.Value, 20000)
	strs := make([]P.Value, 20000)
	recs := make([]P.Value, 5000)
	for i := range ints {
		ints[i] = P.Int(i * 37)
		strs[i] = P.Str{S: "item-" + strings.Repeat("x", i%20)}
	}
	for i := range recs {
		recs[i] = hash("id", P.Int(i), "name", s("record"), "tags", arr(s("a"), s("b")))
	}
	return hash("event", s("poe://Srv/svc/bulk"),
		"params", arr(s(strings.Repeat("0123456789abcdef", 1<<16)), arr(ints...), arr(strs...), arr(recs...)))
}

func benchThaw(b *testing.B, img []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := Thaw(img); err != nil {
			b.Fatal(err)
		}
	}
}

func benchNFreeze(b *testing.B, v P.Value) {
	img, err := NFreeze(nil, v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(img)))
	buf := make([]byte, 0, len(img))
	for b.Loop() {
		if buf, err = NFreeze(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkThaw(b *testing.B) {
	b.Run("call-request", func(b *testing.B) { benchThaw(b, callRequest(b)) })
	b.Run("go-post", func(b *testing.B) { // a Go kernel's post of one integer: 60 bytes
		img, err := NFreeze(nil, hash("event", s("poe://ikcgate/demo/count"), "params", arr(P.Int(1))))
		if err != nil {
			b.Fatal(err)
		}
		benchThaw(b, img)
	})
	b.Run("go-post-by-id", func(b *testing.B) { // the same, addressed by kernel ID as Peer.Post does: 82 bytes
		img, err := NFreeze(nil, hash("event", s("poe://ikcgate.example-6923a6f0-000004d2-00000001/demo/count"), "params", arr(P.Int(1))))
		if err != nil {
			b.Fatal(err)
		}
		benchThaw(b, img)
	})
	b.Run("1MB", func(b *testing.B) {
		img, err := NFreeze(nil, bigValue())
		if err != nil {
			b.Fatal(err)
		}
		if dir := os.Getenv("STORABLE_BENCH_DUMP"); dir != "" { // images for comparing with Perl
			os.WriteFile(dir+"/big.bin", img, 0o644)
			os.WriteFile(dir+"/call.bin", callRequest(b), 0o644)
		}
		benchThaw(b, img)
	})
}

func BenchmarkNFreeze(b *testing.B) {
	b.Run("call-request", func(b *testing.B) {
		v, err := Thaw(callRequest(b))
		if err != nil {
			b.Fatal(err)
		}
		benchNFreeze(b, v)
	})
	b.Run("1MB", func(b *testing.B) { benchNFreeze(b, bigValue()) })
}
