package protocol

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// negFuzzSeeds adds every captured negotiation, one direction per seed,
// as newline-separated lines.
func negFuzzSeeds(f *testing.F, dir string) {
	f.Helper()
	for _, c := range loadNegCaptures(f) {
		f.Add([]byte(strings.Join(c.linesOf(dir, ""), "\n")), byte(0))
		f.Add([]byte(strings.Join(c.linesOf(dir, ""), "\n")), byte(1))
	}
}

// checkSent checks that a negotiator only ever sends well-formed lines.
func checkSent(t *testing.T, send []string, ok func(string) bool) {
	t.Helper()
	for _, l := range send {
		if l == "" || strings.ContainsAny(l, "\r\n") || !ok(l) {
			t.Fatalf("sent malformed line %q", l)
		}
	}
}

func FuzzServerNegotiator(f *testing.F) {
	negFuzzSeeds(f, "c2s")
	f.Add([]byte("SETUP KERNEL=a,,b;FREEZER=x,Storable;PID=99999999999999999999999\nHELLO"), byte(0))
	f.Add([]byte("HELLO\nOK\nOK\nOK\nOK\nIAM a\nDONE\nFREEZER FreezeThaw\nFREEZER Bogus\nWORLD\nextra"), byte(2))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		cfg := testServerConfig()
		cfg.LegacyOnly = mode&1 != 0
		cfg.OmitPID = mode&2 != 0
		cfg.Limits = Limits{MaxLines: 64, MaxNames: 8, MaxFreezers: 8, MaxLineLength: 512}
		n := newServer(t, cfg)
		lim := n.lim
		names := append([]string{cfg.KernelID}, cfg.Names...)
		wellFormed := func(l string) bool {
			switch l {
			case "NOT", "OK", "DONE", "UP":
				return true
			}
			if name, ok := strings.CutPrefix(l, "IAM "); ok {
				return slices.Contains(names, name)
			}
			body, ok := setupBody(l)
			if !ok {
				return false
			}
			si, err := parseSetup(body, DefaultLimits())
			return err == nil && !si.bad && slices.Equal(si.kernel, names) && len(si.freezer) == 1 &&
				slices.Contains(cfg.Freezers, si.freezer[0]) && si.hasPID == !cfg.OmitPID && (!si.hasPID || si.pid == cfg.PID)
		}
		var failed error
		for _, line := range strings.Split(string(data), "\n") {
			send, err := n.Receive(line)
			if failed != nil {
				if err != failed {
					t.Fatalf("after %v, Receive returned %v", failed, err)
				}
				continue
			}
			if err != nil {
				if errors.Is(err, ErrNegotiationDone) {
					if !n.Done() {
						t.Fatal("ErrNegotiationDone before Done")
					}
					continue
				}
				if send != nil {
					t.Fatalf("sent %q with error %v", send, err)
				}
				failed = err
				continue
			}
			checkSent(t, send, wellFormed)
		}
		if !n.Done() {
			return
		}
		r := n.Result()
		switch r.Dialogue {
		case DialogueIKC0:
			if len(r.PeerNames) == 0 || !slices.Contains(cfg.Freezers, r.Freezer) || cfg.LegacyOnly {
				t.Fatalf("bad IKC0 result %+v", r)
			}
		case DialogueLegacy:
			if r.Freezer != DefaultFreezer && !slices.Contains(cfg.Freezers, r.Freezer) {
				t.Fatalf("legacy result with freezer %q", r.Freezer)
			}
			for _, name := range r.PeerNames {
				if !allBytes(name, isNameByte) {
					t.Fatalf("legacy name %q does not match IAM's pattern", name)
				}
			}
		default:
			t.Fatalf("done with dialogue %v", r.Dialogue)
		}
		if len(r.PeerNames) > lim.MaxNames || (len(r.PeerNames) > 0 && r.PeerKernelID != r.PeerNames[0]) {
			t.Fatalf("result %+v breaks the limits or the ID rule", r)
		}
	})
}

func FuzzClientNegotiator(f *testing.F) {
	negFuzzSeeds(f, "s2c")
	f.Add([]byte("SETUP KERNEL=S;FREEZER=Bogus\nSETUP KERNEL=S;FREEZER=Storable,FreezeThaw\nNOT\nIAM x\nDONE\nOK\nOK\nOK\nOK\nNOT\nNOT\nNOT\nUP"), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		cfg := testClientConfig()
		cfg.LegacyOnly = mode&1 != 0
		if mode&2 != 0 {
			cfg.Freezers = cfg.Freezers[1:]
		}
		cfg.Limits = Limits{MaxLines: 64, MaxNames: 8, MaxFreezers: 8, MaxLineLength: 512}
		n := newClient(t, cfg)
		names := append([]string{cfg.KernelID}, cfg.Names...)
		wellFormed := func(l string) bool {
			switch l {
			case "NOT", "OK", "DONE", "HELLO", "WORLD":
				return true
			}
			if name, ok := strings.CutPrefix(l, "IAM "); ok {
				return slices.Contains(names, name)
			}
			if fr, ok := strings.CutPrefix(l, "FREEZER "); ok {
				return slices.Contains(cfg.Freezers, fr)
			}
			return false
		}
		first := n.Start()
		if len(first) != 1 || (cfg.LegacyOnly != (first[0] == "HELLO")) {
			t.Fatalf("Start sent %q", first)
		}
		var failed error
		for _, line := range strings.Split(string(data), "\n") {
			send, err := n.Receive(line)
			if failed != nil {
				if err != failed {
					t.Fatalf("after %v, Receive returned %v", failed, err)
				}
				continue
			}
			if err != nil {
				if errors.Is(err, ErrNegotiationDone) {
					continue
				}
				failed = err
				continue
			}
			checkSent(t, send, wellFormed)
		}
		if !n.Done() {
			return
		}
		r := n.Result()
		switch r.Dialogue {
		case DialogueIKC0:
			if cfg.LegacyOnly || r.FellBack || len(r.PeerNames) == 0 || !slices.Contains(cfg.Freezers, r.Freezer) {
				t.Fatalf("bad IKC0 result %+v", r)
			}
		case DialogueLegacy:
			if r.Freezer != DefaultFreezer && !slices.Contains(cfg.Freezers, r.Freezer) {
				t.Fatalf("legacy result with freezer %q", r.Freezer)
			}
			if r.FellBack == cfg.LegacyOnly {
				t.Fatalf("FellBack %v with LegacyOnly %v", r.FellBack, cfg.LegacyOnly)
			}
		default:
			t.Fatalf("done with dialogue %v", r.Dialogue)
		}
		if len(r.PeerNames) > 8 {
			t.Fatalf("%d names despite MaxNames 8", len(r.PeerNames))
		}
	})
}
