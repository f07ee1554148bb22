package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ikcgate/ikcgate/internal/quickack"
)

// ErrHandshakeTimeout is the cause of a handshake that ran out of
// Limits.Timeout.
var ErrHandshakeTimeout = errors.New("ikc: negotiation timed out")

// ErrPeerClosed means the peer closed the connection before the
// negotiation finished.
var ErrPeerClosed = errors.New("ikc: peer closed the connection during negotiation")

// ServerHandshake runs the server side of the negotiation on conn: it reads
// the client's lines and writes the answers, each line with its CRLF, all
// lines of one answer in one Write. It returns what was agreed and the bytes
// it read past the last negotiation line: the start of the frame stream,
// which the frame reader must consume before reading conn again (see
// LineReader.Buffered for the one case a split CRLF can leave its LF behind).
//
// ctx and cfg.Limits.Timeout bound the wait. When conn has SetDeadline
// (every net.Conn does), a cancelled context interrupts a blocked Read or
// Write at once; otherwise it is noticed between reads. The deadline is
// cleared before returning, and no goroutine outlives the call.
//
// conn is never closed: the caller decides. Mind that closing a connection
// whose negotiation did not finish kills a Perl IKC 0.2400-0.2402 client
// process (PROTOCOL.md §2.6). Perl servers have no negotiation timeout.
func ServerHandshake(ctx context.Context, conn io.ReadWriter, cfg ServerConfig) (Result, []byte, error) {
	n, err := NewServerNegotiator(cfg)
	if err != nil {
		return Result{}, nil, err
	}
	return handshake(ctx, conn, n, nil, n.lim)
}

// ClientHandshake runs the client side of the negotiation on conn: SETUP
// (falling back to HELLO on the same connection if refused), or HELLO with
// cfg.LegacyOnly. Its results, timeouts and cancellation are as for
// ServerHandshake; the client sends nothing after the server's last line.
//
// A timeout here leaves the caller with a half-negotiated connection to a
// Perl server. Closing it kills a Perl IKC 0.2400-0.2402 server process
// (PROTOCOL.md §2.6); only servers older than 0.2300, which never answer
// SETUP and lack that bug, can be safely given up on (then reconnect with
// LegacyOnly).
func ClientHandshake(ctx context.Context, conn io.ReadWriter, cfg ClientConfig) (Result, []byte, error) {
	n, err := NewClientNegotiator(cfg)
	if err != nil {
		return Result{}, nil, err
	}
	return handshake(ctx, conn, n, n.Start(), n.lim)
}

// lineNegotiator is what ServerNegotiator and ClientNegotiator share.
type lineNegotiator interface {
	Receive(line string) ([]string, error)
	Done() bool
	Result() Result
	State() string
}

type deadliner interface {
	SetDeadline(t time.Time) error
}

// pastDeadline unblocks I/O at once; any time in the past will do.
var pastDeadline = time.Unix(1, 0)

func handshake(ctx context.Context, conn io.ReadWriter, n lineNegotiator, first []string, lim Limits) (res Result, leftover []byte, err error) {
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, lim.Timeout, ErrHandshakeTimeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return Result{}, nil, context.Cause(ctx)
	}
	if dl, ok := conn.(deadliner); ok {
		if d, ok := ctx.Deadline(); ok {
			if err := dl.SetDeadline(d); err != nil {
				return Result{}, nil, fmt.Errorf("ikc: negotiation: setting deadline: %w", err)
			}
		}
		interrupted := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(interrupted)
			dl.SetDeadline(pastDeadline)
		})
		defer func() {
			if !stop() {
				<-interrupted // never leave it running, nor let it win
			}
			dl.SetDeadline(time.Time{})
		}()
	}
	// cause turns an I/O error into the context's cause when that is why it
	// failed.
	cause := func(err error) error {
		// The conn's deadline is ctx's, and the socket can time out a
		// moment before ctx's own timer fires: let it, so the timeout is
		// reported as ErrHandshakeTimeout rather than a bare I/O timeout.
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			if _, ok := ctx.Deadline(); ok {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("ikc: negotiation in state %s: %w", n.State(), context.Cause(ctx))
		}
		return err
	}

	var out []byte
	write := func(lines []string) error {
		if len(lines) == 0 {
			return nil
		}
		out = out[:0]
		for _, l := range lines {
			out = AppendLine(out, l)
		}
		if _, err := conn.Write(out); err != nil {
			return cause(fmt.Errorf("ikc: negotiation in state %s: write: %w", n.State(), err))
		}
		return nil
	}

	if err := write(first); err != nil {
		return Result{}, nil, err
	}
	lr := NewLineReader(conn, lim.MaxLineLength)
	defer lr.release()
	for {
		if err := ctx.Err(); err != nil {
			return Result{}, nil, cause(err)
		}
		line, err := lr.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w (state %s): %w", ErrPeerClosed, n.State(), err)
			} else if !errors.Is(err, ErrLineTooLong) {
				err = fmt.Errorf("ikc: negotiation in state %s: read: %w", n.State(), err)
			}
			return Result{}, nil, cause(err)
		}
		send, err := n.Receive(line)
		if err != nil {
			return Result{}, nil, err
		}
		if err := write(send); err != nil {
			return Result{}, nil, err
		}
		if n.Done() {
			return n.Result(), slices.Clone(lr.Buffered()), nil
		}
		if len(send) == 0 && len(lr.Buffered()) == 0 {
			// A line that draws no answer (a legacy client's DONE) is
			// acknowledged at once. Perl's ClientLite writes without
			// TCP_NODELAY, so its next line (FREEZER) waits until the
			// last is acknowledged, and Linux delays that ACK by 40 ms
			// when no answer carries it: without this every legacy
			// ClientLite connection stalled 40 ms, on Perl servers too.
			quickack.Conn(conn)
		}
	}
}
