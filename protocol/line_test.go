package protocol

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// splitAll feeds chunks to a splitter and collects every line.
func splitAll(s *LineSplitter, chunks ...string) ([]string, error) {
	var lines []string
	for _, c := range chunks {
		s.Feed([]byte(c))
		for {
			l, ok, err := s.Next()
			if err != nil {
				return lines, err
			}
			if !ok {
				break
			}
			lines = append(lines, l)
		}
	}
	return lines, nil
}

func TestLineSplitterAcceptsEveryTerminatorPerlAccepts(t *testing.T) {
	s := NewLineSplitter(0)
	got, err := splitAll(s, "a\r\nb\n\rc\rd\ne\r\n\r\n\n\nf")
	if err != nil {
		t.Fatal(err)
	}
	// CRLF, LFCR, CR, LF; then after e's CRLF: CRLF, LF, LF end three
	// empty lines (LF LF is not one terminator).
	want := []string{"a", "b", "c", "d", "e", "", "", ""}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("lines (-want +got):\n%s", d)
	}
	if string(s.Buffered()) != "f" {
		t.Fatalf("buffered %q, want f", s.Buffered())
	}
}

func TestLineSplitterDoesNotInventAnEmptyLineWhenATerminatorIsSplit(t *testing.T) {
	for _, chunks := range [][]string{
		{"OK\r", "\nDONE\r\n"},
		{"OK\n", "\rDONE\r\n"},
		{"OK\r", "", "\nDONE\r", "\n"},
	} {
		got, err := splitAll(NewLineSplitter(0), chunks...)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"OK", "DONE"}, got); d != "" {
			t.Errorf("%q: lines (-want +got):\n%s", chunks, d)
		}
	}
	// A genuine second terminator is still an empty line.
	got, _ := splitAll(NewLineSplitter(0), "OK\r", "\rX\n")
	if d := cmp.Diff([]string{"OK", "", "X"}, got); d != "" {
		t.Errorf("CR | CR: (-want +got):\n%s", d)
	}
}

func TestLineSplitterReturnsALineAsSoonAsItsTerminatorArrives(t *testing.T) {
	// The peer waits for our answer, so a lone CR at the end of a read must
	// end the line now, not when the next read shows whether LF follows.
	got, _ := splitAll(NewLineSplitter(0), "HELLO\r")
	if d := cmp.Diff([]string{"HELLO"}, got); d != "" {
		t.Fatal(d)
	}
}

func TestLineSplitterRefusesLinesLongerThanTheLimit(t *testing.T) {
	if _, err := splitAll(NewLineSplitter(4), "abcd\r\n"); err != nil {
		t.Fatalf("a line of exactly the limit: %v", err)
	}
	s := NewLineSplitter(4)
	_, err := splitAll(s, "abcde\r\n")
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("terminated: err %v, want ErrLineTooLong", err)
	}
	if _, _, again := s.Next(); !errors.Is(again, ErrLineTooLong) {
		t.Fatalf("the error is not sticky: %v", again)
	}
	// Without a terminator the splitter gives up as soon as the data can
	// no longer be a short enough line, instead of buffering forever.
	s = NewLineSplitter(4)
	if _, err := splitAll(s, "abcd"); err != nil {
		t.Fatal(err)
	}
	if _, err := splitAll(s, "e"); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("unterminated: err %v, want ErrLineTooLong", err)
	}
}

func TestAppendLineEndsWithCRLF(t *testing.T) {
	got := AppendLine([]byte("x"), "HELLO")
	if string(got) != "xHELLO\r\n" {
		t.Fatalf("%q", got)
	}
}

func TestLineReaderKeepsTheFrameBytesThatShareTheLastRead(t *testing.T) {
	stream := "SETUP KERNEL=S;FREEZER=Storable;PID=1\r\n12\x00\x05\x0b\x03\x00\x00\x00\x00"
	lr := NewLineReader(strings.NewReader(stream), 0)
	line, err := lr.ReadLine()
	if err != nil || line != "SETUP KERNEL=S;FREEZER=Storable;PID=1" {
		t.Fatalf("ReadLine = %q, %v", line, err)
	}
	if got := string(lr.Buffered()); got != "12\x00\x05\x0b\x03\x00\x00\x00\x00" {
		t.Fatalf("buffered %q", got)
	}
}

func TestLineReaderSplitsLikeTheUnchunkedStream(t *testing.T) {
	stream := "HELLO\r\nOK\n\rOK\rOK\nDONE\r\nFREEZER Storable\r\nWORLD\r\n5\x00abcde"
	want := []string{"HELLO", "OK", "OK", "OK", "DONE", "FREEZER Storable", "WORLD"}
	for name, r := range map[string]io.Reader{
		"one byte at a time": iotest.OneByteReader(strings.NewReader(stream)),
		"half reads":         iotest.HalfReader(strings.NewReader(stream)),
		"data with error":    iotest.DataErrReader(strings.NewReader(stream)),
	} {
		lr := NewLineReader(r, 0)
		for i, w := range want {
			got, err := lr.ReadLine()
			if err != nil || got != w {
				t.Fatalf("%s: line %d = %q, %v; want %q", name, i, got, err, w)
			}
		}
		rest, _ := io.ReadAll(r)
		want := "5\x00abcde"
		if name == "one byte at a time" {
			// The read ended right after WORLD's CR: the line is returned
			// at once (the peer is waiting for our answer), so its LF is
			// still unread and opens the frame stream. Perl writes CRLF in
			// one write, so this needs a peer that splits it.
			want = "\n" + want
		}
		if got := string(lr.Buffered()) + string(rest); got != want {
			t.Fatalf("%s: frame stream %q, want %q", name, got, want)
		}
	}
}

