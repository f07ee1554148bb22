package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultMaxLineLength bounds one negotiation line. Perl's POE::Filter::Line
// allows 64 MiB; real negotiation lines are a few hundred bytes, so a Go
// peer has no reason to buffer more than this for a peer that never ends a
// line.
const DefaultMaxLineLength = 64 << 10

// ErrLineTooLong is returned when a line (or the unterminated data that would
// become one) exceeds the configured maximum length.
var ErrLineTooLong = errors.New("ikc: negotiation line too long")

// AppendLine appends line and the CRLF that every IKC kernel sends. Callers
// must write the result with one Write: a peer that reads a CR at the end of
// one read and the LF at the start of the next sees an extra empty line
// (POE::Filter::Line does not join them), which some negotiation phases
// answer with NOT. line must not contain CR or LF.
func AppendLine(dst []byte, line string) []byte {
	dst = append(dst, line...)
	return append(dst, '\r', '\n')
}

// LineSplitter is POE::Filter::Line's input side as a pure state machine:
// bytes in (Feed), lines out (Next). A line ends at CR LF, LF CR, a lone CR
// or a lone LF, exactly like the filter's default regexp
// (\x0D\x0A?|\x0A\x0D?).
//
// Unlike Perl, it remembers a terminator that ended the fed data: if the
// next Feed starts with the other half (LF after CR, CR after LF) that byte
// is swallowed, so the result never depends on where reads split the
// stream.
//
// The zero value is not usable; use NewLineSplitter.
type LineSplitter struct {
	buf     []byte // unconsumed bytes live in buf[start:]
	start   int
	scanned int  // buf[start:scanned] is known to hold no terminator
	expect  byte // other half of a terminator that ended the fed data, or 0
	max     int
	err     error
}

// NewLineSplitter returns a splitter that refuses lines longer than
// maxLineLength bytes (DefaultMaxLineLength when maxLineLength <= 0).
func NewLineSplitter(maxLineLength int) *LineSplitter {
	if maxLineLength <= 0 {
		maxLineLength = DefaultMaxLineLength
	}
	return &LineSplitter{max: maxLineLength}
}

// Feed appends bytes read from the peer. It keeps no reference to p.
func (s *LineSplitter) Feed(p []byte) {
	if len(p) == 0 {
		return
	}
	if s.expect != 0 {
		if p[0] == s.expect {
			p = p[1:]
		}
		s.expect = 0
	}
	if s.start > 0 && s.start >= len(s.buf)/2 {
		// Compact so the buffer does not grow with the stream.
		n := copy(s.buf, s.buf[s.start:])
		s.buf = s.buf[:n]
		s.scanned -= s.start
		s.start = 0
	}
	s.buf = append(s.buf, p...)
}

// Next returns the next complete line without its terminator. ok is false
// when more data is needed. Once it returns an error (only ErrLineTooLong),
// the splitter is unusable and keeps returning that error.
func (s *LineSplitter) Next() (line string, ok bool, err error) {
	if s.err != nil {
		return "", false, s.err
	}
	rest := s.buf[s.scanned:]
	i := bytes.IndexAny(rest, "\r\n")
	if i < 0 {
		s.scanned = len(s.buf)
		if len(s.buf)-s.start > s.max {
			s.err = fmt.Errorf("%w: more than %d bytes without a line terminator", ErrLineTooLong, s.max)
			return "", false, s.err
		}
		return "", false, nil
	}
	end := s.scanned + i
	if end-s.start > s.max {
		s.err = fmt.Errorf("%w: %d bytes, limit %d", ErrLineTooLong, end-s.start, s.max)
		return "", false, s.err
	}
	line = string(s.buf[s.start:end])
	other := byte('\n')
	if s.buf[end] == '\n' {
		other = '\r'
	}
	next := end + 1
	switch {
	case next == len(s.buf):
		s.expect = other // the other half may open the next Feed
	case s.buf[next] == other:
		next++
	}
	s.start = next
	s.scanned = next
	if s.start == len(s.buf) {
		s.buf = s.buf[:0]
		s.start, s.scanned = 0, 0
	}
	return line, true, nil
}

// Buffered returns the bytes fed but not yet returned as lines. After the
// last negotiation line they are the start of the frame stream. The slice
// aliases the splitter's buffer and is valid until the next Feed.
func (s *LineSplitter) Buffered() []byte {
	return s.buf[s.start:]
}

// lineReadSize is how much LineReader asks for per Read. Frames may follow
// the last line in the same read; they are kept, see Buffered.
const lineReadSize = 4 << 10

// lineReads recycles LineReader's read buffers between negotiations: a
// negotiation needs one for a few reads, and a fresh zeroed 4 KiB per
// connection was over a quarter of the bytes a Go server allocated per
// connect-negotiate-close cycle.
var lineReads = sync.Pool{New: func() any { return new([lineReadSize]byte) }}

// LineReader reads negotiation lines from an io.Reader. It reads only when
// it holds no complete line, so after the last negotiation line everything
// it has read past that line is in Buffered and the rest is still in the
// reader. Memory is bounded by the maximum line length plus one read.
type LineReader struct {
	rd    io.Reader
	s     *LineSplitter
	tmp   *[lineReadSize]byte // from lineReads, nil until the first read
	err   error               // read error not yet returned
	empty int                 // consecutive reads that returned 0, nil
}

// NewLineReader returns a LineReader over r with the given maximum line
// length (DefaultMaxLineLength when maxLineLength <= 0).
func NewLineReader(r io.Reader, maxLineLength int) *LineReader {
	return &LineReader{rd: r, s: NewLineSplitter(maxLineLength)}
}

// ReadLine returns the next line without its terminator. At the end of the
// stream it returns io.EOF, or io.ErrUnexpectedEOF if an unterminated
// partial line was left. Errors from the underlying reader are returned once,
// as bufio.Reader does, after the lines that arrived with them.
func (r *LineReader) ReadLine() (string, error) {
	for {
		line, ok, err := r.s.Next()
		if err != nil {
			return "", err
		}
		if ok {
			return line, nil
		}
		if r.err != nil {
			err := r.err
			r.err = nil
			if err == io.EOF && len(r.s.Buffered()) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if r.tmp == nil {
			r.tmp = lineReads.Get().(*[lineReadSize]byte)
		}
		n, err := r.rd.Read(r.tmp[:])
		if n < 0 || n > len(r.tmp) {
			return "", fmt.Errorf("ikc: reader returned invalid count %d", n)
		}
		r.s.Feed(r.tmp[:n])
		switch {
		case err != nil:
			r.err = err
		case n > 0:
			r.empty = 0
		default:
			// io.Reader discourages 0, nil; give up like bufio does
			// rather than spin.
			if r.empty++; r.empty >= 100 {
				r.err = io.ErrNoProgress
			}
		}
	}
}

// Buffered returns the bytes read past the last line ReadLine returned. The
// slice aliases the reader's buffer; copy it before the next ReadLine.
//
// A line whose CR ended a read is returned at once (the peer may be waiting
// for an answer), so if the peer split that CRLF across two writes, its LF
// is still unread and opens what follows. Perl writes each line and its
// CRLF together, and would itself choke on the stray LF after the last
// negotiation line.
func (r *LineReader) Buffered() []byte {
	return r.s.Buffered()
}

// release gives the read buffer back for the next negotiation. Buffered
// stays valid: it is the splitter's, not the read buffer. A LineReader
// that is never released just leaves its buffer to the collector.
func (r *LineReader) release() {
	if r.tmp != nil {
		lineReads.Put(r.tmp)
		r.tmp = nil
	}
}
