package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

// Main is ikcgate's main: it parses the command line (os.Args), runs the
// daemon and exits. A binary with its own handlers is:
//
//	func main() {
//		daemon.Main(daemon.Options{Handlers: map[string]gateway.Handler{"mysvc/do": myHandler}})
//	}
func Main(opts Options) {
	os.Exit(MainArgs(context.Background(), os.Args[1:], opts))
}

// Exit codes of MainArgs.
const (
	ExitOK     = 0 // ran and drained, or -check/-version succeeded
	ExitFailed = 1 // the configuration is invalid, or the daemon failed
	ExitUsage  = 2 // bad flags
)

// MainArgs is Main without os.Exit: it runs the command line args (flags
// only, no program name) and returns the exit code.
//
//	-config FILE   the HCL configuration (default: the embedded one)
//	-listen ADDR   an IKC listener, "tcp host:port", "host:port" or
//	               "unix:/path"; repeatable; replaces the configuration's
//	-check         validate the configuration, print the errors, exit 0 or 1
//	-version       print the version and exit
//
// SIGTERM and SIGINT drain and exit 0 (a second one exits at once);
// SIGHUP reloads the configuration file (Daemon.ReloadFile). ctx ending
// drains too.
func MainArgs(ctx context.Context, args []string, opts Options) int {
	stderr := opts.stderr()
	fs := flag.NewFlagSet("ikcgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "HCL configuration `file` (default: the built-in configuration)")
	var listens []string
	fs.Func("listen", "IKC listener `address` (\"tcp host:port\", \"unix:/path\"); repeatable; replaces the configured listeners", func(s string) error {
		if _, err := ParseListenAddr(s); err != nil {
			return err
		}
		listens = append(listens, s)
		return nil
	})
	check := fs.Bool("check", false, "validate the configuration and exit 0 (valid) or 1 (invalid, with the errors)")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ikcgate: unexpected argument %q (flags only; see -help)\n", fs.Arg(0))
		return ExitUsage
	}
	if *version {
		fmt.Fprintf(opts.stdout(), "ikcgate %s (%s)\n", opts.version(), runtime.Version())
		return ExitOK
	}

	var cfg *Config
	var err error
	if *configPath == "" {
		cfg, err = DefaultConfig(opts)
	} else {
		cfg, err = LoadConfig(*configPath, opts)
	}
	if err != nil {
		printConfigError(stderr, err)
		return ExitFailed
	}
	var override []ListenAddr
	for _, s := range listens {
		a, _ := ParseListenAddr(s) // checked by the flag
		override = append(override, a)
	}
	if *check {
		fmt.Fprintf(opts.stdout(), "%s: configuration is valid\n", cfg.File)
		return ExitOK
	}

	d, err := New(cfg, opts)
	if err != nil {
		fmt.Fprintf(stderr, "ikcgate: %v\n", err)
		return ExitFailed
	}
	d.configPath = *configPath
	d.listenOverride = override

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second SIGINT or SIGTERM now kills at once
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupDone := make(chan struct{})
	go func() {
		defer close(hupDone)
		for {
			select {
			case <-hup:
				d.log.Info("SIGHUP: reloading the configuration", "config", cfg.File)
				_ = d.ReloadFile()
			case <-ctx.Done():
				return
			}
		}
	}()
	err = d.Run(ctx)
	stop()
	<-hupDone
	if err != nil {
		d.log.Error("ikcgate failed", "error", err)
		return ExitFailed
	}
	return ExitOK
}

func printConfigError(w interface{ Write([]byte) (int, error) }, err error) {
	var ce *ConfigError
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "ikcgate: invalid configuration:\n  %s\n", strings.Join(ce.Lines(), "\n  "))
		return
	}
	fmt.Fprintf(w, "ikcgate: %v\n", err)
}
