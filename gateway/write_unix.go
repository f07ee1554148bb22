//go:build unix

package gateway

import (
	"net"
	"syscall"
)

// nbWriter writes to a connection's descriptor without waiting for room.
// One lives in each channel and is used under its wmu; its callback is
// bound once, so a write allocates nothing.
type nbWriter struct {
	rc  syscall.RawConn
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// newNBWriter returns nc's non-blocking writer, or nil when nc has no
// descriptor (net.Pipe in tests): then every frame goes to the writer.
func newNBWriter(nc net.Conn) *nbWriter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &nbWriter{rc: rc}
	w.fn = w.write
	return w
}

func (w *nbWriter) write(fd uintptr) bool {
	for {
		w.n, w.err = syscall.Write(int(fd), w.p)
		if w.err != syscall.EINTR {
			return true // done, even on EAGAIN: never park
		}
	}
}

// Write writes what the socket takes of p now: net's descriptors are
// non-blocking and the callback returns at once instead of parking on
// EAGAIN. A broken connection gives EPIPE, not SIGPIPE: Go ignores
// SIGPIPE for descriptors other than 1 and 2.
func (w *nbWriter) Write(p []byte) (int, error) {
	w.p = p
	err := w.rc.Write(w.fn)
	n, werr := w.n, w.err
	w.p, w.err = nil, nil
	switch {
	case err != nil:
		return 0, err
	case werr == syscall.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}
