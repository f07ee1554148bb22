//go:build race

package conformance

// raceEnabled: the binaries the end-to-end tests build get -race too.
const raceEnabled = true
