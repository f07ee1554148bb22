package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// The JSON value notation, shared with the capture fixtures
// (conformance/testdata/captures/README.md, "Value notation"):
//
//	null                                  undef
//	"text"                                a character string (perlcompat.Text:
//	                                      Perl's UTF8 flag on when non-ASCII)
//	{"$bytes": "<hex>"}                   a byte string (UTF8 flag off)
//	12, -3                                an integer (IV; above the int64
//	                                      range an unsigned UV)
//	1.5, 1.0, 2e3                         a floating-point number (NV)
//	true, false                           Perl's immortal true and false,
//	                                      which Perl sees as "1" and ""
//	[...]                                 an array reference
//	{...}                                 a hash reference
//	{"$ref": <target>}                    a reference to a scalar or a reference
//	{"$blessed": "C", "$value": <ref>}    a reference blessed into C
//
// A hash key starting with "$" is written with one more "$" in front
// ("$$x" is the key "$x"); "$bytes:<hex>" is a key made of bytes. Any other
// key starting with a single "$" is refused.
//
// Printing is deterministic: hash keys sorted, one line, no HTML escaping.
// A byte string that is all ASCII prints as a plain string; an integral
// Float prints with ".0" (so that reading it back gives a Float again);
// Bool prints as "1" or ""; Inf and NaN, which JSON lacks, print as the
// strings Perl would ("Inf", "-Inf", "NaN"). Shared references print in
// full at every use; a cycle can't be printed (use -perl).

// parseJSONValue reads exactly one JSON value in the notation.
func parseJSONValue(data []byte) (perlcompat.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty JSON value")
		}
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("bad JSON: more than one value")
	}
	return fromNotation(raw, "$")
}

// fromNotation converts a value decoded by encoding/json (with UseNumber).
// path names the place for error messages.
func fromNotation(raw any, path string) (perlcompat.Value, error) {
	switch x := raw.(type) {
	case nil:
		return perlcompat.Undef{}, nil
	case bool:
		return perlcompat.Bool(x), nil
	case string:
		return perlcompat.Text(x), nil
	case json.Number:
		return numberValue(string(x))
	case []any:
		a := &perlcompat.Array{Elems: make([]perlcompat.Value, len(x))}
		for i, e := range x {
			v, err := fromNotation(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			a.Elems[i] = v
		}
		return a, nil
	case map[string]any:
		return objectValue(x, path)
	}
	return nil, fmt.Errorf("%s: unexpected JSON %T", path, raw)
}

func numberValue(s string) (perlcompat.Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return perlcompat.Int(i), nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return perlcompat.Uint(u), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("bad number %s", s)
	}
	return perlcompat.Float(f), nil
}

func objectValue(m map[string]any, path string) (perlcompat.Value, error) {
	special := func(key string) bool { _, ok := m[key]; return ok }
	switch {
	case special("$bytes"):
		if len(m) != 1 {
			return nil, fmt.Errorf("%s: {\"$bytes\": ...} takes no other key", path)
		}
		s, ok := m["$bytes"].(string)
		if !ok {
			return nil, fmt.Errorf("%s: \"$bytes\" needs a hex string", path)
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: \"$bytes\": %v", path, err)
		}
		return perlcompat.Bytes(b), nil
	case special("$ref"):
		if len(m) != 1 {
			return nil, fmt.Errorf("%s: {\"$ref\": ...} takes no other key", path)
		}
		t, err := fromNotation(m["$ref"], path+".$ref")
		if err != nil {
			return nil, err
		}
		return &perlcompat.Ref{Target: t}, nil
	case special("$blessed") || special("$value"):
		if len(m) != 2 || !special("$blessed") || !special("$value") {
			return nil, fmt.Errorf("%s: a blessed reference is {\"$blessed\": \"Class\", \"$value\": ...} and nothing else", path)
		}
		class, ok := m["$blessed"].(string)
		if !ok || class == "" {
			return nil, fmt.Errorf("%s: \"$blessed\" needs a class name", path)
		}
		if inner, ok := m["$value"].(map[string]any); ok {
			if _, nested := inner["$blessed"]; nested {
				return nil, fmt.Errorf("%s: \"$value\" is already blessed", path)
			}
		}
		v, err := fromNotation(m["$value"], path+".$value")
		if err != nil {
			return nil, err
		}
		switch r := v.(type) {
		case *perlcompat.Array:
			r.Class = class
		case *perlcompat.Hash:
			r.Class = class
		case *perlcompat.Ref:
			r.Class = class
		default:
			return nil, fmt.Errorf("%s: only a reference can be blessed (an array, an object or {\"$ref\": ...})", path)
		}
		return v, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic entry order
	h := &perlcompat.Hash{Entries: make([]perlcompat.Entry, 0, len(m))}
	for _, k := range keys {
		key, err := keyValue(k, path)
		if err != nil {
			return nil, err
		}
		v, err := fromNotation(m[k], path+"."+k)
		if err != nil {
			return nil, err
		}
		if h.Index(key) >= 0 {
			return nil, fmt.Errorf("%s: key %q given twice", path, k)
		}
		h.Entries = append(h.Entries, perlcompat.Entry{Key: key, Value: v})
	}
	return h, nil
}

