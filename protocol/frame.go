package protocol

import (
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/ikcgate/ikcgate/internal/bufpool"
)

// Frames are what POE::Filter::Reference puts on the wire once negotiation
// is over: the payload length in ASCII decimal, one NUL byte, then the
// payload (one frozen request). There is no other header, trailer or
// checksum, and a receiver that loses its place can never resync.
const (
	// DefaultMaxFrameSize is the largest payload accepted unless configured
	// otherwise. Perl's sender dies above 100 MiB of in-memory data and
	// its receiver buffers up to 512 MiB; IKC traffic is far smaller, so
	// 64 MiB keeps a hostile length from costing much memory.
	DefaultMaxFrameSize = 64 << 20

	// MaxFrameLengthDigits bounds the digits of a frame length, leading
	// zeros included. Perl accepts any number; 20 digits hold any 64-bit
	// length, so more only ever means garbage.
	MaxFrameLengthDigits = 20

	// maxFrameHeader is the longest possible header: digits and the NUL.
	maxFrameHeader = MaxFrameLengthDigits + 1
)

// AppendFrame appends one frame carrying payload to dst, with the length
// written as Perl writes it (no leading zeros). It refuses an empty
// payload (Perl dies thawing "") and one above DefaultMaxFrameSize (a Go
// receiver with default limits would refuse it).
func AppendFrame(dst, payload []byte) ([]byte, error) {
	return appendFrame(dst, payload, DefaultMaxFrameSize)
}

func appendFrame(dst, payload []byte, max int) ([]byte, error) {
	if len(payload) == 0 {
		return dst, ErrEmptyFrame
	}
	if len(payload) > max {
		return dst, &FrameSizeError{Size: uint64(len(payload)), Max: max}
	}
	dst = strconv.AppendUint(dst, uint64(len(payload)), 10)
	dst = append(dst, 0)
	return append(dst, payload...), nil
}

// parseFrame looks for one frame at the start of buf. It returns the
// payload (aliasing buf) and the bytes it spans, or n == 0 and no error
// when buf holds only part of a frame. Header errors are reported as soon
// as the bytes show them, so garbage is never buffered. need is the full
// frame size once the header is complete (0 before).
func parseFrame(buf []byte, max int) (payload []byte, n, need int, err error) {
	var size uint64
	i := 0
	for ; i < len(buf); i++ {
		c := buf[i]
		if c < '0' || c > '9' {
			break
		}
		if i == MaxFrameLengthDigits {
			return nil, 0, 0, newFrameHeaderError(buf, fmt.Sprintf("frame length has more than %d digits", MaxFrameLengthDigits))
		}
		if size <= uint64(max) { // past max the exact value no longer matters
			size = size*10 + uint64(c-'0')
		}
		if size > uint64(max) {
			exact := i+1 < len(buf) && buf[i+1] == 0
			return nil, 0, 0, &FrameSizeError{Size: size, AtLeast: !exact, Max: max}
		}
	}
	if i == len(buf) {
		return nil, 0, 0, nil // header incomplete
	}
	if i == 0 {
		return nil, 0, 0, newFrameHeaderError(buf, "want a frame length (ASCII digits then NUL)")
	}
	if buf[i] != 0 {
		return nil, 0, 0, newFrameHeaderError(buf, "frame length digits are not followed by NUL")
	}
	if size == 0 {
		e := newFrameHeaderError(buf, "zero-length frame (Perl dies thawing an empty payload)")
		e.empty = true
		return nil, 0, 0, e
	}
	hdr := i + 1
	total := hdr + int(size)
	if len(buf) < total {
		return nil, 0, total, nil
	}
	return buf[hdr:total:total], total, total, nil
}

func setFrameOffset(err error, off int64) error {
	if e, ok := err.(*FrameHeaderError); ok {
		e.Offset = off
	}
	return err
}

// maxFrameLimit keeps length arithmetic far from overflow: larger
// configured limits are lowered to it (about 2 GiB, four times Perl's own
// buffer limit).
const maxFrameLimit = 1<<31 - 1 - maxFrameHeader

func frameMax(max int) int {
	if max <= 0 {
		return DefaultMaxFrameSize
	}
	return min(max, maxFrameLimit)
}

// FrameDecoder splits a frame stream fed to it in pieces of any size. It
// does no I/O: Feed it bytes as they arrive and take payloads with Next.
// It buffers at most one incomplete frame plus the bytes of the last Feed.
// Errors are sticky: the stream cannot be resynchronized.
type FrameDecoder struct {
	max int
	buf []byte
	off int   // start of unconsumed bytes in buf
	pos int64 // frame-stream offset of buf[off]
	err error
}

// NewFrameDecoder returns a decoder that refuses frames longer than
// maxFrameSize bytes (DefaultMaxFrameSize when maxFrameSize <= 0).
func NewFrameDecoder(maxFrameSize int) *FrameDecoder {
	return &FrameDecoder{max: frameMax(maxFrameSize)}
}

