//go:build !unix

package conformance

// raiseFileLimit does nothing where there is no RLIMIT_NOFILE.
func raiseFileLimit() {}
