package conformance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/gcfloor"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

// Benchmarks of storable.Thaw and storable.NFreeze on the inputs that
// scripts/bench-storable also times with Perl's XS Storable. With
// IKCGATE_BENCH_DIR set they read DIR/*.bin (written by
// perl/bench_storable.pl inputs DIR, so both sides use the same bytes);
// otherwise they use the b-call-rsvp capture frame and a Go-built ~1 MB
// message.

type benchInput struct {
	name string
	img  []byte
}

func benchInputs(b *testing.B) []benchInput {
	return benchFiles(b, ".bin")
}

// serealInputs are the Sereal documents of the same values: DIR/*.srl
// (ikcgate::Sereal's encoding, written by bench_storable.pl), or the
// Storable inputs re-encoded by this package's freezer.
func serealInputs(b *testing.B) []benchInput {
	b.Helper()
	if os.Getenv("IKCGATE_BENCH_DIR") != "" {
		return benchFiles(b, ".srl")
	}
	var in []benchInput
	for _, st := range benchInputs(b) {
		v, err := storable.Thaw(st.img)
		if err != nil {
			b.Fatal(err)
		}
		doc, err := serealBench.Freeze(nil, v)
		if err != nil {
			b.Fatal(err)
		}
		in = append(in, benchInput{st.name, doc})
	}
	return in
}

var serealBench = func() *sereal.Freezer {
	f, err := sereal.New(sereal.Config{})
	if err != nil {
		panic(err)
	}
	return f
}()

func benchFiles(b *testing.B, ext string) []benchInput {
	b.Helper()
	if dir := os.Getenv("IKCGATE_BENCH_DIR"); dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*"+ext))
		if err != nil || len(files) == 0 {
			b.Fatalf("IKCGATE_BENCH_DIR=%s has no %s inputs (%v)", dir, ext, err)
		}
		sort.Strings(files)
		var in []benchInput
		for _, f := range files {
			img, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			in = append(in, benchInput{strings.TrimSuffix(filepath.Base(f), ext), img})
		}
		return in
	}
	stream, err := os.ReadFile(filepath.Join(capturesDir, "b-call-rsvp.c2s.bin"))
	if err != nil {
		b.Fatal(err)
	}
	i := bytes.Index(stream, []byte("\r\n")) + 2 // after the SETUP line
	nul := bytes.IndexByte(stream[i:], 0)
	n, err := strconv.Atoi(string(stream[i : i+nul]))
	if err != nil || i < 2 || nul < 0 {
		b.Fatalf("no frame after the negotiation line in b-call-rsvp.c2s.bin")
	}
	call := stream[i+nul+1 : i+nul+1+n]
	big, err := storable.NFreeze(nil, bigBenchMessage())
	if err != nil {
		b.Fatal(err)
	}
	return []benchInput{{"big-1mb", big}, {"call-rsvp", call}}
}

// bigBenchMessage mirrors the ~1 MB message of perl/bench_storable.pl.
func bigBenchMessage() perlcompat.Value {
	items := make([]perlcompat.Value, 4000)
	for i := range items {
		items[i] = perlcompat.NewHash().
			Set("id", perlcompat.Int(i)).
			Set("name", perlcompat.Text(fmt.Sprintf("item number %d", i))).
			Set("price", perlcompat.Text(fmt.Sprintf("%.2f", float64(i)*1.25))).
			Set("big", perlcompat.Int(i*1000003)).
			Set("tags", perlcompat.NewArray(perlcompat.Text("alpha"), perlcompat.Text("beta"),
				perlcompat.Text(fmt.Sprintf("t%d", i)), perlcompat.Str{S: "caf\xe9"}, perlcompat.Text("\u263a"))).
			Set("blob", perlcompat.Text(strings.Repeat(string(rune('A'+i%26)), 120))).
			Set("meta", perlcompat.NewHash().Set("created", perlcompat.Int(1700000000+i)).
				Set("ok", perlcompat.Int(1)).Set("note", perlcompat.Undef{}))
	}
	return perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Server/svc/bulk")).
		Set("params", perlcompat.NewArray(items...)).
		Set("rsvp", perlcompat.NewHash().Set("kernel", perlcompat.Text("TestClient")).
			Set("session", perlcompat.Int(2)).Set("state", perlcompat.Text("bulk_reply")))
}

// eachGCMode runs fn twice: under the ikcgate daemon's GC floor
// (gcfloor.DefaultFloor, limits.gc_heap_floor), as the gateway decodes,
// and under Go's default GC, which a program using perlcompat without a
// floor gets. Perl frees as it goes and has no collector to tune, so row
// 10 compares both with the same Perl figure. A small message's decode
// allocates little but often, and at Go's default the collections it
// causes took about half of its time here.
func eachGCMode(b *testing.B, fn func(*testing.B)) {
	b.Run("gc-floor", func(b *testing.B) {
		t := gcfloor.Start(gcfloor.DefaultFloor)
		if t == nil {
			b.Skip("no GC floor: GOGC is set, or a floor is running already")
		}
		defer t.Stop()
		runtime.GC()
		fn(b)
	})
	b.Run("default-gc", func(b *testing.B) {
		runtime.GC()
		fn(b)
	})
}

func BenchmarkThaw(b *testing.B)    { benchDecode(b, benchInputs(b), storable.Thaw) }
func BenchmarkNFreeze(b *testing.B) { benchEncode(b, benchInputs(b), storable.Thaw, storable.NFreeze) }

// benchDecode times decode on each input; benchEncode times encode of what
// decode made of it.
func benchDecode(b *testing.B, inputs []benchInput, decode func([]byte) (perlcompat.Value, error)) {
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			eachGCMode(b, func(b *testing.B) {
				b.SetBytes(int64(len(in.img)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := decode(in.img); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func benchEncode(b *testing.B, inputs []benchInput, decode func([]byte) (perlcompat.Value, error), encode func([]byte, perlcompat.Value) ([]byte, error)) {
	for _, in := range inputs {
		v, err := decode(in.img)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(in.name, func(b *testing.B) {
			eachGCMode(b, func(b *testing.B) {
				b.SetBytes(int64(len(in.img)))
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					if buf, err = encode(buf[:0], v); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkSerealDecode and BenchmarkSerealEncode are row 10's Sereal
// half: the same values as BenchmarkThaw, in Sereal protocol 3 as
// ikcgate::Sereal writes them.
func BenchmarkSerealDecode(b *testing.B) { benchDecode(b, serealInputs(b), serealBench.Thaw) }
func BenchmarkSerealEncode(b *testing.B) {
	benchEncode(b, serealInputs(b), serealBench.Thaw, serealBench.Freeze)
}
