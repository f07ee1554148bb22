package perlcompat

import (
	"errors"
	"fmt"
)

// ErrClassNotAllowed: a thawed value blesses into a class the allow-list
// refuses.
var ErrClassNotAllowed = errors.New("perlcompat: class not allowed")

// RestrictClasses wraps a freezer so that Thaw fails on any value blessed
// into a class allow refuses. Perl peers can send objects of any class; a
// gateway that hands them to code expecting particular ones (or passes
// them on to Perl code whose DESTROY or overloads run on receipt) may
// want to refuse the rest. Freeze is unchanged.
func RestrictClasses(f Freezer, allow func(class string) bool) Freezer {
	return &restricted{Freezer: f, allow: allow}
}

type restricted struct {
	Freezer
	allow func(string) bool
}

// ForChannel keeps the restriction around a freezer's per-channel copy.
func (r *restricted) ForChannel() Freezer {
	if cf, ok := r.Freezer.(ChannelFreezer); ok {
		return &restricted{Freezer: cf.ForChannel(), allow: r.allow}
	}
	return r
}

// ClassCheckingThawer is a freezer that asks allow about each class
// while it decodes (Storable's and Sereal's do, once per class name
// written). RestrictClasses
// then uses it rather than walking every value it thawed: the walk was 3%
// of a gateway's CPU per post, and more for big messages.
type ClassCheckingThawer interface {
	ThawAllowing(payload []byte, allow func(class string) bool) (Value, error)
}

func (r *restricted) Thaw(payload []byte) (Value, error) {
	if cc, ok := r.Freezer.(ClassCheckingThawer); ok {
		return cc.ThawAllowing(payload, r.allow)
	}
	v, err := r.Freezer.Thaw(payload)
	if err != nil {
		return v, err
	}
	if class, bad := r.firstRefused(v); bad {
		return nil, fmt.Errorf("%w: %q", ErrClassNotAllowed, class)
	}
	return v, nil
}

// firstRefused walks v once (shared and cyclic containers are visited
// once) and returns the first class allow refuses.
func (r *restricted) firstRefused(v Value) (string, bool) {
	var seen visited
	var stackBuf [32]Value
	stack := append(stackBuf[:0], v)
	check := func(class string) bool { return class != "" && !r.allow(class) }
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := v.(type) {
		case *Array:
			if x == nil || !seen.first(x) {
				continue
			}
			if check(x.Class) {
				return x.Class, true
			}
			stack = append(stack, x.Elems...)
		case *Hash:
			if x == nil || !seen.first(x) {
				continue
			}
			if check(x.Class) {
				return x.Class, true
			}
			for _, e := range x.Entries {
				stack = append(stack, e.Value)
			}
		case *Ref:
			if x == nil || !seen.first(x) {
				continue
			}
			if check(x.Class) {
				return x.Class, true
			}
			stack = append(stack, x.Target)
		}
	}
	return "", false
}

// visited is a set of containers that costs no allocation for the few of
// a typical request: a map per message was most of the check's time.
type visited struct {
	few  [16]any
	n    int
	many map[any]struct{}
}

// first reports whether c is met for the first time, and records it.
func (s *visited) first(c any) bool {
	if s.many == nil {
		for _, x := range s.few[:s.n] {
			if x == c {
				return false
			}
		}
		if s.n < len(s.few) {
			s.few[s.n] = c
			s.n++
			return true
		}
		s.many = make(map[any]struct{}, 2*len(s.few))
		for _, x := range s.few {
			s.many[x] = struct{}{}
		}
	}
	if _, ok := s.many[c]; ok {
		return false
	}
	s.many[c] = struct{}{}
	return true
}
