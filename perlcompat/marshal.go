package perlcompat

import (
	"encoding"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxDepth bounds how deep FromGo, Unmarshal and ToGo follow nested
// values, so that hostile or runaway data ends in an error instead of
// exhausting the stack.
const MaxDepth = 10000

// ErrTooDeep is returned when a value nests deeper than MaxDepth.
var ErrTooDeep = errors.New("perlcompat: value nested deeper than MaxDepth")

// Marshaler is a Go type that builds its own Perl value.
type Marshaler interface {
	MarshalPerl() (Value, error)
}

// PerlClasser is a Go type that stands for a blessed Perl object: FromGo
// blesses the hash (or array) it makes into the class PerlClass returns.
// Embedding a type with this method is enough to bless the outer struct.
type PerlClasser interface {
	PerlClass() string
}

// UnsupportedTypeError is returned by FromGo for a Go type with no Perl
// counterpart (chan, func, complex, unsafe.Pointer, a map with keys that
// are not strings, integers or text).
type UnsupportedTypeError struct {
	Type reflect.Type
}

func (e *UnsupportedTypeError) Error() string {
	return "perlcompat: unsupported type: " + e.Type.String()
}

// MarshalerError wraps an error returned by a MarshalPerl or MarshalText
// method.
type MarshalerError struct {
	Type reflect.Type
	Err  error
}

func (e *MarshalerError) Error() string {
	return "perlcompat: error calling marshal method of type " + e.Type.String() + ": " + e.Err.Error()
}

func (e *MarshalerError) Unwrap() error { return e.Err }

// Marshal is FromGo, under encoding/json's name.
func Marshal(x any) (Value, error) { return FromGo(x) }

// FromGo returns the Perl value for an ordinary Go value:
//
//	Go                              Perl
//	nil, nil pointer/map/slice      undef
//	Value (Str, *Hash, ...)         itself, unchanged
//	Marshaler                       whatever MarshalPerl returns
//	time.Time                       RFC 3339 string (nanoseconds when set)
//	encoding.TextMarshaler          character string of MarshalText
//	bool                            Str "1" or ""
//	int, int8 ... int64             Int
//	uint, uint8 ... uintptr         Int, or Uint above math.MaxInt64
//	float32, float64                Float
//	string                          Text(s): UTF8 flag only for non-ASCII
//	                                valid UTF-8; invalid UTF-8 stays bytes
//	[]byte                          byte string (Bytes)
//	slice, array                    *Array
//	map (string, integer or         *Hash, keys sorted so output is
//	  TextMarshaler keys)           deterministic
//	struct                          *Hash of its exported fields
//	PerlClasser struct/map/slice    the *Hash or *Array, blessed
//	pointer, interface              what it points to
//	chan, func, complex             *UnsupportedTypeError
//
// A bool becomes "1" or "" rather than Bool because that is what a Perl
// boolean is once copied into a variable or hash slot: a plain scalar
// whose string is "1" or "". Bool stands for Perl's immortal PL_sv_yes and
// PL_sv_no, which Storable freezes with their own opcodes and which older
// Perls thaw as read-only values.
//
// Struct fields are named like encoding/json names them: the `perl:"name"`
// tag, or the `json` tag when there is no perl tag, or the field name.
// Options omitempty and omitzero work as in encoding/json, "-" skips the
// field, and embedded structs lend their fields to the outer hash.
//
// Sharing survives: the same Go pointer, map or slice reached twice gives
// the same *Hash or *Array (a shared Perl reference), and a Go pointer
// cycle becomes a Perl cycle rather than an endless loop. Values nested
// deeper than MaxDepth return ErrTooDeep.
func FromGo(x any) (Value, error) {
	// A Value passes through as it is (see modelTypes) without the
	// reflection below: most posts and calls carry one, and reflecting
	// cost 37 ns each, 5-9% of a Go poster's CPU.
	switch v := x.(type) {
	case nil:
		return Undef{}, nil
	case Undef, Str, Int, Uint, Float, Bool:
		return v.(Value), nil
	case *Array:
		if v != nil {
			return v, nil
		}
		return Undef{}, nil
	case *Hash:
		if v != nil {
			return v, nil
		}
		return Undef{}, nil
	case *Ref:
		if v != nil {
			return v, nil
		}
		return Undef{}, nil
	}
	e := encoder{seen: map[memoKey]Value{}}
	return e.encode(reflect.ValueOf(x), 0)
}

// memoKey identifies one Go container in memory: a struct or array by its
// address, a map by its pointer, a slice by its first element and length.
// The type tells a struct from its first field at the same address.
type memoKey struct {
	ptr uintptr
	len int
	typ reflect.Type
}

type encoder struct {
	seen map[memoKey]Value
}

var (
	valueType         = reflect.TypeFor[Value]()
	marshalerType     = reflect.TypeFor[Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	classerType       = reflect.TypeFor[PerlClasser]()
	timeType          = reflect.TypeFor[time.Time]()
)

// modelTypes are the types a Value can hold, and the Value interface
// itself: these pass through FromGo and Unmarshal as they are. Other
// types that happen to have the method (a struct embedding *Hash) do not.
var modelTypes = map[reflect.Type]bool{
	valueType:                 true,
	reflect.TypeFor[Undef]():  true,
	reflect.TypeFor[Str]():    true,
	reflect.TypeFor[Int]():    true,
	reflect.TypeFor[Uint]():   true,
	reflect.TypeFor[Float]():  true,
	reflect.TypeFor[Bool]():   true,
	reflect.TypeFor[*Array](): true,
	reflect.TypeFor[*Hash]():  true,
	reflect.TypeFor[*Ref]():   true,
}

// hookValue returns rv, or its address when only the pointer type has the
// method, as encoding/json does for addressable values.
func hookValue(rv reflect.Value, iface reflect.Type) (reflect.Value, bool) {
	if rv.Type().Implements(iface) {
		return rv, rv.CanInterface()
	}
	if rv.Kind() != reflect.Pointer && rv.CanAddr() && reflect.PointerTo(rv.Type()).Implements(iface) {
		a := rv.Addr()
		return a, a.CanInterface()
	}
	return reflect.Value{}, false
}

func (e *encoder) encode(rv reflect.Value, depth int) (Value, error) {
	if depth > MaxDepth {
		return nil, ErrTooDeep
	}
	if !rv.IsValid() {
		return Undef{}, nil
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if rv.IsNil() {
			return Undef{}, nil
		}
	}
	if modelTypes[rv.Type()] && rv.CanInterface() {
		return rv.Interface().(Value), nil
	}
	key, memo := e.key(rv)
	if memo {
		if v, ok := e.seen[key]; ok {
			return v, nil
		}
	}
	if h, ok := hookValue(rv, marshalerType); ok {
		if h.Kind() == reflect.Pointer && h.IsNil() {
			return Undef{}, nil
		}
		v, err := h.Interface().(Marshaler).MarshalPerl()
		if err != nil {
			return nil, &MarshalerError{Type: rv.Type(), Err: err}
		}
		if v == nil {
			v = Undef{}
		}
		if memo {
			e.seen[key] = v
		}
		return v, nil
	}
	if rv.Type() == timeType && rv.CanInterface() {
		t := rv.Interface().(time.Time)
		return Text(t.Format(time.RFC3339Nano)), nil
	}
	if h, ok := hookValue(rv, textMarshalerType); ok {
		if h.Kind() == reflect.Pointer && h.IsNil() {
			return Undef{}, nil
		}
		b, err := h.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil, &MarshalerError{Type: rv.Type(), Err: err}
		}
		return Text(string(b)), nil
	}

	switch rv.Kind() {
	case reflect.Bool:
		if rv.Bool() {
			return Str{S: "1"}, nil
		}
		return Str{S: ""}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u > math.MaxInt64 {
			return Uint(u), nil
		}
		return Int(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return Float(rv.Float()), nil
	case reflect.String:
		return Text(rv.String()), nil
	case reflect.Pointer, reflect.Interface:
		return e.encode(rv.Elem(), depth+1)
	case reflect.Struct:
		h := &Hash{Class: e.class(rv)}
		if memo {
			e.seen[key] = h
		}
		return h, e.fillStruct(h, rv, depth)
	case reflect.Map:
		h := &Hash{Class: e.class(rv)}
		if memo {
			e.seen[key] = h
		}
		return h, e.fillMap(h, rv, depth)
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 && !hasHooks(rv.Type().Elem()) {
			return Bytes(rv.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		a := &Array{Class: e.class(rv), Elems: make([]Value, rv.Len())}
		if memo {
			e.seen[key] = a
		}
		for i := range a.Elems {
			v, err := e.encode(rv.Index(i), depth+1)
			if err != nil {
				return nil, err
			}
			a.Elems[i] = v
		}
		return a, nil
	}
	return nil, &UnsupportedTypeError{Type: rv.Type()}
}

// hasHooks reports whether a byte-like element type marshals itself, in
// which case a slice of it is an array, not a byte string.
func hasHooks(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(marshalerType) || p.Implements(textMarshalerType)
}

// key returns the identity of rv when it is a container that could be
// reached twice. Zero-sized things are never memoised: Go may give them
// all the same address.
func (e *encoder) key(rv reflect.Value) (memoKey, bool) {
	switch rv.Kind() {
	case reflect.Map:
		return memoKey{ptr: rv.Pointer(), typ: rv.Type()}, true
	case reflect.Slice:
		if rv.Len() == 0 || rv.Type().Elem().Size() == 0 {
			return memoKey{}, false
		}
		return memoKey{ptr: rv.Pointer(), len: rv.Len(), typ: rv.Type()}, true
	case reflect.Struct, reflect.Array:
		if !rv.CanAddr() || rv.Type().Size() == 0 {
			return memoKey{}, false
		}
		return memoKey{ptr: rv.UnsafeAddr(), typ: rv.Type()}, true
	}
	return memoKey{}, false
}

func (e *encoder) class(rv reflect.Value) string {
	if h, ok := hookValue(rv, classerType); ok {
		if h.Kind() == reflect.Pointer && h.IsNil() {
			return ""
		}
		return h.Interface().(PerlClasser).PerlClass()
	}
	return ""
}

func (e *encoder) fillStruct(h *Hash, rv reflect.Value, depth int) error {
	for _, f := range cachedFields(rv.Type()).list {
		fv, ok := fieldByIndex(rv, f.index)
		if !ok {
			continue // inside a nil embedded pointer
		}
		if f.omitEmpty && isEmptyValue(fv) || f.omitZero && isZeroValue(fv) {
			continue
		}
		v, err := e.encode(fv, depth+1)
		if err != nil {
			return err
		}
		h.Entries = append(h.Entries, Entry{Key: Text(f.name), Value: v})
	}
	return nil
}

// fieldByIndex is rv.FieldByIndex, reporting false instead of panicking
// at a nil embedded pointer.
func fieldByIndex(rv reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return reflect.Value{}, false
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv, true
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func isZeroValue(v reflect.Value) bool {
	if z, ok := hookValue(v, reflect.TypeFor[interface{ IsZero() bool }]()); ok {
		if z.Kind() == reflect.Pointer && z.IsNil() {
			return true
		}
		return z.Interface().(interface{ IsZero() bool }).IsZero()
	}
	return v.IsZero()
}

func (e *encoder) fillMap(h *Hash, rv reflect.Value, depth int) error {
	type kv struct {
		key string
		val reflect.Value
	}
	entries := make([]kv, 0, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		k, err := mapKeyString(it.Key(), rv.Type())
		if err != nil {
			return err
		}
		entries = append(entries, kv{k, it.Value()})
	}
	slices.SortFunc(entries, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	h.Entries = make([]Entry, 0, len(entries))
	for _, x := range entries {
		v, err := e.encode(x.val, depth+1)
		if err != nil {
			return err
		}
		h.Entries = append(h.Entries, Entry{Key: Text(x.key), Value: v})
	}
	return nil
}

// mapKeyString turns a Go map key into a Perl hash key, as encoding/json
// does: strings as they are, then TextMarshalers, then integers.
func mapKeyString(k reflect.Value, mapType reflect.Type) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	if k.Type().Implements(textMarshalerType) && k.CanInterface() {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", nil
		}
		b, err := k.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return "", &MarshalerError{Type: k.Type(), Err: err}
		}
		return string(b), nil
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), nil
	}
	return "", &UnsupportedTypeError{Type: mapType}
}
