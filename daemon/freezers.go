package daemon

import (
	"fmt"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/dumper"
	"github.com/ikcgate/ikcgate/perlcompat/freezethaw"
	"github.com/ikcgate/ikcgate/perlcompat/json"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

// FreezerFactory builds a freezer. maxDepth is limits.max_depth (0: the
// freezer's own default).
type FreezerFactory func(maxDepth int) (perlcompat.Freezer, error)

// freezerEntry is one row of the freezer table.
type freezerEntry struct {
	// pkg is the Perl package name negotiated on the wire.
	pkg string
	new FreezerFactory
	// warning is logged loudly whenever the freezer is enabled.
	warning string
}

// builtinFreezers maps a config name to a freezer. Adding a freezer is one
// line here. A freezer is also found by its Perl package name.
var builtinFreezers = map[string]freezerEntry{
	"Storable": {pkg: "Storable", new: func(depth int) (perlcompat.Freezer, error) {
		f := storable.Freezer{}
		f.Decoder.Limits = storable.DefaultLimits()
		if depth > 0 {
			f.Decoder.Limits.MaxDepth = depth
		}
		return f, nil
	}},
	"FreezeThaw": {pkg: freezethaw.Name, new: func(depth int) (perlcompat.Freezer, error) {
		f := freezethaw.Freezer{}
		f.Decoder.Limits.MaxDepth = depth
		return f, nil
	}},
	"Sereal": {pkg: sereal.DefaultName, new: func(depth int) (perlcompat.Freezer, error) {
		return sereal.New(sereal.Config{MaxDepth: depth})
	}},
	"JSON": {pkg: json.DefaultName, new: func(depth int) (perlcompat.Freezer, error) {
		return json.New(json.Config{MaxDepth: depth})
	}},
	dumper.Name: {pkg: dumper.Name, new: func(depth int) (perlcompat.Freezer, error) {
		f := dumper.Freezer{}
		f.Decoder.Limits.MaxDepth = depth
		return f, nil
	}, warning: "freezer POE::Component::IKC::Freezer is enabled: Perl peers eval() every frame it carries, " +
		"so any peer that can reach a Perl kernel through it can run code there; enable it only between trusted hosts"},
}

// DefaultFreezers is the freezers value used when a configuration leaves
// it out: Storable first (every Perl peer has it), then Sereal.
func DefaultFreezers() []string { return []string{"Storable", "Sereal"} }

// registry is what a configuration may name: handlers and freezers.
type registry struct {
	handlers map[string]gateway.Handler
	freezers map[string]freezerEntry
}

func newRegistry(opts Options) *registry {
	r := &registry{handlers: map[string]gateway.Handler{}, freezers: map[string]freezerEntry{}}
	r.handlers[DemoHandlerName] = nil // built in; made per daemon
	for n, h := range opts.Handlers {
		r.handlers[n] = h
	}
	for n, e := range builtinFreezers {
		r.freezers[n] = e
	}
	for n, f := range opts.Freezers {
		r.freezers[n] = freezerEntry{pkg: n, new: f}
	}
	return r
}

func (r *registry) hasHandler(n string) bool { _, ok := r.handlers[n]; return ok }
func (r *registry) handlerNames() []string   { return sortedKeys(r.handlers) }
func (r *registry) freezerNames() []string   { return sortedKeys(r.freezers) }

func (r *registry) entry(n string) (freezerEntry, bool) {
	if e, ok := r.freezers[n]; ok {
		return e, true
	}
	for _, e := range r.freezers {
		if e.pkg == n {
			return e, true
		}
	}
	return freezerEntry{}, false
}

func (r *registry) hasFreezer(n string) bool { _, ok := r.entry(n); return ok }

func (r *registry) packageName(n string) string {
	e, _ := r.entry(n)
	return e.pkg
}

// buildFreezers makes the configured freezers, in order, and returns the
// warnings to log.
func (r *registry) buildFreezers(names []string, maxDepth int) ([]perlcompat.Freezer, []string, error) {
	var out []perlcompat.Freezer
	var warnings []string
	for _, n := range names {
		e, ok := r.entry(n)
		if !ok {
			return nil, nil, fmt.Errorf("unknown freezer %q", n)
		}
		f, err := e.new(maxDepth)
		if err != nil {
			return nil, nil, fmt.Errorf("freezer %q: %w", n, err)
		}
		if f == nil {
			return nil, nil, fmt.Errorf("freezer %q: factory returned nil", n)
		}
		out = append(out, f)
		if e.warning != "" {
			warnings = append(warnings, e.warning)
		}
	}
	return out, warnings, nil
}