func TestLineReaderReportsAPartialLineAtEOF(t *testing.T) {
	lr := NewLineReader(strings.NewReader("OK\r\nDON"), 0)
	if l, err := lr.ReadLine(); l != "OK" || err != nil {
		t.Fatalf("%q %v", l, err)
	}
	if _, err := lr.ReadLine(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err %v, want io.ErrUnexpectedEOF", err)
	}
	lr = NewLineReader(strings.NewReader("OK\r\n"), 0)
	lr.ReadLine()
	if _, err := lr.ReadLine(); err != io.EOF {
		t.Fatalf("err %v, want io.EOF", err)
	}
}

func TestLineReaderGivesUpOnAReaderThatNeverProgresses(t *testing.T) {
	lr := NewLineReader(zeroReader{}, 0)
	if _, err := lr.ReadLine(); err != io.ErrNoProgress {
		t.Fatalf("err %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestLineReaderBoundsMemoryForAnEndlessLine(t *testing.T) {
	lr := NewLineReader(io.LimitReader(infiniteA{}, 1<<30), 1000)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err %v, want ErrLineTooLong", err)
	}
	if n := len(lr.Buffered()); n > 1000+lineReadSize {
		t.Fatalf("buffered %d bytes for a 1000-byte limit", n)
	}
}

type infiniteA struct{}

func (infiniteA) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// perlLineRE is POE::Filter::Line's get_one: s/^(.*?)(\x0D\x0A?|\x0A\x0D?)//s.
var perlLineRE = regexp.MustCompile(`(?s)^(.*?)(\r\n?|\n\r?)`)

// perlLines splits a whole stream the way Perl does when it arrives in
// one read: the reference for the fuzz target.
func perlLines(data []byte) (lines []string, rest []byte) {
	for {
		m := perlLineRE.FindSubmatchIndex(data)
		if m == nil {
			return lines, data
		}
		lines = append(lines, string(data[m[2]:m[3]]))
		data = data[m[1]:]
	}
}

// FuzzLineReader checks that any chunking of any bytes gives the lines and
// leftover that Perl's regexp gives for the whole stream, that the length
// limit is enforced exactly, and that buffering stays bounded.
func FuzzLineReader(f *testing.F) {
	for _, name := range []string{"f-legacy-ikc-client.c2s.bin", "f2-legacy-fallback-from-ikc0.s2c.bin", "i-server-push-monitor.s2c.bin", "h2-clientlite-legacy.c2s.bin"} {
		b, err := os.ReadFile(filepath.Join(negCaptureDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 400)], []byte{1, 7, 3, 200})
	}
	f.Add([]byte("a\r\nb\n\rc\rd\ne\r\n\r\n\n\nf"), []byte{2})
	f.Add([]byte("OK\r\r\n\n\r"), []byte{3, 1})
	f.Add([]byte(strings.Repeat("x", 70)+"\r\n"), []byte{10})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		const max = 64
		wantLines, wantRest := perlLines(data)
		tooLong := -1
		for i, l := range wantLines {
			if len(l) > max {
				tooLong = i
				break
			}
		}
		wantErr := tooLong >= 0 || len(wantRest) > max
		if tooLong >= 0 {
			wantLines = wantLines[:tooLong]
		}

		// Cut data into chunks whose sizes come from cuts.
		var chunks [][]byte
		for rest, i := data, 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, int(cuts[i%len(cuts)])%97+1)
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}

		s := NewLineSplitter(max)
		var got []string
		var err error
	feed:
		for _, c := range chunks {
			s.Feed(c)
			for {
				l, ok, e := s.Next()
				if e != nil {
					err = e
					break feed
				}
				if !ok {
					break
				}
				got = append(got, l)
			}
			if len(s.Buffered()) > max {
				t.Fatalf("%d bytes buffered without a line, limit %d", len(s.Buffered()), max)
			}
		}
		if (err != nil) != wantErr {
			t.Fatalf("err %v, want error %v (lines %q rest %q)", err, wantErr, wantLines, wantRest)
		}
		if err != nil && !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("err %v is not ErrLineTooLong", err)
		}
		if d := cmp.Diff(wantLines, got); err == nil && d != "" {
			t.Fatalf("lines (-unchunked +chunked):\n%s", d)
		}
		if err == nil && !bytes.Equal(s.Buffered(), wantRest) {
			t.Fatalf("leftover %q, want %q", s.Buffered(), wantRest)
		}
		if err != nil && len(got) > len(wantLines) {
			t.Fatalf("got %d lines before the error, at most %d possible", len(got), len(wantLines))
		}
	})
}
