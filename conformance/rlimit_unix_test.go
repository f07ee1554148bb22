//go:build unix

package conformance

import "syscall"

// raiseFileLimit lifts the soft open-file limit to the hard one: the soak
// holds 1,000 connections, each end in this process.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