func keyValue(k, path string) (perlcompat.Str, error) {
	switch {
	case strings.HasPrefix(k, "$$"):
		return perlcompat.Text(k[1:]), nil
	case strings.HasPrefix(k, "$bytes:"):
		b, err := hex.DecodeString(k[len("$bytes:"):])
		if err != nil {
			return perlcompat.Str{}, fmt.Errorf("%s: key %q: %v", path, k, err)
		}
		return perlcompat.Bytes(b), nil
	case strings.HasPrefix(k, "$"):
		return perlcompat.Str{}, fmt.Errorf("%s: key %q: keys starting with \"$\" are written with one more \"$\"", path, k)
	}
	return perlcompat.Text(k), nil
}

// errCycle: the JSON notation can't show a value that contains itself.
var errCycle = errors.New("the value contains a cycle, which the JSON notation can't show (use -perl)")

// formatJSONValue prints v in the notation, on one line.
func formatJSONValue(v perlcompat.Value) (string, error) {
	var b strings.Builder
	if err := writeJSON(&b, v, map[any]bool{}); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeJSON(b *strings.Builder, v perlcompat.Value, path map[any]bool) error {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		b.WriteString("null")
		return nil
	case perlcompat.Str:
		writeJSONStr(b, x)
		return nil
	case perlcompat.Int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
		return nil
	case perlcompat.Uint:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
		return nil
	case perlcompat.Float:
		writeJSONFloat(b, float64(x))
		return nil
	case perlcompat.Bool:
		if x {
			b.WriteString(`"1"`)
		} else {
			b.WriteString(`""`)
		}
		return nil
	}
	if path[v] {
		return errCycle
	}
	path[v] = true
	defer delete(path, v)
	closing := ""
	open := func(c string) {
		if c != "" {
			b.WriteString(`{"$blessed":`)
			writeJSONString(b, c)
			b.WriteString(`,"$value":`)
			closing = "}"
		}
	}
	switch x := v.(type) {
	case *perlcompat.Array:
		open(x.Class)
		b.WriteByte('[')
		for i, e := range x.Elems {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e, path); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case *perlcompat.Hash:
		open(x.Class)
		type kv struct {
			k string
			v perlcompat.Value
		}
		entries := make([]kv, len(x.Entries))
		for i, e := range x.Entries {
			entries[i] = kv{notationKey(e.Key), e.Value}
		}
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].k < entries[j].k })
		b.WriteByte('{')
		for i, e := range entries {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, e.k)
			b.WriteByte(':')
			if err := writeJSON(b, e.v, path); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *perlcompat.Ref:
		open(x.Class)
		b.WriteString(`{"$ref":`)
		if err := writeJSON(b, x.Target, path); err != nil {
			return err
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("unknown Perl value type %T", v)
	}
	b.WriteString(closing)
	return nil
}

func writeJSONStr(b *strings.Builder, s perlcompat.Str) {
	if !s.UTF8 && !perlcompat.IsASCII(s.S) {
		b.WriteString(`{"$bytes":"`)
		b.WriteString(hex.EncodeToString([]byte(s.S)))
		b.WriteString(`"}`)
		return
	}
	writeJSONString(b, s.S)
}

func writeJSONFloat(b *strings.Builder, f float64) {
	switch {
	case math.IsNaN(f):
		b.WriteString(`"NaN"`)
		return
	case math.IsInf(f, 1):
		b.WriteString(`"Inf"`)
		return
	case math.IsInf(f, -1):
		b.WriteString(`"-Inf"`)
		return
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	b.WriteString(s)
}

// writeJSONString writes s as a JSON string: UTF-8 as it is, only '"',
// '\' and control characters escaped; invalid UTF-8 becomes U+FFFD.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r) // utf8.RuneError for invalid bytes: U+FFFD
		}
	}
	b.WriteByte('"')
}

func notationKey(k perlcompat.Str) string {
	if !k.UTF8 && !perlcompat.IsASCII(k.S) {
		return "$bytes:" + hex.EncodeToString([]byte(k.S))
	}
	if strings.HasPrefix(k.S, "$") {
		return "$" + k.S
	}
	return k.S
}