// Feed appends p (copied) to the stream. It returns an error as soon as the
// buffered bytes cannot start a frame: a bad header, a zero length, or a
// length above the limit. Feed invalidates payloads returned by Next.
func (d *FrameDecoder) Feed(p []byte) error {
	if d.err != nil {
		return d.err
	}
	if d.off > 0 {
		n := copy(d.buf, d.buf[d.off:])
		d.buf = d.buf[:n]
		d.off = 0
	}
	d.buf = append(d.buf, p...)
	if _, _, _, err := parseFrame(d.buf, d.max); err != nil {
		d.err = setFrameOffset(err, d.pos)
	}
	return d.err
}

// Next returns the next complete payload, or nil and no error when more
// bytes are needed. The payload aliases the decoder's buffer and stays
// valid until the next call to Feed.
func (d *FrameDecoder) Next() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	payload, n, _, err := parseFrame(d.buf[d.off:], d.max)
	if err != nil {
		d.err = setFrameOffset(err, d.pos)
		return nil, d.err
	}
	d.off += n
	d.pos += int64(n)
	return payload, nil
}

// Buffered is the number of bytes fed but not yet returned as frames.
func (d *FrameDecoder) Buffered() int { return len(d.buf) - d.off }

// Close reports how the stream ended: nil between frames, or
// io.ErrUnexpectedEOF (wrapped, with what was missing) inside one. Call it
// when the peer has closed and Next returns nil.
func (d *FrameDecoder) Close() error {
	if d.err != nil {
		return d.err
	}
	return frameEOF(d.buf[d.off:], d.max)
}

