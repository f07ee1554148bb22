package perlcompat

import (
	"strings"
	"testing"
)

func TestIsASCIIFindsAHighByteAtEveryOffsetAndLength(t *testing.T) {
	for n := 0; n <= 40; n++ {
		base := strings.Repeat("a", n)
		if !IsASCII(base) {
			t.Fatalf("IsASCII(%d a's) = false", n)
		}
		for i := 0; i < n; i++ {
			for _, hi := range []byte{0x80, 0xC3, 0xFF} {
				b := []byte(base)
				b[i] = hi
				if IsASCII(string(b)) {
					t.Fatalf("isASCII with %#x at %d of %d = true", hi, i, n)
				}
			}
		}
	}
}

func FuzzIsASCII(f *testing.F) {
	f.Add("hello, ikc")
	f.Add("vm-6b0537ff-00005fea-0000001\xe9")
	f.Fuzz(func(t *testing.T, s string) {
		want := true
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				want = false
			}
		}
		if got := IsASCII(s); got != want {
			t.Fatalf("IsASCII(%q) = %v, want %v", s, got, want)
		}
	})
}
