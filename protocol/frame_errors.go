package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Frame errors. Match them with errors.Is; the concrete types below carry
// the details.
var (
	// ErrFrameTooLarge means a frame's declared length is above the
	// configured limit. The payload is never buffered.
	ErrFrameTooLarge = errors.New("ikc: frame too large")

	// ErrEmptyFrame means a frame of length 0. Perl dies thawing "", so
	// such a frame is never sent and a received one is a protocol error.
	ErrEmptyFrame = errors.New("ikc: empty frame (length 0)")

	// ErrFrameHeader means the bytes where a frame must start are not
	// ASCII digits followed by NUL. POE::Filter::Reference never resyncs
	// (it buffers garbage until it dies at 512 MiB), so the stream is lost.
	ErrFrameHeader = errors.New("ikc: bad frame header")
)

// FrameSizeError reports a frame length above the limit. It matches
// ErrFrameTooLarge.
type FrameSizeError struct {
	// Size is the declared payload length. When AtLeast is set the length
	// had more digits still to come (or did not fit in 64 bits) and Size
	// is a lower bound.
	Size    uint64
	AtLeast bool
	// Max is the limit in force.
	Max int
}

func (e *FrameSizeError) Error() string {
	at := ""
	if e.AtLeast {
		at = "at least "
	}
	return fmt.Sprintf("ikc: frame too large: declared length %s%d bytes exceeds the limit of %d bytes (raise the max frame size if the peer really sends such frames)",
		at, e.Size, e.Max)
}

func (e *FrameSizeError) Is(target error) bool { return target == ErrFrameTooLarge }

// FrameHeaderError reports bytes that cannot start a frame. It matches
// ErrFrameHeader (or ErrEmptyFrame for a zero length).
type FrameHeaderError struct {
	// Offset is the position of the bad frame in the frame stream (0 is
	// the first byte after negotiation).
	Offset int64
	// Head holds the first bytes found there (at most 32).
	Head []byte
	// Reason says what was wrong, in a few words.
	Reason string
	// empty is set for a zero-length frame.
	empty bool
}

const frameHeadQuote = 32

func newFrameHeaderError(head []byte, reason string) *FrameHeaderError {
	if len(head) > frameHeadQuote {
		head = head[:frameHeadQuote]
	}
	return &FrameHeaderError{Head: bytes.Clone(head), Reason: reason}
}

func (e *FrameHeaderError) Error() string {
	msg := fmt.Sprintf("ikc: bad frame header at frame-stream offset %d: %s; got %s",
		e.Offset, e.Reason, strconv.QuoteToASCII(string(e.Head)))
	if guess := guessPeerProtocol(e.Head); guess != "" {
		msg += " (" + guess + ")"
	}
	return msg
}

func (e *FrameHeaderError) Is(target error) bool {
	if e.empty {
		return target == ErrEmptyFrame
	}
	return target == ErrFrameHeader
}

// guessPeerProtocol names what the peer seems to speak when a frame was
// expected, so that a misdirected connection gets a useful message.
func guessPeerProtocol(head []byte) string {
	hasPrefix := func(p string) bool { return bytes.HasPrefix(head, []byte(p)) }
	isLine := func(word string) bool {
		if !hasPrefix(word) {
			return false
		}
		rest := head[len(word):]
		return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\r' || rest[0] == '\n'
	}
	switch {
	case hasPrefix("PRI * HTTP/2"):
		return "the peer speaks HTTP/2, not IKC"
	case hasPrefix("HTTP/"):
		return "the peer speaks HTTP (that is a response), not IKC"
	case hasPrefix("GET "), hasPrefix("POST "), hasPrefix("PUT "), hasPrefix("HEAD "),
		hasPrefix("DELETE "), hasPrefix("OPTIONS "), hasPrefix("CONNECT "), hasPrefix("PATCH "):
		return "the peer sent an HTTP request, not IKC"
	case hasPrefix("SSH-"):
		return "the peer speaks SSH, not IKC"
	case len(head) >= 2 && head[0] == 0x16 && head[1] == 0x03:
		return "the peer started a TLS handshake; IKC has no TLS"
	case isLine("SETUP"):
		return "an IKC0 SETUP negotiation line: the peer is still negotiating, or negotiation bytes were handed to the frame reader"
	case isLine("HELLO"), isLine("IAM"), isLine("OK"), isLine("NOT"), isLine("DONE"),
		isLine("FREEZER"), isLine("WORLD"), isLine("UP"):
		return "a legacy IKC negotiation line: the peer is still negotiating, or negotiation bytes were handed to the frame reader"
	case len(head) >= 2 && (head[0] == 0x05 || head[0] == 0x04) && head[1] >= 0x07 && head[1] <= 0x0f:
		return "a Storable image without a length header: the peer does not use POE::Filter::Reference framing"
	case hasPrefix("FrT;"):
		return "a FreezeThaw payload without a length header"
	case hasPrefix("$POE::Component::IKC::Freezer"):
		return "a POE::Component::IKC::Freezer payload without a length header"
	case len(head) > 0 && head[0] >= '0' && head[0] <= '9':
		return "digits without the NUL separator: not POE::Filter::Reference framing"
	}
	return ""
}
