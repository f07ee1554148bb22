// Command ikc is a command-line client for POE::Component::IKC kernels:
// real Perl IKC 0.2402 kernels and ikcgate alike. It connects to one server,
// negotiates a channel (IKC0 or, with -legacy, the legacy dialogue), posts,
// calls, pings or subscribes, prints the reply and disconnects.
//
// Values go both ways in the JSON notation of the capture fixtures
// (conformance/testdata/captures/README.md, "Value notation"), which can
// say everything Perl can: byte vs character strings, integers vs floats,
// references, blessed objects. -perl prints replies as Perl literals
// instead. Logging is quiet (warnings on stderr) unless -v is given.
//
// Usage and exit status (this is the -h text):
//
//	usage: ikc [flags] call SPEC [VALUE]
//	       ikc [flags] post SPEC [VALUE]
//	       ikc [flags] ping [poe://KERNEL]
//	       ikc [flags] subscribe poe://KERNEL/SESSION
//
//	ikc talks to one IKC kernel (Perl POE::Component::IKC or ikcgate) over one
//	connection, then disconnects.
//
//	Commands:
//	  call SPEC [VALUE]    call a state and print its reply
//	  post SPEC [VALUE]    post to a state; prints nothing. An IKC/ping after
//	                       the post confirms that the server read it, and
//	                       reports any error the post caused there (through
//	                       a gateway, not an error its upstream reports later)
//	  ping [poe://KERNEL]  call IKC/ping and print its reply, PONG
//	  subscribe poe://KERNEL/SESSION
//	                       subscribe to a published session and print the
//	                       server's receipt, {"kernel":"K","session":"S"}
//
//	SPEC is poe://KERNEL/SESSION/STATE, where KERNEL is a name, alias or ID the
//	server announced, or SESSION/STATE for the server's own kernel (SESSION
//	alone, for subscribe).
//
//	VALUE is one JSON value, or - to read it from stdin; without one, undef is
//	sent. The notation:
//	  null                         undef
//	  "text"                       a character string
//	  {"$bytes": "<hex>"}          a byte string
//	  12, -3                       an integer (IV; beyond int64, UV)
//	  1.5, 1.0, 1e3                a floating-point number (NV)
//	  true, false                  Perl's true and false ("1" and "")
//	  [...], {...}                 array and hash references
//	  {"$ref": VALUE}              a reference to a scalar or to a reference
//	  {"$blessed": "C", "$value": REF}
//	                               REF (an array, hash or $ref) blessed into C
//	  A hash key starting with "$" takes one more "$" ("$$x" is the key "$x");
//	  "$bytes:<hex>" is a byte-string key.
//	Replies print on one line in the same notation, hash keys sorted (a Perl
//	true/false prints as "1"/""), or as a Perl literal with -perl.
//
//	Flags:
//	  -server ADDR    host:port, or unix:/path (default 127.0.0.1:6603)
//	  -freezer NAMES  freezers to offer, in order of preference, comma-separated:
//	                  dumper, freezethaw, storable, or their Perl package names
//	                  (default storable)
//	  -timeout D      bounds connecting and negotiating, then the reply (or, for
//	                  post, sending) (default 10s)
//	  -name NAME      the kernel name this client announces (default ikc)
//	  -legacy         negotiate with the legacy IKC dialogue (HELLO), not IKC0
//	  -perl           print replies as Perl literals (Data::Dumper style)
//	  -v              debug logging on stderr (default: warnings only)
//
//	Exit status:
//	  0  success
//	  1  the remote kernel reported an error, also for a post (its message is
//	     printed on stderr),
//	     a subscription was refused, or the reply can't be printed as JSON (a
//	     cycle: use -perl)
//	  2  usage error (bad flag, command, SPEC or VALUE, or a VALUE the
//	     negotiated freezer can't carry, such as characters with FreezeThaw)
//	  3  connection or negotiation failure, no channel to the named kernel, or
//	     the connection closed before the reply
//	  4  timeout: no reply within -timeout (a Perl state returning undef sends
//	     none), or a post not confirmed within it
package main
