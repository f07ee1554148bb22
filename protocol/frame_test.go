package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// frameTestStream builds a frame stream from payloads.
func frameTestStream(t testing.TB, payloads ...string) []byte {
	t.Helper()
	var b []byte
	for _, p := range payloads {
		var err error
		if b, err = AppendFrame(b, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// decodeChunked feeds stream to a FrameDecoder in the given chunk sizes
// (cycled) and returns every payload and the end-of-stream error.
func decodeChunked(stream []byte, max int, sizes func() int) ([]string, error) {
	d := NewFrameDecoder(max)
	var got []string
	for len(stream) > 0 {
		n := min(sizes(), len(stream))
		if err := d.Feed(stream[:n]); err != nil {
			return got, err
		}
		stream = stream[n:]
		for {
			p, err := d.Next()
			if err != nil {
				return got, err
			}
			if p == nil {
				break
			}
			got = append(got, string(p))
		}
		if d.Buffered() > maxFrameHeader+frameMax(max)+n {
			return got, fmt.Errorf("decoder buffers %d bytes, more than one frame plus the last feed", d.Buffered())
		}
	}
	return got, d.Close()
}

func wantCapturePayloads(st fcapStream) []string {
	var want []string
	for _, f := range st.Frames {
		start := f.Offset + f.HeaderLength
		want = append(want, string(st.Bytes[start:start+f.PayloadLength]))
	}
	return want
}

func TestFrameDecoderSplitsEveryCaptureLikePerl(t *testing.T) {
	streams, _ := fcapLoad(t)
	nframes := 0
	for _, st := range streams {
		want := wantCapturePayloads(st)
		nframes += len(want)
		// Check the recorded header bytes too: digits then NUL.
		for _, f := range st.Frames {
			hdr := st.Bytes[f.Offset : f.Offset+f.HeaderLength]
			if want := fmt.Sprintf("%d\x00", f.PayloadLength); string(hdr) != want {
				t.Errorf("%s frame %d: header %q, want %q", st.Name, f.Index, hdr, want)
			}
		}
		phase := st.Bytes[st.Start:]
		rng := rand.New(rand.NewSource(int64(len(phase))))
		chunkings := map[string]func() int{
			"whole":        func() int { return len(phase) },
			"byte-by-byte": func() int { return 1 },
			"random":       func() int { return 1 + rng.Intn(300) },
			"random-large": func() int { return 1 + rng.Intn(100000) },
		}
		for name, sizes := range chunkings {
			got, err := decodeChunked(phase, 0, sizes)
			if err != io.EOF {
				t.Errorf("%s %s: stream ended with %v, want io.EOF (no bytes left over)", st.Name, name, err)
			}
			if len(got) != len(want) {
				t.Errorf("%s %s: %d frames, want %d", st.Name, name, len(got), len(want))
				continue
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s %s: frame %d differs (len %d, want %d)", st.Name, name, i, len(got[i]), len(want[i]))
				}
			}
		}
	}
	if nframes < 50 {
		t.Fatalf("only %d frames in the captures; the fixtures look incomplete", nframes)
	}
}

func TestFrameReaderReadsEveryCaptureWithNegotiationLeftovers(t *testing.T) {
	streams, _ := fcapLoad(t)
	for _, st := range streams {
		want := wantCapturePayloads(st)
		phase := st.Bytes[st.Start:]
		for _, split := range []int{0, 1, 3, len(phase) / 2, len(phase)} {
			split = min(split, len(phase))
			readers := map[string]io.Reader{
				"plain":    bytes.NewReader(phase[split:]),
				"one-byte": iotest.OneByteReader(bytes.NewReader(phase[split:])),
				"half":     iotest.HalfReader(bytes.NewReader(phase[split:])),
				"data-err": iotest.DataErrReader(bytes.NewReader(phase[split:])),
			}
			for name, r := range readers {
				fr := NewFrameReader(r, phase[:split], 0)
				for i := 0; ; i++ {
					p, err := fr.ReadFrame()
					if err == io.EOF {
						if i != len(want) {
							t.Errorf("%s %s split %d: EOF after %d frames, want %d", st.Name, name, split, i, len(want))
						}
						break
					}
					if err != nil {
						t.Errorf("%s %s split %d: frame %d: %v", st.Name, name, split, i, err)
						break
					}
					if i >= len(want) || string(p) != want[i] {
						t.Errorf("%s %s split %d: frame %d wrong (len %d)", st.Name, name, split, i, len(p))
						break
					}
				}
			}
		}
	}
}

func TestFrameReaderDoesNotCopyBufferedPayloads(t *testing.T) {
	stream := frameTestStream(t, "first", "second")
	fr := NewFrameReader(bytes.NewReader(stream), nil, 0)
	p1, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	// Both payloads came from one read and must still sit in the reader's
	// buffer: "5\0first6\0second".
	if &p1[0] != &fr.buf[2] || &p2[0] != &fr.buf[9] {
		t.Error("payloads were copied out of the read buffer")
	}
	if cap(p1) != len(p1) {
		t.Error("payload capacity exposes the bytes after it")
	}
}

func TestAppendFrameMatchesTheStorableTestVector(t *testing.T) {
	// PROTOCOL.md §4.2: {event=>"poe://Srv/test/posted", params=>"hello"}.
	payload := []byte("\x05\x0b\x03\x00\x00\x00\x02" +
		"\x0a\x15poe://Srv/test/posted\x00\x00\x00\x05event" +
		"\x0a\x05hello\x00\x00\x00\x06params")
	frame, err := AppendFrame([]byte("prefix"), payload)
	if err != nil {
		t.Fatal(err)
	}
	if want := "prefix" + "\x35\x36\x00" + string(payload); string(frame) != want {
		t.Fatalf("AppendFrame = %q\nwant %q", frame, want)
	}
	got, err := decodeChunked(frame[len("prefix"):], 0, func() int { return 1 })
	if err != io.EOF || len(got) != 1 || got[0] != string(payload) {
		t.Fatalf("decoded %q, %v", got, err)
	}
}

func TestAppendFrameRefusesEmptyAndTooLargePayloads(t *testing.T) {
	dst := []byte("keep")
	out, err := AppendFrame(dst, nil)
	if !errors.Is(err, ErrEmptyFrame) || string(out) != "keep" {
		t.Errorf("empty payload: %q, %v", out, err)
	}
	big := make([]byte, DefaultMaxFrameSize+1)
	out, err = AppendFrame(dst, big)
	if !errors.Is(err, ErrFrameTooLarge) || string(out) != "keep" {
		t.Errorf("too large: len %d, %v", len(out), err)
	}
	if _, err := AppendFrame(nil, big[:DefaultMaxFrameSize]); err != nil {
		t.Errorf("payload of exactly the limit refused: %v", err)
	}
}

func TestFrameDecoderAcceptsLeadingZerosAndManyFramesPerFeed(t *testing.T) {
	stream := []byte("005\x00hello0001\x00x00000000000000000003\x00abc2\x00ok")
	got, err := decodeChunked(stream, 0, func() int { return len(stream) })
	if err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if diff := cmp.Diff([]string{"hello", "x", "abc", "ok"}, got); diff != "" {
		t.Fatalf("frames (-want +got):\n%s", diff)
	}
}

func TestFrameLengthWithTooManyDigitsIsAHeaderError(t *testing.T) {
	d := NewFrameDecoder(0)
	err := d.Feed([]byte(strings.Repeat("0", MaxFrameLengthDigits+1)))
	if !errors.Is(err, ErrFrameHeader) || !strings.Contains(err.Error(), "more than 20 digits") {
		t.Fatalf("21 digits: %v", err)
	}
	d = NewFrameDecoder(0)
	if err := d.Feed([]byte(strings.Repeat("0", MaxFrameLengthDigits))); err != nil {
		t.Fatalf("20 zeros must still wait for the NUL: %v", err)
	}
}

func TestTooLargeFrameIsRefusedBeforeItsPayload(t *testing.T) {
	// The length alone decides, even before its NUL arrives.
	d := NewFrameDecoder(1000)
	err := d.Feed([]byte("1001"))
	var se *FrameSizeError
	if !errors.As(err, &se) || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Feed(1001) with max 1000: %v", err)
	}
	if se.Size != 1001 || se.Max != 1000 || !se.AtLeast {
		t.Errorf("size error %+v", se)
	}
	for _, want := range []string{"1001", "1000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %s", err, want)
		}
	}
	if _, err2 := d.Next(); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}

	// A reader stops at the digits and never reads the payload.
	r := &countingReader{r: strings.NewReader("1001\x00" + strings.Repeat("x", 1001))}
	fr := NewFrameReader(iotest.OneByteReader(r), nil, 1000)
	if _, err := fr.ReadFrame(); !errors.As(err, &se) || se.Size != 1001 {
		t.Fatalf("ReadFrame: %v", err)
	}
	if r.n != 4 {
		t.Errorf("read %d bytes of a refused frame, want only its 4 digits", r.n)
	}
	// Once the NUL is seen the size is exact.
	fr = NewFrameReader(strings.NewReader("1001\x00xx"), nil, 1000)
	if _, err := fr.ReadFrame(); !errors.As(err, &se) || se.AtLeast || se.Size != 1001 {
		t.Fatalf("ReadFrame: %v (%+v)", err, se)
	}
	// Lengths beyond 64 bits are refused too.
	if _, err := NewFrameReader(strings.NewReader("99999999999999999999\x00"), nil, 0).ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("20 nines: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestFrameReaderMemoryFollowsBytesReceivedNotDeclaredLength(t *testing.T) {
	// A peer declares 60 MiB and sends 10 bytes: nothing near 60 MiB may be
	// allocated.
	fr := NewFrameReader(strings.NewReader("62914560\x000123456789"), nil, 0)
	_, err := fr.ReadFrame()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if cap(fr.buf) > 2*frameReadChunk {
		t.Errorf("buffer grew to %d bytes for 19 bytes received", cap(fr.buf))
	}
	// A real big frame grows the buffer, which is dropped once drained.
	big := strings.Repeat("z", 3*frameIdleBuffer)
	stream := frameTestStream(t, big, "small")
	fr = NewFrameReader(bytes.NewReader(stream), nil, 0)
	if p, err := fr.ReadFrame(); err != nil || string(p) != big {
		t.Fatalf("big frame: len %d, %v", len(p), err)
	}
	if p, err := fr.ReadFrame(); err != nil || string(p) != "small" {
		t.Fatalf("small frame: %q, %v", p, err)
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if cap(fr.buf) > frameIdleBuffer {
		t.Errorf("idle buffer kept at %d bytes", cap(fr.buf))
	}
}

func TestGarbageWhereAFrameMustStartFailsAtOnceAndNamesTheProtocol(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"HTTP/1.1 400 Bad Request\r\n", "HTTP"},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP request"},
		{"SETUP KERNEL=vm-1,Srv;FREEZER=Storable;PID=1\r\n", "IKC0 SETUP"},
		{"NOT\r\n", "legacy IKC negotiation"},
		{"UP\r\n", "legacy IKC negotiation"},
		{"SSH-2.0-OpenSSH_9.2\r\n", "SSH"},
		{"\x16\x03\x01\x02\x00\x01", "TLS"},
		{"\x05\x0b\x03\x00\x00\x00\x02", "Storable image without a length header"},
		{"FrT;@1|$1|x", "FreezeThaw"},
		{"220 smtp.example ESMTP\r\n", "digits without the NUL"},
		{"12x\x00", "not followed by NUL"},
		{"\x00\x00", "want a frame length"},
	}
	for _, c := range cases {
		fr := NewFrameReader(strings.NewReader(c.in), nil, 0)
		_, err := fr.ReadFrame()
		var he *FrameHeaderError
		if !errors.As(err, &he) || !errors.Is(err, ErrFrameHeader) || errors.Is(err, ErrEmptyFrame) {
			t.Errorf("%q: err = %v, want a *FrameHeaderError", c.in, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: message %q does not mention %q", c.in, err, c.want)
		}
		if strings.ContainsAny(err.Error(), "\x00\r\n\x16") {
			t.Errorf("%q: message quotes control bytes raw: %q", c.in, err)
		}
	}
	// The decoder fails on the first bad byte, without waiting for more.
	d := NewFrameDecoder(0)
	if err := d.Feed([]byte("H")); !errors.Is(err, ErrFrameHeader) {
		t.Errorf("Feed(H) = %v", err)
	}
	// After good frames, the offset of the bad one is reported.
	d = NewFrameDecoder(0)
	_ = d.Feed([]byte("2\x00ok3\x00abcGARBAGE"))
	var err error
	for err == nil {
		_, err = d.Next()
	}
	var he *FrameHeaderError
	if !errors.As(err, &he) || he.Offset != 9 {
		t.Errorf("garbage after two frames: %v (offset %d, want 9)", err, he.Offset)
	}
}

