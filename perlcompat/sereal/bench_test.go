package sereal_test

import (
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
)

// ikcRequest is a typical IKC call: event, params, rsvp, from.
func ikcRequest() *perlcompat.Hash {
	return perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Server/svc/echo")).
		Set("params", perlcompat.NewArray(perlcompat.Text("hello"), perlcompat.Int(42), perlcompat.Float(3.5))).
		Set("rsvp", perlcompat.NewHash().Set("kernel", perlcompat.Text("Client")).Set("session", perlcompat.Int(2)).Set("state", perlcompat.Text("reply"))).
		Set("from", perlcompat.NewHash().Set("kernel", perlcompat.Text("vm-6b04cc99-00000b32-00000001")).Set("session", perlcompat.Text("client")).Set("state", perlcompat.Text("IKC:proxy")))
}

// bigRequest carries about 1 MB: a thousand records of mixed data.
func bigRequest() *perlcompat.Hash {
	var rows []perlcompat.Value
	for i := 0; i < 1000; i++ {
		rows = append(rows, perlcompat.NewHash().
			Set("id", perlcompat.Int(i)).
			Set("name", perlcompat.Text("café ☺ row")).
			Set("blob", perlcompat.Str{S: strings.Repeat("x", 1000)}).
			Set("score", perlcompat.Float(float64(i)/7)))
	}
	return ikcRequest().Set("params", perlcompat.NewArray(rows...))
}

func benchFreeze(b *testing.B, v perlcompat.Value) {
	f, _ := sereal.New(sereal.Config{})
	buf, _ := f.Freeze(nil, v)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = f.Freeze(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func benchThaw(b *testing.B, v perlcompat.Value) {
	f, _ := sereal.New(sereal.Config{})
	buf, _ := f.Freeze(nil, v)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Thaw(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFreeze(b *testing.B) {
	b.Run("request", func(b *testing.B) { benchFreeze(b, ikcRequest()) })
	b.Run("1MB", func(b *testing.B) { benchFreeze(b, bigRequest()) })
}

func BenchmarkThaw(b *testing.B) {
	b.Run("request", func(b *testing.B) { benchThaw(b, ikcRequest()) })
	b.Run("1MB", func(b *testing.B) { benchThaw(b, bigRequest()) })
}
