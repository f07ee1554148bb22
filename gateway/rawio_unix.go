//go:build unix

package gateway

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/ikcgate/ikcgate/internal/quickack"
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

	// writeAll's state. Sixteen buffers (chunks of small frames, or large frames) per writev: a burst takes a few
	// syscalls, and an idle channel holds 256 bytes, not IOV_MAX's 16 KB.
	bufs *net.Buffers
	iov  [16]syscall.Iovec
	wfn  func(fd uintptr) bool
	tfn  func(fd uintptr) bool // tryWritev's, on tb
	tb   net.Buffers
}

// newNBWriter returns nc's non-blocking writer, or nil when nc has no
// descriptor (net.Pipe in tests): then every frame goes to the writer.
func newNBWriter(nc net.Conn) *nbWriter {
	rc := rawConnOf(nc)
	if rc == nil {
		return nil
	}
	w := &nbWriter{rc: rc}
	w.fn = w.write
	return w
}

// unacked is set when the reader has read since the channel last had
// something to send: what it read will not be acknowledged by a frame of
// ours. When the reader then waits for more, it acknowledges at once
// (quickack.FD). A Perl peer writes without TCP_NODELAY, so a frame that
// draws no answer (a post) holds back the next one (a call) until it is
// acknowledged, and Linux delays a lone ACK 40 ms: ClientLite's
// post-then-call took 44 ms, against Perl's server too. Each frame sent
// clears it before it is written, so it acknowledges every byte read
// before.
type unacked struct {
	atomic.Bool
	// busy reports calls in flight on the channel, either way: then
	// frames of ours are coming (answers, further calls) that carry
	// the ACK, and acknowledging before them only splits the peer's
	// writes into more, smaller segments (16 pipelined calls through an
	// Upstream ran up to 20% slower). The stall this avoids is the idle
	// channel's: a post, and nothing of ours to follow it.
	busy func() bool
}

// on returns u when nc is a TCP connection on a system with
// TCP_QUICKACK, nil otherwise.
func (u *unacked) on(nc net.Conn) *unacked {
	if _, ok := nc.(*net.TCPConn); !ok || !quickack.Supported {
		return nil
	}
	return u
}

// quickAcks counts the quick ACKs sent, for tests.
var quickAcks atomic.Uint64

// clear is a sender's, before its frame is queued or written.
func (u *unacked) clear() {
	if u.Load() {
		u.Store(false)
	}
}

func (w *nbWriter) write(fd uintptr) bool {
	for {
		w.n, w.err = rawIO(syscall.SYS_WRITE, fd, w.p)
		if w.err != syscall.EINTR {
			return true // done, even on EAGAIN: never park
		}
	}
}

// rawIO is read(2) or write(2) on a non-blocking descriptor without the
// runtime's syscall bookkeeping: syscall.Read and Write enter a blocking
// syscall, which wakes the runtime's sysmon thread whenever the process
// was idle, about a fifth of a sequential server's CPU. A non-blocking
// call returns at once, so nothing needs the bookkeeping.
func rawIO(trap, fd uintptr, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := syscall.RawSyscall(trap, fd, uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// writeAll writes every byte of bufs, waiting in the runtime's poller
// while the socket is full: the writer goroutine's writev, through
// RawSyscall for the reason rawIO gives. It consumes bufs.
func (w *nbWriter) writeAll(bufs *net.Buffers) error {
	w.bufs, w.err = bufs, nil
	if w.wfn == nil {
		w.wfn = w.writev
	}
	err := w.rc.Write(w.wfn)
	werr := w.err
	w.bufs, w.err = nil, nil
	clear(w.iov[:]) // hold no frame
	if err != nil {
		return err
	}
	if werr != nil {
		return os.NewSyscallError("writev", werr)
	}
	return nil
}

// tryWritev writes what the socket takes of bufs now, without waiting,
// and returns the rest.
func (w *nbWriter) tryWritev(bufs net.Buffers) (net.Buffers, error) {
	w.tb, w.err = bufs, nil
	w.bufs = &w.tb
	if w.tfn == nil {
		w.tfn = func(fd uintptr) bool {
			w.writev(fd)
			return true // never park
		}
	}
	err := w.rc.Write(w.tfn)
	rest, werr := w.tb, w.err
	w.tb, w.bufs, w.err = nil, nil, nil
	clear(w.iov[:])
	if err != nil {
		return rest, err
	}
	if werr != nil {
		return rest, os.NewSyscallError("writev", werr)
	}
	return rest, nil
}

func (w *nbWriter) writev(fd uintptr) bool {
	bufs := w.bufs
	for len(*bufs) > 0 {
		n := 0
		for _, b := range *bufs {
			if n == len(w.iov) {
				break
			}
			if len(b) > 0 {
				w.iov[n].Base = &b[0]
				w.iov[n].SetLen(len(b))
				n++
			}
		}
		if n == 0 {
			*bufs = (*bufs)[:0]
			break
		}
		r, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(n))
		switch errno {
		case 0:
			consume(bufs, int64(r))
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until the socket takes more
		default:
			w.err = errno
			return true
		}
	}
	return true
}

// consume drops the first n bytes of bufs, as net.Buffers does.
func consume(bufs *net.Buffers, n int64) {
	for len(*bufs) > 0 {
		l := int64(len((*bufs)[0]))
		if l > n {
			(*bufs)[0] = (*bufs)[0][n:]
			return
		}
		n -= l
		*bufs = (*bufs)[1:]
	}
}

// rawReader reads a connection through rawIO, waiting for input in the
// runtime's poller as net.Conn's Read does (deadlines included).
type rawReader struct {
	rc      syscall.RawConn
	p       []byte
	n       int
	err     error
	fn      func(fd uintptr) bool
	unacked *unacked // see unacked; nil unless TCP on Linux
}

// rawConnOf returns nc's descriptor access, or nil when it has none.
func rawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// newRawReader returns nc's reader for the frame stream: a rawReader, or
// nc itself when it has no descriptor. u is the channel's: its senders
// clear it. busy runs in the read callback, with the descriptor's read
// lock held: it must not wait for anything that closes the connection.
func newRawReader(nc net.Conn, u *unacked) io.Reader {
	rc := rawConnOf(nc)
	if rc == nil {
		return nc
	}
	r := &rawReader{rc: rc, unacked: u.on(nc)}
	r.fn = r.read
	return r
}

func (r *rawReader) read(fd uintptr) bool {
	for {
		r.n, r.err = rawIO(syscall.SYS_READ, fd, r.p)
		switch r.err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if u := r.unacked; u != nil && u.Load() && (u.busy == nil || !u.busy()) {
				u.Store(false)
				quickack.FD(fd) // about to wait: nothing of ours will carry the ACK
				quickAcks.Add(1)
			}
			return false // wait for input
		case nil:
			if u := r.unacked; u != nil && r.n > 0 && !u.Load() {
				u.Store(true)
			}
		}
		return true
	}
}

// Read is net.Conn's Read: io.EOF at the end, errors wrapped with
// os.NewSyscallError as net's are.
func (r *rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p = p
	err := r.rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.p, r.err = nil, nil
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
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
