package protocol

import (
	"strings"
	"testing"
)

// specFuzzSeeds seed FuzzParseSpecifier; TestParseSpecifierAgreesWithPerl
// also checks them against Specifier.pm.
var specFuzzSeeds = []string{
	"poe://Server/svc/echo", "poe://*/svc", "poe:/client/pong2", "poe:echo_reply",
	"poe://127.0.0.1:43359/svc/echo", "poe://unix:_tmp_ikc-capture-sock_j2-aliases-unix.server.sock:1-2/x/y",
	"//K/s/e?args", "s/e?a", "poe://K/ /", "poe:// / / ", "poe://K/s/ e", "poe://a-b.c d/s/e",
	"poe://K/s/e?x\n", "poe:\n", "poe://K/s\n/e", "poe:///", "poe:////", "poe://K/?", "poe:?",
	"poe://ab:12/s", "poe://a.b:12", "poe://ab:1:2", "poe://unix:", "poe://unix:x:1-", "poe://unix:x:1-2/",
	"0/0", "0/", "/0", "?0", "poe:0", "poe://0", "poe:/0/0", "//0/0/0", "//0/",
	"poe://K/séance/état", "poe://K/s/e\u0301", "poe://K/s/\u00aa", "poe://\u0663/s/e", "poe://K/s/e\u200d",
	"poe://K/s/e\u00b2", "poe://K/s/\u2070",
	"//unix:0A/", "poe://unix:0A", "poe://ab:12x", "poe://ab:12x/s/e", // found by the fuzzer
}

func FuzzParseSpecifier(f *testing.F) {
	for _, s := range specFuzzSeeds {
		f.Add(s)
	}
	for _, c := range specTable {
		f.Add(c.in)
	}
	for _, s := range specInvalid {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if fast, ok := parseSimpleSpecifier(s); ok {
			if slow, err := parseSpecifierSlow(s); err != nil || slow != fast {
				t.Fatalf("%q: fast path %+v, grammar %+v (%v)", s, fast, slow, err)
			}
		}
		sp, err := ParseSpecifier(s)
		if err != nil {
			return
		}
		for _, part := range []string{sp.Kernel, sp.Session, sp.State, sp.Args} {
			if part == "0" {
				t.Fatalf("%q: false part %q kept", s, part)
			}
		}
		if sp.HasArgs != (sp.Args != "") {
			t.Fatalf("%q: HasArgs %v with args %q", s, sp.HasArgs, sp.Args)
		}
		// Perl's rendering drops args. It is lossy without a session:
		// "poe://K/e" and "poe:/e" read e as the session, and a lone
		// kernel with a colon can split ("poe://unix:0A" reads as kernel
		// unix:0, state A; Perl agrees). Everything else must read back.
		noArgs := sp
		noArgs.Args, noArgs.HasArgs = "", false
		if sp.Session != "" || (sp.State == "" && !strings.Contains(sp.Kernel, ":")) {
			back, err := ParseSpecifier(sp.String())
			if err != nil || back != noArgs {
				t.Fatalf("%q parses as %+v, renders %q, reads back as %+v, %v", s, sp, sp.String(), back, err)
			}
		}
		// The forms Go sends are always lossless.
		if back, err := SpecifierFromValue(sp.Value()); err != nil || back != sp {
			t.Fatalf("%q: hash form reads back as %+v, %v", s, back, err)
		}
		if back, err := SpecifierFromValue(sp.wireValue()); err != nil || back != sp {
			t.Fatalf("%q: wire form reads back as %+v, %v", s, back, err)
		}
	})
}
