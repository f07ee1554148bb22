package gcfloor_test

import "github.com/ikcgate/ikcgate/gcfloor"

// A Go program that embeds a gateway.Kernel starts a floor once, in main,
// before its traffic starts. A nil Tuner (GOGC set, or a Tuner already
// running) is safe to use.
func Example() {
	t := gcfloor.Start(gcfloor.DefaultFloor)
	defer t.Stop()

	// ... run the kernel ...
}
