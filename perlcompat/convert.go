package perlcompat

// ToGo returns a plain Go view of v, for code that does not want the
// value model:
//
//	Perl              Go
//	undef, nil        nil
//	Str               string of its characters (a byte string is read as
//	                  Latin-1, so "caf\xe9" and UTF-8 "café" both give "café")
//	Int               int64
//	Uint              uint64
//	Float             float64
//	Bool              bool
//	*Array            []any
//	*Hash             map[string]any (keys as characters)
//	*Ref              ToGo of its target: references collapse
//
// Strings are always Go strings, never []byte: Go text is what callers
// mostly want, and a byte string's Latin-1 reading keeps every byte as one
// character. Use Unmarshal into a []byte to get the raw bytes.
//
// The view loses what only Perl can tell apart: blessing classes, the
// byte/character flag, "42" versus 42. A container reached twice gives the
// same Go map or slice; a container reached again from inside itself (a
// cycle) gives nil at that point, so that the result can be printed or
// JSON-encoded without looping. Anything nested deeper than MaxDepth is
// cut to nil in the same way.
func ToGo(v Value) any {
	return newGoConverter().convert(v, 0)
}

type goConverter struct {
	done    map[Value]any  // finished containers, for sharing
	active  map[Value]bool // containers being converted, for cycles
	tooDeep bool           // something was cut at MaxDepth
}

func newGoConverter() *goConverter {
	return &goConverter{done: map[Value]any{}, active: map[Value]bool{}}
}

func (c *goConverter) convert(v Value, depth int) any {
	if depth > MaxDepth {
		c.tooDeep = true
		return nil
	}
	switch x := v.(type) {
	case nil, Undef:
		return nil
	case Str:
		return x.Chars()
	case Int:
		return int64(x)
	case Uint:
		return uint64(x)
	case Float:
		return float64(x)
	case Bool:
		return bool(x)
	case *Array, *Hash, *Ref:
		if c.active[v] {
			return nil
		}
		if g, ok := c.done[v]; ok {
			return g
		}
		c.active[v] = true
		var g any
		switch x := v.(type) {
		case *Array:
			if x != nil {
				s := make([]any, len(x.Elems))
				for i, e := range x.Elems {
					s[i] = c.convert(e, depth+1)
				}
				g = s
			}
		case *Hash:
			if x != nil {
				m := make(map[string]any, len(x.Entries))
				for _, e := range x.Entries {
					m[e.Key.Chars()] = c.convert(e.Value, depth+1)
				}
				g = m
			}
		case *Ref:
			if x != nil {
				g = c.convert(x.Target, depth+1)
			}
		}
		delete(c.active, v)
		c.done[v] = g
		return g
	}
	return nil
}
