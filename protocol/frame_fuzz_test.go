package protocol

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"testing/iotest"
)

// fuzzFrameMax is small so that the fuzzer reaches the size limit.
const fuzzFrameMax = 4096

// refFrames is an independent, naive reading of POE::Filter::Reference's
// rule: while the buffer starts with digits and NUL and holds the whole
// payload, take a frame. It applies this package's limits (digit count,
// max size, no empty frames) and stops at the first violation.
func refFrames(stream []byte, max int) (frames []string, errKind error) {
	for len(stream) > 0 {
		nul := bytes.IndexByte(stream, 0)
		digits := len(stream)
		if nul >= 0 {
			digits = nul
		}
		for i := 0; i < digits; i++ {
			if stream[i] < '0' || stream[i] > '9' {
				digits = i
				break
			}
		}
		// Size limit first: it is checked digit by digit.
		var size uint64
		for i := 0; i < digits && i < MaxFrameLengthDigits; i++ {
			size = size*10 + uint64(stream[i]-'0')
			if size > uint64(max) {
				return frames, ErrFrameTooLarge
			}
		}
		switch {
		case digits > MaxFrameLengthDigits:
			return frames, ErrFrameHeader
		case digits == len(stream):
			return frames, io.ErrUnexpectedEOF
		case digits == 0 || stream[digits] != 0:
			return frames, ErrFrameHeader
		case size == 0:
			return frames, ErrEmptyFrame
		}
		n, _ := strconv.ParseUint(string(stream[:digits]), 10, 64)
		if uint64(len(stream)-digits-1) < n {
			return frames, io.ErrUnexpectedEOF
		}
		frames = append(frames, string(stream[digits+1:digits+1+int(n)]))
		stream = stream[digits+1+int(n):]
	}
	return frames, io.EOF
}

func frameErrKind(err error) error {
	for _, k := range []error{ErrFrameTooLarge, ErrEmptyFrame, ErrFrameHeader, io.ErrUnexpectedEOF} {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}

// chunker cuts a stream into pieces whose sizes come from seed.
func chunker(seed []byte) func() int {
	i := 0
	return func() int {
		if len(seed) == 0 {
			return 1 << 30
		}
		n := int(seed[i%len(seed)])%64 + 1
		if seed[i%len(seed)] >= 0xF0 {
			n = 1 << 30 // the rest at once
		}
		i++
		return n
	}
}

type chunkReader struct {
	data  []byte
	next  func() int
	reads int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.reads++
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.next(), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func FuzzFrameDecoder(f *testing.F) {
	streams, _ := fcapLoad(f)
	for _, st := range streams {
		phase := st.Bytes[st.Start:]
		if len(phase) > 2000 {
			phase = phase[:2000] // keep seeds small; the cut makes an EOF case
		}
		f.Add(phase, []byte{7, 3, 200, 1})
		// Negotiation lines then the first frame: garbage to a frame reader.
		f.Add(st.Bytes[:min(len(st.Bytes), st.Start+300)], []byte{})
	}
	for _, s := range []string{"005\x00hello", "0\x00", "99999999999999999999999\x00",
		"4097\x00", "4096\x00", "1\x00x2\x00", "HTTP/1.1 200 OK\r\n", "12"} {
		f.Add([]byte(s), []byte{1})
	}
	f.Fuzz(func(t *testing.T, stream, seed []byte) {
		want, wantErr := refFrames(stream, fuzzFrameMax)

		// FrameDecoder, fed in chunks.
		next := chunker(seed)
		d := NewFrameDecoder(fuzzFrameMax)
		var got []string
		var err error
		rest := stream
	feed:
		for len(rest) > 0 {
			n := min(next(), len(rest))
			if err = d.Feed(rest[:n]); err != nil {
				break
			}
			rest = rest[n:]
			for {
				p, err2 := d.Next()
				if err2 != nil {
					err = err2
					break feed
				}
				if p == nil {
					break
				}
				if len(p) == 0 {
					t.Fatal("empty payload returned")
				}
				got = append(got, string(p))
			}
			if d.Buffered() > maxFrameHeader+fuzzFrameMax+n {
				t.Fatalf("decoder buffers %d bytes after a feed of %d", d.Buffered(), n)
			}
		}
		if err == nil {
			err = d.Close()
		}
		checkFrames(t, "FrameDecoder", got, err, want, wantErr)

		// FrameReader, with part of the stream as negotiation leftovers.
		split := 0
		if len(seed) > 0 && len(stream) > 0 {
			split = int(seed[0]) % (len(stream) + 1)
		}
		cr := &chunkReader{data: stream[split:], next: chunker(seed)}
		var r io.Reader = cr
		if len(seed) > 1 && seed[1]%2 == 0 {
			r = iotest.DataErrReader(r)
		}
		fr := NewFrameReader(r, stream[:split], fuzzFrameMax)
		got = got[:0]
		for {
			whole, reads := fr.HasFrame(), cr.reads
			p, err := fr.ReadFrame()
			if whole && cr.reads != reads {
				t.Fatal("HasFrame said a whole frame was buffered, and ReadFrame read")
			}
			if err != nil {
				checkFrames(t, "FrameReader", got, err, want, wantErr)
				break
			}
			got = append(got, string(p))
			if len(got) > len(stream) {
				t.Fatal("more frames than bytes")
			}
		}
		if cap(fr.buf) > 2*(len(stream)+frameReadChunk) {
			t.Fatalf("reader buffer %d bytes for a %d-byte stream", cap(fr.buf), len(stream))
		}
	})
}

func checkFrames(t *testing.T, who string, got []string, err error, want []string, wantErr error) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, reference %d (err %v, reference %v)", who, len(got), len(want), err, wantErr)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: frame %d differs from the reference", who, i)
		}
	}
	if k := frameErrKind(err); k != wantErr {
		t.Fatalf("%s: ended with %v, reference %v", who, err, wantErr)
	}
}