func TestZeroLengthFrameIsErrEmptyFrame(t *testing.T) {
	for _, in := range []string{"0\x00", "000\x00next"} {
		_, err := NewFrameReader(strings.NewReader(in), nil, 0).ReadFrame()
		if !errors.Is(err, ErrEmptyFrame) || errors.Is(err, ErrFrameHeader) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestEndOfStreamInsideAFrameIsUnexpectedEOF(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"5\x00ab", "have 4 of 7 bytes, 3 missing"},
		{"2\x00ok12", "inside a frame length header after 2 bytes"},
		{"70000\x00", "70000 missing"},
	}
	for _, c := range cases {
		fr := NewFrameReader(iotest.HalfReader(strings.NewReader(c.in)), nil, 0)
		var err error
		for err == nil {
			_, err = fr.ReadFrame()
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want ErrUnexpectedEOF mentioning %q", c.in, err, c.want)
		}
		if _, err2 := fr.ReadFrame(); err2 != err {
			t.Errorf("%q: error not sticky", c.in)
		}
		d := NewFrameDecoder(0)
		_ = d.Feed([]byte(c.in))
		for p, _ := d.Next(); p != nil; p, _ = d.Next() {
		}
		if err := d.Close(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("decoder %q: Close = %v", c.in, err)
		}
	}
	for _, in := range []string{"", "2\x00ok"} {
		fr := NewFrameReader(strings.NewReader(in), nil, 0)
		var err error
		for err == nil {
			_, err = fr.ReadFrame()
		}
		if err != io.EOF {
			t.Errorf("%q: %v, want io.EOF", in, err)
		}
	}
}

