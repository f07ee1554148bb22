package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// Exit codes.
const (
	exitOK      = 0
	exitRemote  = 1 // the remote kernel reported an error (or a reply can't be printed)
	exitUsage   = 2
	exitConnect = 3 // connection, negotiation or routing failure
	exitTimeout = 4 // no reply within -timeout
)

const defaultServer = "127.0.0.1:6603"

// usage is the -h text; doc.go repeats it (a test keeps them in step).
const usage = `usage: ikc [flags] call SPEC [VALUE]
       ikc [flags] post SPEC [VALUE]
       ikc [flags] ping [poe://KERNEL]
       ikc [flags] subscribe poe://KERNEL/SESSION

ikc talks to one IKC kernel (Perl POE::Component::IKC or ikcgate) over one
connection, then disconnects.

Commands:
  call SPEC [VALUE]    call a state and print its reply
  post SPEC [VALUE]    post to a state; prints nothing. An IKC/ping after
                       the post confirms that the server read it, and
                       reports any error the post caused there (through
                       a gateway, not an error its upstream reports later)
  ping [poe://KERNEL]  call IKC/ping and print its reply, PONG
  subscribe poe://KERNEL/SESSION
                       subscribe to a published session and print the
                       server's receipt, {"kernel":"K","session":"S"}

SPEC is poe://KERNEL/SESSION/STATE, where KERNEL is a name, alias or ID the
server announced, or SESSION/STATE for the server's own kernel (SESSION
alone, for subscribe).

VALUE is one JSON value, or - to read it from stdin; without one, undef is
sent. The notation:
  null                         undef
  "text"                       a character string
  {"$bytes": "<hex>"}          a byte string
  12, -3                       an integer (IV; beyond int64, UV)
  1.5, 1.0, 1e3                a floating-point number (NV)
  true, false                  Perl's true and false ("1" and "")
  [...], {...}                 array and hash references
  {"$ref": VALUE}              a reference to a scalar or to a reference
  {"$blessed": "C", "$value": REF}
                               REF (an array, hash or $ref) blessed into C
  A hash key starting with "$" takes one more "$" ("$$x" is the key "$x");
  "$bytes:<hex>" is a byte-string key.
Replies print on one line in the same notation, hash keys sorted (a Perl
true/false prints as "1"/""), or as a Perl literal with -perl.

Flags:
  -server ADDR    host:port, or unix:/path (default 127.0.0.1:6603)
  -freezer NAMES  freezers to offer, in order of preference, comma-separated:
                  dumper, freezethaw, storable, or their Perl package names
                  (default storable)
  -timeout D      bounds connecting and negotiating, then the reply (or, for
                  post, sending) (default 10s)
  -name NAME      the kernel name this client announces (default ikc)
  -legacy         negotiate with the legacy IKC dialogue (HELLO), not IKC0
  -perl           print replies as Perl literals (Data::Dumper style)
  -v              debug logging on stderr (default: warnings only)

Exit status:
  0  success
  1  the remote kernel reported an error, also for a post (its message is
     printed on stderr),
     a subscription was refused, or the reply can't be printed as JSON (a
     cycle: use -perl)
  2  usage error (bad flag, command, SPEC or VALUE, or a VALUE the
     negotiated freezer can't carry, such as characters with FreezeThaw)
  3  connection or negotiation failure, no channel to the named kernel, or
     the connection closed before the reply
  4  timeout: no reply within -timeout (a Perl state returning undef sends
     none), or a post not confirmed within it
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	server, name string
	freezers     []perlcompat.Freezer
	timeout      time.Duration
	legacy, perl bool
	verbose      bool

	cmd   string
	spec  string
	value perlcompat.Value
}

// cliError carries an exit code and the message for stderr.
type cliError struct {
	code int
	msg  string
}

func (e *cliError) Error() string { return e.msg }

func fail(code int, format string, args ...any) *cliError {
	return &cliError{code: code, msg: fmt.Sprintf(format, args...)}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stdin)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprintf(stderr, "ikc: %v\nRun 'ikc -h' for usage.\n", err)
		return exitUsage
	}
	out, cerr := execute(o, stderr)
	if cerr != nil {
		fmt.Fprintf(stderr, "ikc: %s\n", cerr.msg)
		return cerr.code
	}
	if out != "" {
		fmt.Fprintln(stdout, out)
	}
	return exitOK
}

func parseArgs(args []string, stdin io.Reader) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("ikc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.server, "server", defaultServer, "")
	freezerList := fs.String("freezer", "storable", "")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "")
	fs.StringVar(&o.name, "name", "ikc", "")
	fs.BoolVar(&o.legacy, "legacy", false, "")
	fs.BoolVar(&o.perl, "perl", false, "")
	fs.BoolVar(&o.verbose, "v", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.timeout <= 0 {
		return nil, errors.New("-timeout must be positive")
	}
	fz, err := parseFreezers(*freezerList)
	if err != nil {
		return nil, err
	}
	o.freezers = fz
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, errors.New("missing command (call, post, ping or subscribe)")
	}
	o.cmd = rest[0]
	rest = rest[1:]
	switch o.cmd {
	case "call", "post":
		if len(rest) < 1 || len(rest) > 2 {
			return nil, fmt.Errorf("%s takes SPEC [VALUE]", o.cmd)
		}
		o.spec = rest[0]
		if err := checkStateSpec(o.spec, o.name); err != nil {
			return nil, err
		}
		o.value = perlcompat.Undef{}
		if len(rest) == 2 {
			text := []byte(rest[1])
			if rest[1] == "-" {
				if text, err = io.ReadAll(stdin); err != nil {
					return nil, fmt.Errorf("reading VALUE from stdin: %v", err)
				}
			}
			if o.value, err = parseJSONValue(text); err != nil {
				return nil, fmt.Errorf("VALUE: %v", err)
			}
		}
	case "ping":
		if len(rest) > 1 {
			return nil, errors.New("ping takes at most poe://KERNEL")
		}
		if len(rest) == 1 {
			sp, err := protocol.ParseSpecifier(rest[0])
			if err != nil || !strings.HasPrefix(rest[0], "poe:") || sp.Kernel == "" || sp.Kernel == "*" || sp.Session != "" || sp.State != "" || sp.HasArgs {
				return nil, fmt.Errorf("ping takes poe://KERNEL, not %q", rest[0])
			}
			o.spec = sp.Kernel
		}
	case "subscribe":
		if len(rest) != 1 {
			return nil, errors.New("subscribe takes poe://KERNEL/SESSION")
		}
		o.spec = rest[0]
		if strings.HasPrefix(o.spec, "poe:") {
			sp, err := protocol.ParseSpecifier(o.spec)
			if err != nil || sp.Kernel == "" || sp.Kernel == "*" || sp.Session == "" || sp.State != "" || sp.HasArgs {
				return nil, fmt.Errorf("subscribe takes poe://KERNEL/SESSION, not %q", o.spec)
			}
		} else if o.spec == "" || strings.ContainsAny(o.spec, "/?") {
			return nil, fmt.Errorf("subscribe takes poe://KERNEL/SESSION or SESSION, not %q", o.spec)
		}
	default:
		return nil, fmt.Errorf("unknown command %q (call, post, ping or subscribe)", o.cmd)
	}
	if _, _, err := splitServer(o.server); err != nil {
		return nil, err
	}
	return o, nil
}

// checkStateSpec validates a call or post SPEC before anything is dialled.
func checkStateSpec(spec, ownName string) error {
	if strings.HasPrefix(spec, "poe:") {
		sp, err := protocol.ParseSpecifier(spec)
		if err != nil {
			return fmt.Errorf("SPEC: %v", err)
		}
		switch {
		case sp.Kernel == "" || sp.Session == "" || sp.State == "":
			return fmt.Errorf("SPEC %q needs a kernel, a session and a state (poe://KERNEL/SESSION/STATE)", spec)
		case sp.Kernel == "*":
			return fmt.Errorf("SPEC %q: kernel \"*\" is every kernel; name one", spec)
		case sp.Kernel == ownName:
			return fmt.Errorf("SPEC %q names this client's own kernel (-name %s)", spec, ownName)
		}
		return nil
	}
	sess, state, ok := strings.Cut(spec, "/")
	if !ok || sess == "" || state == "" || strings.Contains(state, "/") {
		return fmt.Errorf("SPEC %q is neither poe://KERNEL/SESSION/STATE nor SESSION/STATE", spec)
	}
	if _, err := protocol.ParseSpecifier("poe://k/" + spec); err != nil {
		return fmt.Errorf("SPEC: %v", err)
	}
	return nil
}

// splitServer turns -server into a network and an address.
func splitServer(s string) (network, addr string, err error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return "", "", errors.New("-server unix: needs a path")
		}
		return "unix", path, nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return "", "", fmt.Errorf("-server %q: want host:port or unix:/path", s)
	}
	return "tcp", s, nil
}

// execute connects, runs the command and returns what to print.
func execute(o *options, stderr io.Writer) (string, *cliError) {
	level := hclog.Warn
	if o.verbose {
		level = hclog.Debug
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ikc", Level: level, Output: stderr})
	cfg := gateway.DefaultConfig()
	cfg.Name = o.name
	cfg.Freezers = o.freezers
	cfg.CallTimeout = o.timeout
	cfg.Logger = log
	k, err := gateway.New(cfg)
	if err != nil {
		return "", fail(exitUsage, "%v", err)
	}
	network, addr, _ := splitServer(o.server)

	dctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	peer, err := k.DialWith(dctx, network, addr, gateway.DialOptions{LegacyOnly: o.legacy})
	cancel()
	if err != nil {
		k.Shutdown(context.Background())
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fail(exitConnect, "%v (no negotiation within -timeout %v)", err, o.timeout)
		}
		return "", fail(exitConnect, "%v", err)
	}
	res := peer.Negotiated()
	log.Debug("connected", "server", o.server, "kernel", peer.RemoteID(), "names", peer.Names(), "dialogue", res.Dialogue.String(), "freezer", res.Freezer)
	if !offered(o.freezers, res.Freezer) {
		log.Warn("the server refused the freezers offered; using Storable", "offered", freezerList(o.freezers))
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	out, cerr := command(ctx, o, k, peer)
	cancel()

	sctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	if err := k.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "error", err)
	}
	cancel()
	return out, cerr
}

func offered(fz []perlcompat.Freezer, name string) bool {
	for _, f := range fz {
		if f.Name() == name {
			return true
		}
	}
	return false
}

func freezerList(fz []perlcompat.Freezer) string {
	n := make([]string, len(fz))
	for i, f := range fz {
		n[i] = f.Name()
	}
	return strings.Join(n, ",")
}

func command(ctx context.Context, o *options, k *gateway.Kernel, peer *gateway.Peer) (string, *cliError) {
	viaKernel := strings.HasPrefix(o.spec, "poe:")
	switch o.cmd {
	case "call":
		var v perlcompat.Value
		var err error
		if viaKernel {
			v, err = k.Call(ctx, o.spec, o.value)
		} else {
			v, err = peer.Call(ctx, o.spec, o.value)
		}
		if err != nil {
			return "", classify(err, o, peer)
		}
		return o.format(v)
	case "post":
		// A post has no answer, but the server answers requests in
		// order: an IKC/ping after it returns once the server has read
		// the post, and any remote_error the post caused arrives first.
		var mu sync.Mutex
		var remoteErrs []gateway.MonitorEvent
		stop := k.Monitor("*", func(e gateway.MonitorEvent) {
			if e.Kind == gateway.MonitorError && strings.HasPrefix(e.Operation, "remote-") {
				mu.Lock()
				remoteErrs = append(remoteErrs, e)
				mu.Unlock()
			}
		})
		defer stop()
		var err error
		if viaKernel {
			err = k.Post(ctx, o.spec, o.value)
		} else {
			err = peer.Post(ctx, o.spec, o.value)
		}
		if err == nil {
			_, err = peer.Call(ctx, "IKC/ping", perlcompat.Undef{})
			if errors.Is(err, gateway.ErrNoReply) {
				err = fmt.Errorf("the server did not confirm the post: %w", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(remoteErrs) > 0 {
			e := remoteErrs[0]
			return "", fail(exitRemote, "remote error (%s) from %s: %s", strings.TrimPrefix(e.Operation, "remote-"), e.RemoteID, e.Message)
		}
		if err != nil {
			return "", classify(err, o, peer)
		}
		return "", nil
	case "ping":
		var v perlcompat.Value
		var err error
		if o.spec != "" {
			v, err = k.Call(ctx, "poe://"+o.spec+"/IKC/ping", perlcompat.Undef{})
		} else {
			v, err = peer.Call(ctx, "IKC/ping", perlcompat.Undef{})
		}
		if err != nil {
			return "", classify(err, o, peer)
		}
		if s, ok := v.(perlcompat.Str); ok {
			if s.S != "PONG" {
				return "", fail(exitRemote, "IKC/ping answered %s, not PONG", perlString(s))
			}
			return s.S, nil
		}
		return "", fail(exitRemote, "IKC/ping answered %s, not PONG", formatPerlValue(v))
	case "subscribe":
		spec := o.spec
		if !viaKernel {
			spec = "poe://" + peer.RemoteID() + "/" + spec
		}
		p, err := k.Subscribe(ctx, spec)
		if err != nil {
			return "", classify(err, o, peer)
		}
		p.Unsubscribe()
		receipt := perlcompat.NewHash().Set("kernel", perlcompat.Text(p.Kernel)).Set("session", perlcompat.Text(p.Session))
		return o.format(receipt)
	}
	return "", fail(exitUsage, "unknown command %q", o.cmd)
}

func (o *options) format(v perlcompat.Value) (string, *cliError) {
	if o.perl {
		return formatPerlValue(v), nil
	}
	s, err := formatJSONValue(v)
	if err != nil {
		return "", fail(exitRemote, "reply: %v", err)
	}
	return s, nil
}

// classify maps a failed request to its exit code and message.
func classify(err error, o *options, peer *gateway.Peer) *cliError {
	var re *gateway.RemoteError
	var fe *gateway.FreezeError
	switch {
	case errors.As(err, &fe):
		return fail(exitUsage, "VALUE can't be sent with the %s freezer: %v", fe.Freezer, fe.Err)
	case errors.As(err, &re):
		return fail(exitRemote, "remote error (%s) from %s: %s", re.When, re.Kernel, re.Message)
	case errors.Is(err, gateway.ErrSubscriptionRefused):
		return fail(exitRemote, "%v", err)
	case errors.Is(err, gateway.ErrNoReply), errors.Is(err, context.DeadlineExceeded):
		return fail(exitTimeout, "no reply within -timeout %v (%v)", o.timeout, err)
	case errors.Is(err, gateway.ErrUnknownKernel):
		return fail(exitConnect, "%v: the server at %s is known here as %s", err, o.server, strings.Join(peer.Names(), ", "))
	case errors.Is(err, gateway.ErrDisconnected):
		return fail(exitConnect, "the server closed the connection: %v", err)
	}
	return fail(exitConnect, "%v", err)
}
