// Package protocol is the wire of POE::Component::IKC (Inter-Kernel
// Communication) as spoken by Perl IKC 0.2402 kernels: everything between
// the socket and a decoded request, without the socket.
//
// A connection ("channel") has two phases.
//
// Negotiation is line based (POE::Filter::Line): lines end in CRLF when
// sent, and CRLF, LF CR, CR or LF are accepted (LineSplitter, LineReader,
// AppendLine). The client speaks first and picks a dialogue: IKC0, one
// SETUP line each way naming kernels, one freezer (serializer) and a PID,
// or the legacy "IKC" dialogue (HELLO, IAM, OK, DONE, FREEZER, WORLD, UP).
// A server refuses SETUP with NOT when it can't agree, and the client then
// falls back to legacy on the same connection. ServerNegotiator and
// ClientNegotiator are these dialogues as pure state machines (lines in,
// lines out) that follow Perl's Channel.pm state by state; ServerHandshake
// and ClientHandshake run them on a connection. On Linux TCP they
// acknowledge a line that draws no answer at once: Perl's ClientLite
// writes DONE and FREEZER back to back without TCP_NODELAY, and a delayed
// ACK held every legacy ClientLite negotiation 40 ms (Perl's own server
// included).
//
// After the last negotiation line both sides switch to frames
// (POE::Filter::Reference): an ASCII decimal length, a NUL, and that many
// bytes of a serialized message made by the agreed freezer. A frame can
// share a read with the last line, so the handshakes return the bytes they
// read past it. Each message is a request hash (event, params, from, rsvp,
// ...) whose event and rsvp name a kernel, session and state through a
// specifier such as "poe://Kernel/session/state".
//
// The wire rules, with what Perl really does where that differs from its
// documentation, are in PROTOCOL.md (/work/shared/PROTOCOL.md in the
// project workspace); section 2 covers negotiation. Recordings of real Perl
// kernels, against which this package is tested, are in
// conformance/testdata/captures.
//
// Nothing here trusts the peer: lines, names, offers and the time a
// negotiation may take are bounded (Limits), freezers are matched against
// an allow-list and never loaded by name, and no peer input can panic.
package protocol