func TestFrameReaderReturnsFramesBeforeAReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(frameTestStream(t, "a", "b")), iotest.ErrReader(boom))
	fr := NewFrameReader(r, nil, 0)
	var got []string
	var err error
	for {
		var p []byte
		if p, err = fr.ReadFrame(); err != nil {
			break
		}
		got = append(got, string(p))
	}
	if !errors.Is(err, boom) || len(got) != 2 {
		t.Fatalf("got %q then %v", got, err)
	}
}

type writeRecorder struct{ writes [][]byte }

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestFrameWriterWritesSmallFramesInOneWrite(t *testing.T) {
	w := &writeRecorder{}
	fw := NewFrameWriter(w, 100)
	if err := fw.WriteFrame([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteFrame(nil); !errors.Is(err, ErrEmptyFrame) {
		t.Errorf("empty: %v", err)
	}
	if err := fw.WriteFrame(make([]byte, 101)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if diff := cmp.Diff([][]byte{[]byte("5\x00hello")}, w.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	big := bytes.Repeat([]byte("q"), 2*frameReadChunk)
	var buf bytes.Buffer
	fw = NewFrameWriter(&buf, 0)
	if err := fw.WriteFrame(big); err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(&buf, nil, 0)
	if p, err := fr.ReadFrame(); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("big frame round trip: %v", err)
	}
}

// loopReader serves the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func BenchmarkFrameReader(b *testing.B) {
	payload := bytes.Repeat([]byte("p"), 150) // a typical small IKC post
	var one []byte
	one, _ = AppendFrame(one, payload)
	// Whole frames per loop, so every read ends on a frame boundary or not
	// depending on the chunk size, as on a real socket.
	stream := bytes.Repeat(one, 1000)
	fr := NewFrameReader(&loopReader{data: stream}, nil, 0)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p, err := fr.ReadFrame()
		if err != nil || len(p) != len(payload) {
			b.Fatalf("frame len %d, %v", len(p), err)
		}
	}
}

func BenchmarkFrameDecoder(b *testing.B) {
	payload := bytes.Repeat([]byte("p"), 150)
	var one []byte
	one, _ = AppendFrame(one, payload)
	chunk := bytes.Repeat(one, 100)
	d := NewFrameDecoder(0)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		if err := d.Feed(chunk); err != nil {
			b.Fatal(err)
		}
		for ; i < b.N; i++ {
			p, err := d.Next()
			if err != nil {
				b.Fatal(err)
			}
			if p == nil {
				break
			}
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

// deadlineReader times out once after handing out its first part.
type deadlineReader struct {
	parts    [][]byte
	timedOut bool
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if len(d.parts) == 0 {
		return 0, io.EOF
	}
	if len(d.parts) == 1 && !d.timedOut {
		d.timedOut = true
		return 0, timeoutErr{}
	}
	n := copy(p, d.parts[0])
	d.parts = d.parts[1:]
	return n, nil
}

func TestFrameReaderResumesAfterAReadTimeout(t *testing.T) {
	r := &deadlineReader{parts: [][]byte{[]byte("5\x00he"), []byte("llo")}}
	fr := NewFrameReader(r, nil, 0)
	if _, err := fr.ReadFrame(); !errors.Is(err, timeoutErr{}) {
		t.Fatalf("first ReadFrame: %v, want the timeout", err)
	}
	if p, err := fr.ReadFrame(); err != nil || string(p) != "hello" {
		t.Fatalf("after the timeout: %q, %v", p, err)
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestIsTimeoutFindsATimeoutThroughWrapping(t *testing.T) {
	deadline := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{io.EOF, false},
		{errors.New("plain"), false},
		{deadline, true},
		{fmt.Errorf("read frame: %w", deadline), true},
		{errors.Join(errors.New("x"), fmt.Errorf("y: %w", os.ErrDeadlineExceeded)), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false},
		{fmt.Errorf("closed: %w", net.ErrClosed), false},
	} {
		if got := IsTimeout(c.err); got != c.want {
			t.Errorf("IsTimeout(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// floodThenTrickle serves a flood (every read filled) and then frames one
// at a time, recording the room each read was given.
type floodThenTrickle struct {
	flood, trickle []byte
	rooms          []int
}

func (r *floodThenTrickle) Read(p []byte) (int, error) {
	r.rooms = append(r.rooms, len(p))
	if len(r.flood) > 0 {
		n := copy(p, r.flood)
		r.flood = r.flood[n:]
		return n, nil
	}
	if len(r.trickle) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 10)], r.trickle) // "5\x00hello" + part of the next
	r.trickle = r.trickle[n:]
	return n, nil
}

func TestFrameReaderReadsBigChunksInAFloodAndShrinksWhenItEnds(t *testing.T) {
	post := strings.Repeat("p", 56) // a Go kernel's post is about 60 bytes
	var payloads []string
	for i := 0; i < 5000; i++ {
		payloads = append(payloads, post)
	}
	r := &floodThenTrickle{flood: frameTestStream(t, payloads...), trickle: frameTestStream(t, "hello", "world", "again")}
	fr := NewFrameReader(r, nil, 0)
	for i := range payloads {
		if p, err := fr.ReadFrame(); err != nil || string(p) != post {
			t.Fatalf("flood frame %d: %q, %v", i, p, err)
		}
	}
	reads := len(r.rooms)
	// About 300 KB: at 4 KiB a read that is 75 reads; at 64 KiB, 5.
	if reads > 12 {
		t.Errorf("%d reads for %d bytes of frames, rooms %v: the buffer did not grow in the flood", reads, 5000*60, r.rooms)
	}
	for _, want := range []string{"hello", "world", "again"} {
		if p, err := fr.ReadFrame(); err != nil || string(p) != want {
			t.Fatalf("trickle frame: %q, %v; want %q", p, err, want)
		}
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if cap(fr.buf) > frameReadChunk {
		t.Errorf("buffer kept at %d bytes after the flood ended, want %d", cap(fr.buf), frameReadChunk)
	}
}

func TestFrameReaderHasFrameOnlyWhenAWholeFrameIsBuffered(t *testing.T) {
	one, err := AppendFrame(nil, []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := AppendFrame(nil, []byte("second, still arriving"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		buffered []byte
		want     bool
	}{
		{"nothing", nil, false},
		{"a header's start", two[:1], false},
		{"a header and part of the payload", two[:len(two)-1], false},
		{"a whole frame", two, true},
		{"a bad header", []byte("x\x00"), true},
	} {
		fr := NewFrameReader(bytes.NewReader(nil), append(append([]byte(nil), one...), tc.buffered...), 0)
		if _, err := fr.ReadFrame(); err != nil {
			t.Fatalf("%s: first frame: %v", tc.name, err)
		}
		if got := fr.HasFrame(); got != tc.want {
			t.Errorf("%s buffered behind a frame: HasFrame = %v, want %v", tc.name, got, tc.want)
		}
	}
}
