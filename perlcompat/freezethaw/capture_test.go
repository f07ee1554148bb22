package freezethaw

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Every FreezeThaw frame of the real Perl kernels decodes to what Perl's
// own thaw gave (expect.json "value").
func TestThawMatchesPerlOnCaptures(t *testing.T) {
	for _, f := range loadFrames(t, "g2-freezer-freezethaw") {
		t.Run(f.Name, func(t *testing.T) {
			v, err := Freezer{}.Thaw(f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f.Value, notation(v, 0), numbersByValue); diff != "" {
				t.Errorf("thawed value differs from Perl's (-perl +go):\n%s", diff)
			}
			// The capture shares one array under two keys: so must we.
			params := v.(*perlcompat.Hash).Get("params").(*perlcompat.Hash)
			if params.Get("shared_a") != params.Get("shared_b") {
				t.Error("shared_a and shared_b are not the same *Array")
			}
		})
	}
}

// Freezing what we thawed gives Perl's bytes back: the encoder follows
// FreezeThaw's key order and shared-reference numbering exactly.
func TestFreezeReproducesPerlFramesByteForByte(t *testing.T) {
	for _, f := range loadFrames(t, "g2-freezer-freezethaw") {
		v, err := Freezer{}.Thaw(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Freezer{}.Freeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, f.Payload) {
			i := 0
			for i < len(out) && i < len(f.Payload) && out[i] == f.Payload[i] {
				i++
			}
			t.Errorf("%s: frame differs from Perl's at byte %d: go %q, perl %q", f.Name, i,
				clip(out[i:]), clip(f.Payload[i:]))
		}
	}
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// g2b: a Perl client froze character strings; FreezeThaw counted
// characters, the wire carried UTF-8, and the Perl server died. We decode
// the frame by counting characters, and with BytesOnly fail as Perl did.
func TestThawRecoversFrameThatKillsPerl(t *testing.T) {
	frames := loadFrames(t, "g2b-freezer-freezethaw-utf8-crash")
	f := frames[0]
	if f.ThawErr == "" || f.HasValue {
		t.Fatalf("capture changed: want a thaw_error, got %+v", f.ThawErr)
	}

	_, err := Decoder{BytesOnly: true}.Thaw(f.Payload)
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrSyntax) {
		t.Fatalf("BytesOnly: want a syntax error like Perl's %q, got %v", f.ThawErr, err)
	}
	// Perl: "Do not know how to thaw data with code `©'" — the second byte
	// of "é" in "clé", read as a code.
	if !strings.Contains(err.Error(), "do not know how to thaw data with code") || f.Payload[de.Offset] != 0xa9 {
		t.Errorf("BytesOnly error %v at byte %#x, want Perl's error at the 0xa9 of clé", err, f.Payload[de.Offset])
	}

	v, err := Freezer{}.Thaw(f.Payload)
	if err != nil {
		t.Fatalf("default Thaw: %v", err)
	}
	params := v.(*perlcompat.Hash).Get("params").(*perlcompat.Hash)
	checks := map[string]perlcompat.Str{
		"utf8":        {S: "café ☺ 😀", UTF8: true},
		"key☺":        {S: "utf8 key"},
		"clé":         {S: "latin-1 key that was utf8"},
		"ascii":       {S: "plain ascii"},
		"int":         {S: "42"},
		"float":       {S: "3.14159"},
		"numstr":      {S: "007"},
		"line\nbreak": {S: "tab\there\r\nCRLF and \x00 NUL"},
	}
	for k, want := range checks {
		if got := params.Get(k); got != want {
			t.Errorf("params{%q} = %#v, want %#v", k, got, want)
		}
	}
	// Byte strings were upgraded by Perl along with the frame: they come
	// back as the same characters.
	for k, want := range map[string]string{"bytes": "\x00\x01\x7f\u0080\u00fe\u00ff", "latin1": "café"} {
		if s, ok := params.Get(k).(perlcompat.Str); !ok || s.Chars() != want {
			t.Errorf("params{%q} = %#v, want the characters %q", k, params.Get(k), want)
		}
	}
	if s := params.Get("utf8_long").(perlcompat.Str); s.Chars() != strings.Repeat("☺", 100) {
		t.Errorf("utf8_long = %q", s.Chars())
	}
	if params.Get("shared_a") != params.Get("shared_b") {
		t.Error("shared_a and shared_b are not the same *Array")
	}
}
