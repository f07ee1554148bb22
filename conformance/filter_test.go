package conformance

import (
	"encoding/json"
	"errors"
	"io"
	"math/rand"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/perlcompat/storable"
	"github.com/ikcgate/ikcgate/protocol"
)

// listenLoopback returns a TCP listener on 127.0.0.1 closed at test end.
func listenLoopback(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// acceptOne waits for the Perl peer to connect.
func acceptOne(t *testing.T, ln *net.TCPListener, p *perlProc) *net.TCPConn {
	t.Helper()
	if err := ln.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatalf("perl never connected: %v; stderr:\n%s", err, p.Stderr())
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	return c
}

type filterLine struct {
	N       *int   `json:"n"`
	Desc    string `json:"desc"`
	EOF     int    `json:"eof"`
	Count   int    `json:"count"`
	Pending int    `json:"pending"`
	Frames  *int   `json:"frames"`
	Bytes   int    `json:"bytes"`
}

// TestPerlFilterReadsGoFrames: Go frames NFreeze images with
// protocol.AppendFrame and writes them over TCP in random pieces (many
// frames in one write, frames split across writes, runs of 1-byte writes
// with pauses); real POE::Filter::Reference (sysread + get) must deliver
// every value, in order, as expectedPerlView says, with nothing left over.
func TestPerlFilterReadsGoFrames(t *testing.T) {
	requirePerl(t)
	seed := varyingSeed(t)
	t.Logf("seed %d (replay with IKCGATE_SEED=%d)", seed, seed)
	const count = 800
	g := newValueGen(seed)
	g.bigProb, g.bigStr = 0.002, 0.0015
	var stream []byte
	want := make([]string, count)
	for i := range want {
		v := g.structure()
		img, err := storable.NFreeze(nil, v)
		if err != nil {
			t.Fatalf("value %d: NFreeze: %v\n%s", i, err, Describe(v))
		}
		if stream, err = protocol.AppendFrame(stream, img); err != nil {
			t.Fatalf("value %d: AppendFrame: %v", i, err)
		}
		want[i] = Describe(expectedPerlView(v))
	}

	ln := listenLoopback(t)
	p := startPerl(t, nil, "filter_peer.pl", "read", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	conn := acceptOne(t, ln, p)

	writeDone := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewSource(seed))
		writes := 0
		for off := 0; off < len(stream); {
			var n int
			switch x := r.Float64(); {
			case x < 0.25: // a run of tiny writes
				n = 1 + r.Intn(7)
				if r.Float64() < 0.1 {
					time.Sleep(time.Duration(r.Intn(300)) * time.Microsecond)
				}
			case x < 0.75:
				n = 1 + r.Intn(700)
			default: // several frames at once
				n = 1 + r.Intn(200000)
			}
			n = min(n, len(stream)-off)
			if _, err := conn.Write(stream[off : off+n]); err != nil {
				writeDone <- err
				return
			}
			off += n
			writes++
		}
		t.Logf("%d frames, %d bytes in %d writes", count, len(stream), writes)
		writeDone <- conn.CloseWrite()
	}()

	bad := &mismatchLog{t: t, max: 8}
	dec := json.NewDecoder(p.Stdout)
	got := 0
	var end *filterLine
	for {
		var l filterLine
		if err := dec.Decode(&l); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatalf("reading filter_peer.pl output: %v; stderr:\n%s", err, p.Stderr())
		}
		if l.EOF == 1 {
			end = &l
			continue
		}
		if l.N == nil || *l.N != got || got >= count {
			t.Fatalf("Perl reported value %v, expected index %d of %d", l.N, got, count)
		}
		if l.Desc != want[got] {
			bad.add("value %d: Perl's filter sees something else (-expected +perl):\n%s", got, descDiff(want[got], l.Desc))
		}
		got++
	}
	if err := <-writeDone; err != nil {
		t.Fatalf("writing frames: %v", err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if end == nil {
		t.Fatalf("filter_peer.pl did not report EOF; stderr:\n%s", p.Stderr())
	}
	if end.Count != count || got != count {
		t.Errorf("Perl's filter delivered %d values (reported %d), %d were sent", got, end.Count, count)
	}
	if end.Pending != 0 {
		t.Errorf("Perl's filter kept %d unparsed bytes after EOF", end.Pending)
	}
	bad.finish("Go frames read by POE::Filter::Reference", count)
}

// TestGoReadsPerlFilterFrames: real POE::Filter::Reference->put frames
// random Perl structures and writes them in odd-sized syswrites; Go reads
// them with protocol.FrameReader and storable.Thaw and must see each value
// as a Perl receiving filter does.
func TestGoReadsPerlFilterFrames(t *testing.T) {
	requirePerl(t)
	seed := varyingSeed(t)
	t.Logf("seed %d (replay with IKCGATE_SEED=%d)", seed, seed)
	const count = 800
	ln := listenLoopback(t)
	p := startPerl(t, perlEnv(seed), "filter_peer.pl", "write",
		strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), strconv.FormatInt(seed, 10), strconv.Itoa(count))
	conn := acceptOne(t, ln, p)

	type result struct {
		want  []string
		bytes int
		err   error
	}
	descs := make(chan result, 1)
	go func() {
		var r result
		dec := json.NewDecoder(p.Stdout)
		for {
			var l filterLine
			if err := dec.Decode(&l); err != nil {
				if err != io.EOF {
					r.err = err
				}
				break
			}
			if l.Frames != nil {
				r.bytes = l.Bytes
				continue
			}
			if l.N == nil || *l.N != len(r.want) {
				r.err = errors.New("description out of order")
				break
			}
			r.want = append(r.want, l.Desc)
		}
		descs <- r
	}()

	fr := protocol.NewFrameReader(conn, nil, 0)
	var got []string
	var readErr error
	for {
		payload, err := fr.ReadFrame()
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		v, err := storable.Thaw(payload)
		if err != nil {
			got = append(got, "Thaw failed: "+err.Error())
			continue
		}
		got = append(got, Describe(v))
	}
	r := <-descs
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if r.err != nil {
		t.Fatalf("reading filter_peer.pl output: %v; stderr:\n%s", r.err, p.Stderr())
	}
	if readErr != nil {
		t.Fatalf("after %d frames: %v", len(got), readErr)
	}
	if len(r.want) != count || len(got) != count {
		t.Fatalf("Perl framed %d values, Go read %d frames, want %d", len(r.want), len(got), count)
	}
	bad := &mismatchLog{t: t, max: 8}
	for i := range got {
		if got[i] != r.want[i] {
			bad.add("frame %d: Go sees something else than a Perl filter (-perl +go):\n%s", i, descDiff(r.want[i], got[i]))
		}
	}
	bad.finish("Perl filter frames read by Go", count)
	t.Logf("%d frames, %d bytes", count, r.bytes)
}
