package protocol

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The recordings of real Perl IKC kernels (see captures/README.md).
const negCaptureDir = "../conformance/testdata/captures"

type negCaptureLine struct {
	Dir        string `json:"dir"`
	Line       string `json:"line"`
	Terminator string `json:"terminator_hex"`
	Offset     int    `json:"offset"`
}

type negCaptureSetup struct {
	Kernel  []string `json:"KERNEL"`
	Freezer []string `json:"FREEZER"`
	PID     string   `json:"PID"`
}

type negCapture struct {
	Name        string
	Connections []struct {
		Protocol    string           `json:"protocol"`
		Freezer     string           `json:"freezer"`
		ClientSetup *negCaptureSetup `json:"client_setup"`
		ServerSetup *negCaptureSetup `json:"server_setup"`
		C2SLines    int              `json:"c2s_lines"`
		S2CLines    int              `json:"s2c_lines"`
		Offers      []struct {
			Answer  string `json:"answer"`
			Freezer string `json:"freezer"`
		} `json:"freezer_offers"`
	} `json:"connections"`
	Lines  []negCaptureLine `json:"negotiation_lines"`
	Frames []struct {
		Dir    string `json:"dir"`
		Index  int    `json:"index"`
		Offset int    `json:"offset"`
	} `json:"frames"`
	files map[string]string
}

func (c *negCapture) linesOf(dir, prefix string) []string {
	var out []string
	for _, l := range c.Lines {
		if l.Dir == dir && strings.HasPrefix(l.Line, prefix) {
			out = append(out, l.Line)
		}
	}
	return out
}

func (c *negCapture) firstFrameOffset(dir string) (int, bool) {
	for _, f := range c.Frames {
		if f.Dir == dir && f.Index == 0 {
			return f.Offset, true
		}
	}
	return 0, false
}

