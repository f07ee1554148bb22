package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/dumper"
	"github.com/ikcgate/ikcgate/perlcompat/freezethaw"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

// freezers are the names -freezer takes. A new freezer is one line here;
// its Perl package name (what IKC negotiates) is accepted too.
var freezers = map[string]func() perlcompat.Freezer{
	"storable":   func() perlcompat.Freezer { return storable.Freezer{} },
	"freezethaw": func() perlcompat.Freezer { return freezethaw.Freezer{} },
	"dumper":     func() perlcompat.Freezer { return dumper.Freezer{} },
}

// freezerNames lists the -freezer names for the usage text.
func freezerNames() string {
	names := make([]string, 0, len(freezers))
	for n := range freezers {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// parseFreezers reads -freezer: one name or a comma-separated list in order
// of preference. A name is a key of freezers or a freezer's Perl package
// name ("Storable", "POE::Component::IKC::Freezer"), in any case.
func parseFreezers(list string) ([]perlcompat.Freezer, error) {
	var out []perlcompat.Freezer
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		f := lookupFreezer(name)
		if f == nil {
			return nil, fmt.Errorf("unknown freezer %q (known: %s)", name, freezerNames())
		}
		if seen[f.Name()] {
			continue
		}
		seen[f.Name()] = true
		out = append(out, f)
	}
	return out, nil
}

func lookupFreezer(name string) perlcompat.Freezer {
	if mk, ok := freezers[strings.ToLower(name)]; ok {
		return mk()
	}
	for _, mk := range freezers {
		if f := mk(); strings.EqualFold(f.Name(), name) {
			return f
		}
	}
	return nil
}
