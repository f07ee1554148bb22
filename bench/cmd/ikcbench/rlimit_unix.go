//go:build unix

package main

import "syscall"

// raiseFileLimit lifts the soft open-file limit to the hard one: row 7
// holds 10,000 connections.
func raiseFileLimit() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}