// frameEOF builds the error for a stream that ended with rest unread.
func frameEOF(rest []byte, max int) error {
	if len(rest) == 0 {
		return io.EOF
	}
	_, _, need, _ := parseFrame(rest, max)
	if need == 0 {
		return fmt.Errorf("ikc: stream ended inside a frame length header after %d bytes: %w", len(rest), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("ikc: stream ended inside a frame: have %d of %d bytes, %d missing: %w",
		len(rest), need, need-len(rest), io.ErrUnexpectedEOF)
}

const (
	// frameReadChunk is how much FrameReader asks its reader for at once.
	frameReadChunk = 4 << 10 // grows while reads fill it; idle channels stay small
	// frameIdleBuffer is the largest buffer FrameReader keeps between
	// frames, and its size while reads fill it (a flood of small frames);
	// a larger buffer left by a big frame is dropped once it is drained.
	frameIdleBuffer = 64 << 10
)

// FrameReader reads frames from a connection in large chunks and returns
// payloads without copying them when it can.
type FrameReader struct {
	r          io.Reader
	max        int
	buf        []byte
	start, end int   // unread bytes are buf[start:end]
	pos        int64 // frame-stream offset of buf[start]
	rerr       error // error from r, reported once the buffer is drained
	err        error // sticky error from ReadFrame
	filled     bool  // the last read filled all the room it was given: more is waiting
}

// NewFrameReader returns a reader of the frame stream in r. buffered holds
// bytes already read from r past the end of negotiation (the start of the
// frame stream: Perl may send frames in the same segment as its last
// negotiation line); it is copied. Frames longer than maxFrameSize bytes
// (DefaultMaxFrameSize when maxFrameSize <= 0) are refused before their
// payload is read.
func NewFrameReader(r io.Reader, buffered []byte, maxFrameSize int) *FrameReader {
	size := frameReadChunk
	if len(buffered) > size/2 {
		size = len(buffered) + frameReadChunk
	}
	fr := &FrameReader{r: r, max: frameMax(maxFrameSize), buf: make([]byte, size)}
	fr.end = copy(fr.buf, buffered)
	return fr
}

// ReadFrame returns the next payload. The payload aliases the reader's
// buffer and is valid only until the next call to ReadFrame.
//
// At the end of the stream it returns io.EOF when the peer closed between
// frames, and an error wrapping io.ErrUnexpectedEOF (saying how much was
// missing) when it closed inside one. A bad header, a zero-length frame or
// a length above the limit are reported as soon as the bytes show them, as
// *FrameHeaderError (ErrFrameHeader, ErrEmptyFrame) or *FrameSizeError
// (ErrFrameTooLarge). Errors are sticky, except a timeout from the
// reader (a net.Conn read deadline): ReadFrame can then be called again and
// continues where it stopped.
func (fr *FrameReader) ReadFrame() ([]byte, error) {
	if fr.err != nil {
		return nil, fr.err
	}
	for {
		payload, n, need, err := parseFrame(fr.buf[fr.start:fr.end], fr.max)
		if err != nil {
			fr.err = setFrameOffset(err, fr.pos)
			return nil, fr.err
		}
		if n > 0 {
			fr.start += n
			fr.pos += int64(n)
			return payload, nil
		}
		if err := fr.fill(need); err != nil {
			if IsTimeout(err) {
				fr.rerr = nil // a read deadline passed: the stream is intact
				return nil, err
			}
			fr.err = err
			return nil, err
		}
	}
}

// Buffered returns the bytes read from the connection but not yet returned
// as frames. They are valid until the next ReadFrame.
func (fr *FrameReader) Buffered() []byte { return fr.buf[fr.start:fr.end] }

// HasFrame reports that the next ReadFrame returns without reading: a
// whole frame is buffered (or a bad header, or a sticky error). Bytes of
// a frame still arriving do not count: a server that holds its replies
// for the rest of a burst must not hold them while a big frame trickles
// in.
func (fr *FrameReader) HasFrame() bool {
	if fr.err != nil {
		return true
	}
	_, n, _, err := parseFrame(fr.buf[fr.start:fr.end], fr.max)
	return n > 0 || err != nil
}

// fill reads more bytes. need is the size of the frame being assembled, or
// 0 when its header is incomplete. The buffer grows at most to twice what
// has been received, so a declared length alone never allocates memory,
// or to 64 KiB while reads fill it; drained after a read that did not, it
// is 4 KiB again.
func (fr *FrameReader) fill(need int) error {
	have := fr.end - fr.start
	if fr.rerr != nil {
		return fr.readErr()
	}
	if have == 0 && (cap(fr.buf) > frameIdleBuffer || cap(fr.buf) > frameReadChunk && !fr.filled) {
		// Drained, and no flood: back to a small buffer, so that an idle
		// channel holds 4 KiB whatever it received before.
		bufpool.Put(fr.buf) // the last payload was handed out before this read
		fr.buf = make([]byte, frameReadChunk)
		fr.start, fr.end = 0, 0
	}
	if fr.start > 0 && (fr.end == len(fr.buf) || (need > 0 && fr.start+need > len(fr.buf))) {
		copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start, fr.end = 0, have
	}
	if fr.end == len(fr.buf) || fr.filled && len(fr.buf) < frameIdleBuffer {
		// Full of a partial frame, or the peer sends faster than we read:
		// reading 4 KiB at a time, a flood of small posts cost a read
		// call per 70 frames, 7% of the server's CPU.
		size := 2 * len(fr.buf)
		if fr.end < len(fr.buf) {
			size = frameIdleBuffer
		} else if need > 0 && size > need {
			size = max(need, len(fr.buf)+frameReadChunk)
		}
		nb := bufpool.Get(size)[:size]
		copy(nb, fr.buf[fr.start:fr.end])
		bufpool.Put(fr.buf)
		fr.buf = nb
		fr.start, fr.end = 0, have
	}
	for tries := 0; ; tries++ {
		room := len(fr.buf) - fr.end
		n, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += n
		fr.filled = n == room
		if err != nil {
			fr.rerr = err
		}
		if n > 0 {
			return nil // frames read before an error are returned first
		}
		if err != nil {
			return fr.readErr()
		}
		if tries >= 100 {
			return io.ErrNoProgress
		}
	}
}

// IsTimeout reports whether err is a timeout (a read deadline passing,
// in any net.Conn's words: any error in its chain whose Timeout() is
// true), as ReadFrame tells them from other errors. It is
// errors.As(err, &timeouter) && Timeout(), by hand:
// errors.As with an interface target goes through reflection, which cost
// a channel's teardown 6% of a connect-and-close cycle. Two differences,
// harmless for net errors: a joined error is a timeout if any branch is,
// and As methods are not consulted.
func IsTimeout(err error) bool {
	for err != nil && err != io.EOF {
		if t, ok := err.(interface{ Timeout() bool }); ok {
			return t.Timeout()
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if IsTimeout(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// readErr turns the pending read error into ReadFrame's error.
func (fr *FrameReader) readErr() error {
	if fr.rerr == io.EOF {
		return frameEOF(fr.buf[fr.start:fr.end], fr.max)
	}
	return fr.rerr
}

// FrameWriter writes frames to a connection, each with one Write call when
// it fits in a small buffer (or one writev on a net.Conn otherwise).
type FrameWriter struct {
	w   io.Writer
	max int
	buf []byte
}

// NewFrameWriter returns a writer that refuses payloads longer than
// maxFrameSize bytes (DefaultMaxFrameSize when maxFrameSize <= 0).
func NewFrameWriter(w io.Writer, maxFrameSize int) *FrameWriter {
	return &FrameWriter{w: w, max: frameMax(maxFrameSize)}
}

// WriteFrame writes one frame carrying payload. An empty payload
// (ErrEmptyFrame) or one above the limit (ErrFrameTooLarge) is refused
// before anything is written.
func (fw *FrameWriter) WriteFrame(payload []byte) error {
	if len(payload) <= frameReadChunk {
		b, err := appendFrame(fw.buf[:0], payload, fw.max)
		if err != nil {
			return err
		}
		fw.buf = b[:0]
		_, err = fw.w.Write(b)
		return err
	}
	if len(payload) > fw.max {
		return &FrameSizeError{Size: uint64(len(payload)), Max: fw.max}
	}
	hdr := strconv.AppendUint(fw.buf[:0], uint64(len(payload)), 10)
	hdr = append(hdr, 0)
	fw.buf = hdr[:0]
	bufs := net.Buffers{hdr, payload}
	_, err := bufs.WriteTo(fw.w)
	return err
}
