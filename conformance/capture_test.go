package conformance

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

const capturesDir = "testdata/captures"

type captureFrame struct {
	Dir           string          `json:"dir"`
	Index         int             `json:"index"`
	Offset        int             `json:"offset"`
	HeaderLength  int             `json:"header_length"`
	PayloadLength int             `json:"payload_length"`
	PayloadHead   string          `json:"payload_head_hex"`
	Freezer       string          `json:"freezer"`
	Value         json.RawMessage `json:"value"`
	ThawError     *string         `json:"thaw_error"`
}

type captureExpect struct {
	Scenario string         `json:"scenario"`
	Frames   []captureFrame `json:"frames"`
}

type storableFrame struct {
	name    string // scenario dir#index
	payload []byte
	value   perlcompat.Value
}

// loadCaptureFrames thaws every Storable frame of every capture, checking
// each against the decoded value the fixtures recorded. It returns the
// thawed frames and how many frames of other freezers it skipped.
func loadCaptureFrames(t *testing.T) ([]storableFrame, map[string]int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, "*.expect.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no capture fixtures in %s: %v", capturesDir, err)
	}
	sort.Strings(files)
	var frames []storableFrame
	skipped := map[string]int{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ex captureExpect
		if err := json.Unmarshal(raw, &ex); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		streams := map[string][]byte{}
		for _, dir := range []string{"c2s", "s2c"} {
			b, err := os.ReadFile(filepath.Join(capturesDir, ex.Scenario+"."+dir+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			streams[dir] = b
		}
		for _, fr := range ex.Frames {
			name := fmt.Sprintf("%s %s#%d", ex.Scenario, fr.Dir, fr.Index)
			if fr.Freezer != "Storable" {
				skipped[fr.Freezer]++
				continue
			}
			s := streams[fr.Dir]
			start := fr.Offset + fr.HeaderLength
			if start+fr.PayloadLength > len(s) {
				t.Errorf("%s: frame runs past the end of the stream", name)
				continue
			}
			header := string(s[fr.Offset:start])
			if header != fmt.Sprintf("%d\x00", fr.PayloadLength) {
				t.Errorf("%s: header %q does not announce %d bytes", name, header, fr.PayloadLength)
			}
			payload := s[start : start+fr.PayloadLength]
			if !strings.HasPrefix(hex.EncodeToString(payload), fr.PayloadHead) {
				t.Errorf("%s: payload does not start with the recorded %s", name, fr.PayloadHead)
			}
			if fr.ThawError != nil || fr.Value == nil {
				t.Errorf("%s: Storable frame without a recorded value", name)
				continue
			}
			v, err := storable.Thaw(payload)
			if err != nil {
				t.Errorf("%s: Thaw: %v\npayload %s", name, err, shortHexNow(payload))
				continue
			}
			got, err := captureNotation(v)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(fr.Value))
			dec.UseNumber()
			var want any
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("%s: recorded value: %v", name, err)
			}
			if d := cmp.Diff(normalizeNumbers(want), normalizeNumbers(got)); d != "" {
				t.Errorf("%s: thawed value differs from the recorded one (-recorded +go):\n%s", name, d)
			}
			frames = append(frames, storableFrame{name, payload, v})
		}
	}
	return frames, skipped
}

// jsonNumber is a number of the notation, compared by value.
type jsonNumber struct{ Rat string }

// normalizeNumbers turns every number (json.Number, int64, uint64,
// float64) into its exact rational value, so 1 and 1.0 compare equal and
// strings stay strings.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return ratOf(string(x))
	case int64:
		return ratOf(fmt.Sprint(x))
	case uint64:
		return ratOf(fmt.Sprint(x))
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return jsonNumber{fmt.Sprint(x)} // NaN, Inf: no rational value
		}
		return jsonNumber{r.RatString()}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeNumbers(e)
		}
		return out
	}
	return v
}

func ratOf(s string) jsonNumber {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return jsonNumber{"unparsable " + s}
	}
	return jsonNumber{r.RatString()}
}

// TestEveryCaptureFrameDecodes: every Storable frame that real Perl IKC
// kernels exchanged in the captures thaws in Go to the value the fixtures
// recorded (Perl's own thaw, in the captures' notation); then each thawed
// value, frozen again with NFreeze, must thaw in real Perl to the same
// description.
func TestEveryCaptureFrameDecodes(t *testing.T) {
	frames, skipped := loadCaptureFrames(t)
	if len(frames) == 0 {
		t.Fatal("no Storable frames found in the captures")
	}
	other := 0
	for name, n := range skipped {
		other += n
		t.Logf("skipped %d frame(s) of freezer %s (not Storable)", n, name)
	}
	t.Logf("%d Storable frames thawed and compared with the recorded values; %d frames of other freezers skipped", len(frames), other)
	if t.Failed() {
		return
	}

	requirePerl(t)
	wants := make([]string, len(frames))
	imgs := make([][]byte, len(frames))
	for i, f := range frames {
		img, err := storable.NFreeze(nil, f.value)
		if err != nil {
			t.Fatalf("%s: NFreeze of the thawed value: %v", f.name, err)
		}
		imgs[i] = img
		wants[i] = Describe(f.value)
	}
	res := perlCheck(t, func(yield func(checkItem) bool) {
		for i := range frames {
			if !yield(checkItem{ID: i, Hex: hex.EncodeToString(imgs[i]), Desc: wants[i]}) {
				return
			}
		}
	})
	for i, f := range frames {
		r, bad := res[i]
		if !bad {
			continue
		}
		if r.Error != "" {
			t.Errorf("%s: Perl can't thaw Go's re-encoding: %s\nimage %s", f.name, r.Error, shortHexNow(imgs[i]))
			continue
		}
		t.Errorf("%s: Perl sees Go's re-encoding differently (-go thaw +perl thaw of the re-encoding):\n%s",
			f.name, descDiff(wants[i], *r.Got))
	}
}
