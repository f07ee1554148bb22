// Command ikcgate is the IKC gateway daemon: it stands in front of a Perl
// POE::Component::IKC server, answers the states migrated to Go and
// forwards the rest. Run with no arguments it uses the built-in
// configuration (kernel "ikcgate" on 127.0.0.1:6603, operations HTTP on
// 127.0.0.1:6604, the demo session). See daemon/CONFIG.md.
//
//	ikcgate [-config FILE] [-listen ADDR]... [-check] [-version]
//
// It is built the way a binary with its own Go handlers is: one call to
// daemon.Main with the handlers it registers.
package main

import "github.com/ikcgate/ikcgate/daemon"

func main() {
	daemon.Main(daemon.Options{Handlers: daemon.DemoHandlers()})
}