func loadNegCaptures(t testing.TB) []*negCapture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(negCaptureDir, "index.json"))
	if err != nil {
		t.Fatalf("reading capture index: %v", err)
	}
	var idx struct {
		Scenarios []struct {
			Name  string            `json:"name"`
			Files map[string]string `json:"files"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("parsing capture index: %v", err)
	}
	if len(idx.Scenarios) < 20 {
		t.Fatalf("capture index lists %d scenarios; expected the full set", len(idx.Scenarios))
	}
	var caps []*negCapture
	for _, s := range idx.Scenarios {
		raw, err := os.ReadFile(filepath.Join(negCaptureDir, s.Files["expect"]))
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		c := &negCapture{Name: s.Name, files: s.Files}
		if err := json.Unmarshal(raw, c); err != nil {
			t.Fatalf("%s: parsing expect.json: %v", s.Name, err)
		}
		if len(c.Connections) != 1 || len(c.Lines) == 0 {
			t.Fatalf("%s: want one connection with negotiation lines", s.Name)
		}
		caps = append(caps, c)
	}
	return caps
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad PID %q: %v", s, err)
	}
	return n
}

// legacyIdentity turns the IAM lines one side sent into the kernel ID and
// the Names list that produce them (names are sent last to first).
func legacyIdentity(iams []string) (string, []string) {
	var names []string
	for _, l := range iams[1:] {
		names = append(names, strings.TrimPrefix(l, "IAM "))
	}
	slices.Reverse(names)
	return strings.TrimPrefix(iams[0], "IAM "), names
}

func iamNames(iams []string) []string {
	var out []string
	for _, l := range iams {
		out = append(out, strings.TrimPrefix(l, "IAM "))
	}
	return out
}

// replay feeds the lines recorded in direction in to rx and checks that it
// sends exactly the lines recorded in the other direction, each no earlier
// than Perl sent it.
func replay(t *testing.T, c *negCapture, in string, first []string, rx func(string) ([]string, error), done func() bool) {
	t.Helper()
	queue := slices.Clone(first)
	for i, l := range c.Lines {
		if l.Terminator != "0d0a" {
			t.Fatalf("line %d: terminator %s; every capture uses CRLF", i, l.Terminator)
		}
		if l.Dir == in {
			if done() {
				t.Fatalf("line %d %q arrived after we considered the negotiation done", i, l.Line)
			}
			send, err := rx(l.Line)
			if err != nil {
				t.Fatalf("line %d %q: %v", i, l.Line, err)
			}
			queue = append(queue, send...)
			continue
		}
		if len(queue) == 0 {
			t.Fatalf("line %d: Perl sent %q, we had nothing to send", i, l.Line)
		}
		if queue[0] != l.Line {
			t.Fatalf("line %d: Perl sent %q, we send %q", i, l.Line, queue[0])
		}
		queue = queue[1:]
	}
	if len(queue) > 0 {
		t.Fatalf("we send %q that Perl never sent", queue)
	}
	if !done() {
		t.Fatalf("negotiation not done after the last recorded line")
	}
}

// TestServerNegotiatorAnswersEveryCapturedClientLikePerl configures our
// server like each recorded Perl server and replays the recorded client.
func TestServerNegotiatorAnswersEveryCapturedClientLikePerl(t *testing.T) {
	for _, c := range loadNegCaptures(t) {
		conn := c.Connections[0]
		t.Run(c.Name, func(t *testing.T) {
			cfg := ServerConfig{Freezers: []string{"Storable"}}
			var wantPeer []string
			var wantPID int
			switch conn.Protocol {
			case "IKC0":
				ss := conn.ServerSetup
				cfg.KernelID, cfg.Names, cfg.PID = ss.Kernel[0], ss.Kernel[1:], mustAtoi(t, ss.PID)
				cfg.Freezers = append(cfg.Freezers, ss.Freezer...)
				wantPeer = conn.ClientSetup.Kernel
				wantPID = mustAtoi(t, conn.ClientSetup.PID)
			case "IKC", "IKC0 refused, fell back to IKC":
				cfg.KernelID, cfg.Names = legacyIdentity(c.linesOf("s2c", "IAM "))
				for _, o := range conn.Offers {
					if o.Answer == "OK" {
						cfg.Freezers = append(cfg.Freezers, o.Freezer)
					}
				}
				cfg.LegacyOnly = conn.Protocol != "IKC"
				wantPeer = iamNames(c.linesOf("c2s", "IAM "))
			default:
				t.Fatalf("unknown protocol %q", conn.Protocol)
			}
			starts := []bool{cfg.LegacyOnly}
			if conn.Protocol == "IKC" {
				starts = []bool{false, true} // HELLO works in S010 and S000
			}
			for _, legacyOnly := range starts {
				cfg.LegacyOnly = legacyOnly
				n, err := NewServerNegotiator(cfg)
				if err != nil {
					t.Fatal(err)
				}
				replay(t, c, "c2s", nil, n.Receive, n.Done)
				r := n.Result()
				want := Result{
					Dialogue:     DialogueLegacy,
					Freezer:      conn.Freezer,
					PeerKernelID: wantPeer[0],
					PeerNames:    wantPeer,
				}
				if conn.Protocol == "IKC0" {
					want.Dialogue, want.PeerPID, want.PeerHasPID = DialogueIKC0, wantPID, true
				}
				if d := cmp.Diff(want, r); d != "" {
					t.Errorf("LegacyOnly=%v: result (-want +got):\n%s", legacyOnly, d)
				}
			}
		})
	}
}

// TestClientNegotiatorSendsEveryCapturedClientLineLikePerl configures our
// client like each recorded Perl client (or ClientLite) and replays the
// recorded server.
func TestClientNegotiatorSendsEveryCapturedClientLineLikePerl(t *testing.T) {
	for _, c := range loadNegCaptures(t) {
		conn := c.Connections[0]
		t.Run(c.Name, func(t *testing.T) {
			var cfg ClientConfig
			want := Result{Freezer: conn.Freezer}
			switch conn.Protocol {
			case "IKC0", "IKC0 refused, fell back to IKC":
				cs := conn.ClientSetup
				cfg = ClientConfig{KernelID: cs.Kernel[0], Names: cs.Kernel[1:], Freezers: cs.Freezer, PID: mustAtoi(t, cs.PID)}
			case "IKC":
				cfg.KernelID, cfg.Names = legacyIdentity(c.linesOf("c2s", "IAM "))
				for _, l := range c.linesOf("c2s", "FREEZER ") {
					cfg.Freezers = append(cfg.Freezers, strings.TrimPrefix(l, "FREEZER "))
				}
				cfg.LegacyOnly = true
			default:
				t.Fatalf("unknown protocol %q", conn.Protocol)
			}
			if conn.Protocol == "IKC0" {
				ss := conn.ServerSetup
				want.Dialogue, want.PeerNames, want.PeerPID, want.PeerHasPID = DialogueIKC0, ss.Kernel, mustAtoi(t, ss.PID), true
			} else {
				want.Dialogue, want.PeerNames = DialogueLegacy, iamNames(c.linesOf("s2c", "IAM "))
				want.FellBack = !cfg.LegacyOnly
			}
			want.PeerKernelID = want.PeerNames[0]
			n, err := NewClientNegotiator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			replay(t, c, "s2c", n.Start(), n.Receive, n.Done)
			if d := cmp.Diff(want, n.Result()); d != "" {
				t.Errorf("result (-want +got):\n%s", d)
			}
		})
	}
}

// negChunkReader returns one direction of a capture in the chunks the relay
// recorded, so reads split exactly where the real ones did.
type negChunkReader struct{ chunks [][]byte }

func (r *negChunkReader) Read(p []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	return n, nil
}

func loadNegChunks(t *testing.T, c *negCapture, dir string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(negCaptureDir, c.files["capture"]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var chunks [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var ev struct {
			Type, Dir, Hex string
			Off            int
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "chunk" || ev.Dir != dir {
			continue
		}
		b, err := hex.DecodeString(ev.Hex)
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, b)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return chunks
}

// TestLineReaderLeavesTheFrameStreamIntactInEveryCapture reads the recorded
// byte streams, split where the real reads split, and checks that after the
// last negotiation line the buffered bytes plus the unread rest are exactly
// the frame stream, starting at the first recorded frame.
func TestLineReaderLeavesTheFrameStreamIntactInEveryCapture(t *testing.T) {
	sharedRead := 0
	for _, c := range loadNegCaptures(t) {
		for _, dir := range []string{"c2s", "s2c"} {
			t.Run(c.Name+"/"+dir, func(t *testing.T) {
				stream, err := os.ReadFile(filepath.Join(negCaptureDir, c.files[dir]))
				if err != nil {
					t.Fatal(err)
				}
				chunks := loadNegChunks(t, c, dir)
				if !bytes.Equal(bytes.Join(chunks, nil), stream) {
					t.Fatalf("chunks of %s don't add up to %s", c.files["capture"], c.files[dir])
				}
				want := c.linesOf(dir, "")
				rd := &negChunkReader{chunks: chunks}
				lr := NewLineReader(rd, 0)
				for i, w := range want {
					got, err := lr.ReadLine()
					if err != nil {
						t.Fatalf("line %d: %v", i, err)
					}
					if got != w {
						t.Fatalf("line %d = %q, want %q", i, got, w)
					}
				}
				end := 0
				for _, l := range c.Lines {
					if l.Dir == dir {
						end = l.Offset + len(l.Line) + 2
					}
				}
				buffered := slices.Clone(lr.Buffered())
				rest, _ := io.ReadAll(rd)
				got := append(buffered, rest...)
				if !bytes.Equal(got, stream[end:]) {
					t.Fatalf("after the last line we keep %d bytes, want the %d after offset %d", len(got), len(stream)-end, end)
				}
				if off, ok := c.firstFrameOffset(dir); ok {
					if off != end {
						t.Fatalf("first frame at %d, last line ends at %d", off, end)
					}
					if len(buffered) > 0 {
						sharedRead++
						if buffered[0] < '0' || buffered[0] > '9' {
							t.Fatalf("buffered bytes start with %q, not a frame length", buffered[0])
						}
					}
				} else if len(got) != 0 {
					t.Fatalf("no frames recorded but %d bytes follow the lines", len(got))
				}
			})
		}
	}
	// i-server-push-monitor was recorded until the server's SETUP and its
	// first frames shared a read; make sure the test saw that happen.
	if sharedRead == 0 {
		t.Errorf("no capture had a frame in the same read as the last line; the leftover path went untested")
	}
}
