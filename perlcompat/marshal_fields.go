package perlcompat

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// field is one hash key of a Go struct, found the way encoding/json finds
// JSON object keys (tags, embedded structs, dominance of shallow fields).
type field struct {
	name      string
	index     []int // path through embedded structs, for FieldByIndex
	typ       reflect.Type
	tagged    bool
	omitEmpty bool
	omitZero  bool
}

// structFields is a struct type's keys, in field order.
type structFields struct {
	list   []field
	byName map[string]int
}

// find returns the field for a hash key: exact spelling first, then the
// first field matching without regard to case, as encoding/json does.
func (s *structFields) find(key string) *field {
	if i, ok := s.byName[key]; ok {
		return &s.list[i]
	}
	for i := range s.list {
		if strings.EqualFold(s.list[i].name, key) {
			return &s.list[i]
		}
	}
	return nil
}

var fieldCache sync.Map // reflect.Type -> *structFields

func cachedFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.(*structFields)
}

// fieldTag returns the perl tag, or the json tag when there is no perl
// tag, so that structs already written for encoding/json need no change.
func fieldTag(sf reflect.StructField) string {
	if tag, ok := sf.Tag.Lookup("perl"); ok {
		return tag
	}
	return sf.Tag.Get("json")
}

// typeFields walks t breadth first through its embedded structs, like
// encoding/json: a shallower field hides a deeper one of the same name, a
// tagged field beats an untagged one at the same depth, and a tie hides
// both.
func typeFields(t reflect.Type) *structFields {
	type pending struct {
		typ   reflect.Type
		index []int
	}
	var fields []field
	next := []pending{{typ: t}}
	count, nextCount := map[reflect.Type]int{}, map[reflect.Type]int{}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, p := range current {
			if visited[p.typ] {
				continue
			}
			visited[p.typ] = true
			for i := 0; i < p.typ.NumField(); i++ {
				sf := p.typ.Field(i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous {
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := fieldTag(sf)
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(slices.Clip(p.index), i)
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					if !sf.IsExported() {
						continue // an unexported embedded struct only lends its fields
					}
					f := field{name: name, index: index, typ: sf.Type, tagged: name != ""}
					if f.name == "" {
						f.name = sf.Name
					}
					for o := range strings.SplitSeq(opts, ",") {
						switch o {
						case "omitempty":
							f.omitEmpty = true
						case "omitzero":
							f.omitZero = true
						}
					}
					fields = append(fields, f)
					if count[p.typ] > 1 {
						// The same embedded type twice at this depth: a
						// duplicate makes the tie rule below drop it.
						fields = append(fields, f)
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, pending{typ: ft, index: index})
				}
			}
		}
	}
	slices.SortStableFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := len(a.index) - len(b.index); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		group := fields[i:j]
		if len(group) == 1 || len(group[0].index) != len(group[1].index) || group[0].tagged != group[1].tagged {
			out = append(out, group[0])
		}
		i = j
	}
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	sf := &structFields{list: out, byName: make(map[string]int, len(out))}
	for i, f := range out {
		sf.byName[f.name] = i
	}
	return sf
}
