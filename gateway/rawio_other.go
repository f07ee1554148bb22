//go:build !unix

package gateway

import (
	"io"
	"net"
)

// nbWriter: inline writes are for unix descriptors; elsewhere every frame
// goes through the writer.
type nbWriter struct{}

func newNBWriter(net.Conn) *nbWriter { return nil }

func (*nbWriter) Write([]byte) (int, error) { return 0, nil }

func (*nbWriter) writeAll(*net.Buffers) error { return nil }

func (*nbWriter) tryWritev(b net.Buffers) (net.Buffers, error) { return b, nil }

func newRawReader(nc net.Conn, _ *unacked) io.Reader { return nc }

// unacked is rawio_unix.go's; unused here.
type unacked struct{ busy func() bool }

func (*unacked) clear() {}
