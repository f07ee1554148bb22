// Package conformance proves ikcgate's wire core against real Perl: the
// Storable images and POE::Filter::Reference frames that Perl 5.36,
// Storable 3.26 and POE 1.370 produce and accept.
//
// # The description notation
//
// Describe (Go) and perl/describe.pm (Perl) render a value as the same text
// whenever a Perl program could not tell the two apart: string, integer or
// float by the scalar's flags (POK, else IOK, else NOK), Perl's UTF8 flag
// and the exact bytes, undef, arrays, hashes with their keys' flags and
// bytes, scalar refs and refs to refs, blessed classes, and reference
// identity (shared refs and cycles). Comparing descriptions is how every
// test below decides "Perl sees the same thing". expectedPerlView is the
// one place that says what Perl sees when Go freezes a value (integers
// wider than 32 bits and non-integral floats become strings, Bool becomes
// "1"/"", and so on; see its comment).
//
// # What is proven
//
//   - TestPerlFreezesGoThaws: perl/gen.pl builds 10,000 random structures
//     (a fixed seed and a logged varying one: every scalar kind incl.
//     dualvars, 64-bit and unsigned integers, NaN/Inf/-0.0, byte, Latin-1
//     and UTF-8 strings, 64 KiB+ strings, UTF-8, upgraded and binary keys,
//     blessed things with repeated classes, nested containers, shared refs
//     and cycles). storable.Thaw must read both the nfreeze and the native
//     freeze image of each to exactly what Perl's thaw gives.
//   - TestGoFreezesPerlThaws: 10,000 random Go values (gen_test.go) frozen
//     with storable.NFreeze; Perl's Storable::thaw (perl/check.pl) must
//     see expectedPerlView of each.
//   - TestPerlFilterReadsGoFrames: frames built with protocol.AppendFrame
//     and written over TCP in random pieces are read by a real
//     POE::Filter::Reference (perl/filter_peer.pl read), which must deliver
//     every value, in order, with no bytes left over.
//   - TestGoReadsPerlFilterFrames: frames written by POE::Filter::Reference
//     ->put in odd-sized syswrites are read with protocol.NewFrameReader and
//     storable.Thaw, and must match what a Perl receiving filter sees.
//   - TestEveryCaptureFrameDecodes: every Storable frame of the real IKC
//     captures in testdata/captures thaws to the value the fixtures
//     recorded (in their value notation, captureNotation), and its
//     re-encoding thaws in Perl to the same description. Frames of other
//     freezers are skipped and counted.
//
// # Real POE::Component::IKC 0.2402 peers against the gateway kernel
//
// These need POE::Component::IKC in Perl's @INC (it is on CPAN, not in
// Debian) and skip with a message saying so when it is absent.
//
//   - TestPerlClientAgainstGoKernel: a real IKC::Client (perl/ikc_client.pl),
//     IKC0 and legacy, TCP and unix: call (the echo must equal what a Perl
//     server's echo gives), post, ping, remote errors for an unpublished
//     state, an unknown session and a failing handler, a list call, a
//     SENDER post-back, subscribe and post through the proxy with a
//     post-back through it, Perl-side monitors.
//   - TestGoClientAgainstPerlServer: our kernel dials a real IKC::Server
//     (perl/ikc_server.pl) and does the same from Go, plus the server
//     pushing a post and a call into states Go published.
//   - TestClientLiteAgainstGoKernel: a real ClientLite (perl/ikc_lite.pl):
//     post, scalar and list calls, post_respond, errors, and proof that
//     its stream stays in step afterwards.
//   - TestPerlClientWithEachFreezer: the client's scenario over Storable,
//     FreezeThaw and POE::Component::IKC::Freezer.
//   - TestSixtyFourPerlClientsAtOnce: 64 Perl client processes at once.
//
// Every Perl peer must finish on its own and exit 0: still alive, having
// seen what a Perl peer would have made it see.
//
// # Running
//
//	go test ./conformance/                   # needs perl, see below
//	IKCGATE_SEED=123 go test ./conformance/  # replay a logged varying seed
//	IKCGATE_NO_PERL=1 go test ./conformance/ # skip what needs Perl
//	scripts/bench-storable                   # Go vs Perl XS Storable speed
//
// The tests need perl with Storable, POE::Filter::Reference (Debian's
// libpoe-perl), B, Digest::MD5, Scalar::Util and IO::Socket::INET. Without
// them they fail with a message saying so, unless IKCGATE_NO_PERL=1 is set.
// Perl helpers are started per test and killed when it ends (or after a
// 3-minute watchdog). Failures print the seed, the index, the image in hex
// and a diff of the descriptions (the first few only).
package conformance
