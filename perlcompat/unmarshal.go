package perlcompat

import (
	"encoding"
	"errors"
	"reflect"
	"strconv"
	"strings"
)

// Unmarshaler is a Go type that reads itself from a Perl value. It is
// given the value as it is, references and undef included.
type Unmarshaler interface {
	UnmarshalPerl(Value) error
}

// UnmarshalTypeError describes a Perl value that does not fit the Go type
// it was to be stored in.
type UnmarshalTypeError struct {
	Value string       // Perl kind: "string", "integer", "HASH", "Foo=HASH", ...
	Type  reflect.Type // the Go type it could not be stored in
	Field string       // path from the root, hash keys and array indexes: "servers.2.port"
	Err   error        // the cause when there is one, such as a *ConvertError
}

func (e *UnmarshalTypeError) Error() string {
	s := "perlcompat: cannot unmarshal " + e.Value + " into Go value of type " + e.Type.String()
	if e.Field != "" {
		s += " at " + strconv.Quote(e.Field)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *UnmarshalTypeError) Unwrap() error { return e.Err }

// InvalidUnmarshalError is returned for a destination that is not a
// non-nil pointer.
type InvalidUnmarshalError struct {
	Type reflect.Type
}

func (e *InvalidUnmarshalError) Error() string {
	if e.Type == nil {
		return "perlcompat: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "perlcompat: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "perlcompat: Unmarshal(nil " + e.Type.String() + ")"
}

// Unmarshal stores the Perl value v in the Go value dst points to, the way
// json.Unmarshal stores JSON:
//
//	Go destination        accepts
//	Value, *Hash, ...     v as it is (when its type matches)
//	Unmarshaler           anything; UnmarshalPerl decides
//	TextUnmarshaler       any scalar, as its string (time.Time: RFC 3339)
//	bool                  any scalar, by Perl truth ("0.0" is true)
//	int and uint kinds    Int, Uint, integral Float, Bool, numeric Str
//	float kinds           Int, Uint, Float, Bool, numeric Str
//	string                any scalar, stringified as Perl does (StringOf)
//	[]byte                Str: a byte string's bytes as they are, a
//	                      character string's UTF-8; or an *Array of numbers
//	slice, array          *Array (a Go array keeps only what fits, the
//	                      rest is zeroed)
//	map                   *Hash; keys string, integer or TextUnmarshaler
//	struct                *Hash: keys matched to fields by name (tags as
//	                      for FromGo), exactly or else ignoring case;
//	                      unknown keys are ignored
//	pointer               what it points to, allocated when nil
//	any                   ToGo(v); ErrTooDeep where ToGo would cut
//
// Numeric strings follow AsInt and AsFloat: well-formed decimals only, and
// a number outside the destination's range is an error, never wrapped.
// Undef sets the destination to its zero value (a pointer to nil). A
// reference (*Ref) stands for its target, except for Value and *Ref
// destinations. Blessing classes are ignored.
//
// Sharing survives: the same *Hash or *Array reached twice fills the same
// Go pointer, map or slice, and a Perl cycle through pointers becomes a Go
// pointer cycle.
//
// A value that does not fit its destination makes an *UnmarshalTypeError;
// Unmarshal goes on with the rest and returns the first one, as
// encoding/json does. Errors from Unmarshaler and TextUnmarshaler methods,
// and ErrTooDeep, stop it at once.
func Unmarshal(v Value, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{Type: reflect.TypeOf(dst)}
	}
	d := decoder{memo: map[decodeKey]reflect.Value{}}
	v = normalize(v)
	if isContainer(v) && !modelTypes[rv.Type()] {
		d.memo[decodeKey{v, rv.Type()}] = rv
	}
	if err := d.decode(v, rv.Elem(), 0); err != nil {
		return err
	}
	return d.firstErr
}

type decodeKey struct {
	v Value // a *Hash, *Array or *Ref: compared by pointer
	t reflect.Type
}

type decoder struct {
	memo     map[decodeKey]reflect.Value
	path     []string
	firstErr error
	conv     *goConverter // for destinations of type any
}

var (
	unmarshalerType     = reflect.TypeFor[Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	strType             = reflect.TypeFor[Str]()
	refType             = reflect.TypeFor[*Ref]()
)

// normalize turns nil and nil containers into Undef{}.
func normalize(v Value) Value {
	switch x := v.(type) {
	case nil:
		return Undef{}
	case *Array:
		if x == nil {
			return Undef{}
		}
	case *Hash:
		if x == nil {
			return Undef{}
		}
	case *Ref:
		if x == nil {
			return Undef{}
		}
	}
	return v
}

func isContainer(v Value) bool {
	switch v.(type) {
	case *Array, *Hash, *Ref:
		return true
	}
	return false
}

// deref follows references to what they finally point to.
func deref(v Value) (Value, error) {
	for i := 0; ; i++ {
		r, ok := v.(*Ref)
		if !ok {
			return v, nil
		}
		if i > MaxDepth {
			return nil, ErrTooDeep
		}
		v = normalize(r.Target)
	}
}

// mismatch records a type error and lets decoding go on.
func (d *decoder) mismatch(v Value, t reflect.Type, err error) error {
	if d.firstErr == nil {
		d.firstErr = &UnmarshalTypeError{Value: kindOf(v), Type: t, Field: strings.Join(d.path, "."), Err: err}
	}
	return nil
}

func (d *decoder) decode(v Value, rv reflect.Value, depth int) error {
	if depth > MaxDepth {
		return ErrTooDeep
	}
	v = normalize(v)
	t := rv.Type()

	if modelTypes[t] {
		return d.decodeModel(v, rv, depth)
	}
	if IsUndef(v) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			rv.SetZero()
			return nil
		}
	}
	if t.Kind() == reflect.Pointer {
		key := decodeKey{v, t}
		if isContainer(v) {
			if p, ok := d.memo[key]; ok {
				rv.Set(p)
				return nil
			}
		}
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		if isContainer(v) {
			d.memo[key] = rv
		}
		return d.decode(v, rv.Elem(), depth+1)
	}
	if h, ok := hookValue(rv, unmarshalerType); ok {
		return h.Interface().(Unmarshaler).UnmarshalPerl(v)
	}
	v, err := deref(v)
	if err != nil {
		return err
	}
	if h, ok := hookValue(rv, textUnmarshalerType); ok {
		if IsUndef(v) {
			rv.SetZero()
			return nil
		}
		s, ok := StringOf(v)
		if !ok {
			return d.mismatch(v, t, nil)
		}
		return h.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	if IsUndef(v) {
		rv.SetZero()
		return nil
	}

	switch t.Kind() {
	case reflect.Interface:
		if e := rv.Elem(); e.Kind() == reflect.Pointer && !e.IsNil() {
			return d.decode(v, e.Elem(), depth+1)
		}
		if t.NumMethod() != 0 {
			return d.mismatch(v, t, nil)
		}
		if d.conv == nil {
			d.conv = newGoConverter() // one for the whole call: sharing survives across fields
		}
		g := d.conv.convert(v, depth)
		if d.conv.tooDeep {
			return ErrTooDeep
		}
		if g != nil {
			rv.Set(reflect.ValueOf(g))
		} else {
			rv.SetZero()
		}
		return nil
	case reflect.Bool:
		if isContainer(v) {
			return d.mismatch(v, t, nil)
		}
		rv.SetBool(Truth(v))
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := AsInt(v)
		if err != nil {
			return d.mismatch(v, t, err)
		}
		if rv.OverflowInt(i) {
			return d.mismatch(v, t, convErr("Unmarshal", v, ErrRange))
		}
		rv.SetInt(i)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u, err := AsUint(v)
		if err != nil {
			return d.mismatch(v, t, err)
		}
		if rv.OverflowUint(u) {
			return d.mismatch(v, t, convErr("Unmarshal", v, ErrRange))
		}
		rv.SetUint(u)
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := AsFloat(v)
		if err != nil {
			return d.mismatch(v, t, err)
		}
		if rv.OverflowFloat(f) {
			return d.mismatch(v, t, convErr("Unmarshal", v, ErrRange))
		}
		rv.SetFloat(f)
		return nil
	case reflect.String:
		s, ok := StringOf(v)
		if !ok {
			return d.mismatch(v, t, nil)
		}
		rv.SetString(s)
		return nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !hasHooks(t.Elem()) && !isContainer(v) {
			var b []byte
			if s, ok := v.(Str); ok {
				b = []byte(s.S) // bytes as they are; a UTF8 string's UTF-8
			} else {
				s, _ := StringOf(v)
				b = []byte(s)
			}
			rv.SetBytes(b)
			return nil
		}
		a, ok := v.(*Array)
		if !ok {
			return d.mismatch(v, t, nil)
		}
		key := decodeKey{v, t}
		if s, ok := d.memo[key]; ok {
			rv.Set(s)
			return nil
		}
		s := reflect.MakeSlice(t, len(a.Elems), len(a.Elems))
		rv.Set(s)
		d.memo[key] = s
		return d.decodeElems(a, s, depth)
	case reflect.Array:
		a, ok := v.(*Array)
		if !ok {
			return d.mismatch(v, t, nil)
		}
		if err := d.decodeElems(&Array{Elems: a.Elems[:min(len(a.Elems), rv.Len())]}, rv, depth); err != nil {
			return err
		}
		for i := len(a.Elems); i < rv.Len(); i++ {
			rv.Index(i).SetZero()
		}
		return nil
	case reflect.Map:
		h, ok := v.(*Hash)
		if !ok {
			return d.mismatch(v, t, nil)
		}
		return d.decodeMap(h, rv, depth)
	case reflect.Struct:
		h, ok := v.(*Hash)
		if !ok {
			return d.mismatch(v, t, nil)
		}
		return d.decodeStruct(h, rv, depth)
	}
	return d.mismatch(v, t, nil)
}

// decodeModel fills a destination whose type is Value or one of its
// types: the value as it is when it fits, or a conversion for scalars.
func (d *decoder) decodeModel(v Value, rv reflect.Value, depth int) error {
	t := rv.Type()
	if t == valueType {
		rv.Set(reflect.ValueOf(v))
		return nil
	}
	if t != refType {
		var err error
		if v, err = deref(v); err != nil {
			return err
		}
	}
	if reflect.TypeOf(v) == t {
		rv.Set(reflect.ValueOf(v))
		return nil
	}
	if IsUndef(v) {
		rv.SetZero()
		return nil
	}
	switch t.Kind() {
	case reflect.Int64, reflect.Uint64, reflect.Float64, reflect.Bool:
		// Int, Uint, Float and Bool read any scalar as the Go kinds do.
		return d.decodeScalarKind(v, rv, depth)
	}
	if t == strType {
		if s, ok := StringOf(v); ok {
			rv.Set(reflect.ValueOf(Text(s)))
			return nil
		}
	}
	return d.mismatch(v, t, nil)
}

// decodeScalarKind decodes into rv by its kind alone, skipping the model
// type check that sent it here.
func (d *decoder) decodeScalarKind(v Value, rv reflect.Value, depth int) error {
	// A fresh value of the bare kind, then converted back: the kind switch
	// in decode does the work and its errors name the model type.
	tmp := reflect.New(kindType[rv.Kind()]).Elem()
	before := d.firstErr
	if err := d.decode(v, tmp, depth+1); err != nil {
		return err
	}
	if d.firstErr != before {
		d.firstErr.(*UnmarshalTypeError).Type = rv.Type()
		return nil
	}
	rv.Set(tmp.Convert(rv.Type()))
	return nil
}

var kindType = map[reflect.Kind]reflect.Type{
	reflect.Int64:   reflect.TypeFor[int64](),
	reflect.Uint64:  reflect.TypeFor[uint64](),
	reflect.Float64: reflect.TypeFor[float64](),
	reflect.Bool:    reflect.TypeFor[bool](),
}

func (d *decoder) decodeElems(a *Array, s reflect.Value, depth int) error {
	for i, e := range a.Elems {
		d.path = append(d.path, strconv.Itoa(i))
		err := d.decode(e, s.Index(i), depth+1)
		d.path = d.path[:len(d.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) decodeMap(h *Hash, rv reflect.Value, depth int) error {
	t := rv.Type()
	kt := t.Key()
	textKey := reflect.PointerTo(kt).Implements(textUnmarshalerType)
	switch kt.Kind() {
	case reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
	default:
		if !textKey {
			return d.mismatch(h, t, nil)
		}
	}
	key := decodeKey{h, t}
	if m, ok := d.memo[key]; ok {
		rv.Set(m)
		return nil
	}
	if rv.IsNil() {
		rv.Set(reflect.MakeMap(t))
	}
	d.memo[key] = rv
	for _, e := range h.Entries {
		name := e.Key.Chars()
		d.path = append(d.path, name)
		err := d.decodeMapEntry(name, e.Value, rv, textKey, depth)
		d.path = d.path[:len(d.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) decodeMapEntry(name string, v Value, m reflect.Value, textKey bool, depth int) error {
	t := m.Type()
	kt := t.Key()
	k := reflect.New(kt).Elem()
	switch {
	case textKey:
		if err := k.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(name)); err != nil {
			return err
		}
	case kt.Kind() == reflect.String:
		k.SetString(name)
	default:
		before := d.firstErr
		if err := d.decode(Text(name), k, depth+1); err != nil {
			return err
		}
		if d.firstErr != before {
			return nil // the key did not fit; the error is recorded
		}
	}
	e := reflect.New(t.Elem()).Elem()
	if err := d.decode(v, e, depth+1); err != nil {
		return err
	}
	m.SetMapIndex(k, e)
	return nil
}

func (d *decoder) decodeStruct(h *Hash, rv reflect.Value, depth int) error {
	fields := cachedFields(rv.Type())
	for _, e := range h.Entries {
		name := e.Key.Chars()
		f := fields.find(name)
		if f == nil {
			continue
		}
		fv, err := settableField(rv, f.index)
		if err != nil {
			return err
		}
		d.path = append(d.path, name)
		err = d.decode(e.Value, fv, depth+1)
		d.path = d.path[:len(d.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

// settableField is rv.FieldByIndex, allocating nil embedded pointers on
// the way.
func settableField(rv reflect.Value, index []int) (reflect.Value, error) {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				if !rv.CanSet() {
					return reflect.Value{}, errors.New("perlcompat: cannot set embedded pointer to unexported struct " + rv.Type().Elem().String())
				}
				rv.Set(reflect.New(rv.Type().Elem()))
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv, nil
}
