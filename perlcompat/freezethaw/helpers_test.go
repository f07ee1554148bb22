package freezethaw

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat/internal/freezertest"
)

// The shared test helpers, under the names this package's tests use.

const capturesDir = "../../conformance/testdata/captures"

type captureFrame = freezertest.CaptureFrame

func loadFrames(t testing.TB, scenario string) []captureFrame {
	return freezertest.LoadFrames(t, capturesDir, scenario)
}

var (
	notation       = freezertest.Notation
	numbersByValue = freezertest.NumbersByValue
	describe       = freezertest.Describe
	requirePerl    = freezertest.RequirePerl
)

func runPerl(t *testing.T, stdin []byte, script string, args ...string) []string {
	return freezertest.RunPerl(t, stdin, filepath.Join("testdata", script), args...)
}

func newValueGen(r *rand.Rand, wideText bool) *freezertest.ValueGen {
	return freezertest.NewValueGen(r, wideText)
}
