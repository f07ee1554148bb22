package storable

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	P "github.com/ikcgate/ikcgate/perlcompat"
)

func arr(es ...P.Value) *P.Array { return &P.Array{Elems: es} }

func hash(kv ...any) *P.Hash {
	h := &P.Hash{}
	for i := 0; i < len(kv); i += 2 {
		var k P.Str
		switch x := kv[i].(type) {
		case string:
			k = P.Str{S: x}
		case P.Str:
			k = x
		}
		h.Entries = append(h.Entries, P.Entry{Key: k, Value: kv[i+1].(P.Value)})
	}
	return h
}

func s(v string) P.Str { return P.Str{S: v} }
func u(v string) P.Str { return P.Str{S: v, UTF8: true} }

// vectors were produced by Perl 5.36 / Storable 3.26 (nfreeze, with
// $Storable::canonical where key order matters) and are what NFreeze must
// write for the Go value, byte for byte.
var vectors = []struct {
	name string
	hex  string
	v    func() P.Value
}{
	{"spec posted", "050b 03 00000002 0a15 706f653a2f2f5372762f746573742f706f73746564 00000005 6576656e74 0a05 68656c6c6f 00000006 706172616d73",
		func() P.Value { return hash("event", s("poe://Srv/test/posted"), "params", s("hello")) }},
	{"spec called", "050b03000000030a15706f653a2f2f5372762f746573742f63616c6c6564000000056576656e740402000000020881088200000006706172616d730403000000030a03436c69000000066b65726e656c08820000000773657373696f6e0a03676f740000000573746174650000000472737670",
		func() P.Value {
			return hash("event", s("poe://Srv/test/called"), "params", arr(P.Int(1), P.Int(2)),
				"rsvp", hash("kernel", s("Cli"), "session", P.Int(2), "state", s("got")))
		}},
	{"shared hash [$h,$h]", "050b 02 00000002 | 04 03 00000001 08 81 00000001 7a | 04 00 00000002",
		func() P.Value { h := hash("z", P.Int(1)); return arr(h, h) }},
	{"cafe key downgraded", "050b19000000000108810200000004636166e9",
		func() P.Value { return hash(u("café"), P.Int(1)) }},
	{"wide key", "050b19000000000108810100000003e298ba",
		func() P.Value { return hash(u("☺"), P.Int(1)) }},
	{"latin-1 byte key", "050b0300000001088100000004636166e9",
		func() P.Value { return hash(s("caf\xe9"), P.Int(1)) }},
	{"mixed keys", "050b190000000003088100000000016108820000000004636166e9088301000000046be298ba",
		func() P.Value { return hash("a", P.Int(1), s("caf\xe9"), P.Int(2), u("k☺"), P.Int(3)) }},
	{"bless and ix_bless", "050b0200000003041103466f6f020000000004120003000000000411034261720200000000",
		func() P.Value {
			return arr(&P.Array{Class: "Foo"}, &P.Hash{Class: "Foo"}, &P.Array{Class: "Bar"})
		}},
	{"blessed scalar root", "050b1103466f6f0a0176",
		func() P.Value { return &P.Ref{Class: "Foo", Target: s("v")} }},
	{"long class name", "050b1180000000c8" + strings.Repeat("43", 200) + "0200000000",
		func() P.Value { return &P.Array{Class: strings.Repeat("C", 200)} }},
	{"scalar ref root", "050b0a0178", func() P.Value { return &P.Ref{Target: s("x")} }},
	{"ref to ref", "050b040a0178", func() P.Value { return &P.Ref{Target: &P.Ref{Target: s("x")}} }},
	{"shared scalar ref", "050b0200000002040a06736861726564040000000002",
		func() P.Value { r := &P.Ref{Target: s("shared")}; return arr(r, r) }},
	{"cycle", "050b0200000001040000000000",
		func() P.Value { a := arr(); a.Elems = []P.Value{a}; return a }},
	{"self ref", "050b04 00 00000000",
		func() P.Value { r := &P.Ref{}; r.Target = r; return r }},
	{"int edges", "050b020000000a08ff0900000080080009ffffff7f097fffffff0a0a3231343734383336343809800000000a0b2d323134373438333634390880087f",
		func() P.Value {
			return arr(P.Int(127), P.Int(128), P.Int(-128), P.Int(-129), P.Int(2147483647), P.Int(2147483648),
				P.Int(-2147483648), P.Int(-2147483649), P.Int(0), P.Int(-1))
		}},
	{"64-bit ints", "050b02000000040a1431383434363734343037333730393535313631350a13393232333337323033363835343737353830370a142d393232333337323033363835343737353830380a0a34323934393637323935",
		func() P.Value {
			return arr(P.Uint(math.MaxUint64), P.Int(math.MaxInt64), P.Int(math.MinInt64), P.Uint(4294967295))
		}},
	{"floats", "050b02000000080a03332e350a03302e310a0631652b313030088208800a03496e660a042d496e660a034e614e",
		func() P.Value {
			return arr(P.Float(3.5), P.Float(0.1), P.Float(1e100), P.Float(2), P.Float(math.Copysign(0, -1)),
				P.Float(math.Inf(1)), P.Float(math.Inf(-1)), P.Float(math.NaN()))
		}},
	{"float 2^53", "050b0a14392e3030373139393235343734303939652b3135", func() P.Value { return &P.Ref{Target: P.Float(1 << 53)} }},
	{"float 2^53-1", "050b0a1039303037313939323534373430393931", func() P.Value { return &P.Ref{Target: P.Float(1<<53 - 1)} }},
	{"float 1e18", "050b0a0531652b3138", func() P.Value { return &P.Ref{Target: P.Float(1e18)} }},
	{"float 1e-5", "050b0a0531652d3035", func() P.Value { return &P.Ref{Target: P.Float(1e-5)} }},
	{"float 1.5e300", "050b0a08312e35652b333030", func() P.Value { return &P.Ref{Target: P.Float(1.5e300)} }},
	{"booleans as strings", "050b02000000020a01310a00", func() P.Value { return arr(P.Bool(true), P.Bool(false)) }},
	{"undef", "050b020000000105", func() P.Value { return arr(P.Undef{}) }},
	{"utf8 and latin-1 strings", "050b02000000021703e298ba0a04636166e9", func() P.Value { return arr(u("☺"), s("caf\xe9")) }},
	{"255 byte string", "050b02000000010aff" + strings.Repeat("61", 255), func() P.Value { return arr(s(strings.Repeat("a", 255))) }},
	{"256 byte string", "050b02000000010100000100" + strings.Repeat("61", 256), func() P.Value { return arr(s(strings.Repeat("a", 256))) }},
	{"256 byte utf8 string", "050b02000000011800000100" + strings.Repeat("c3a9", 128),
		func() P.Value { return arr(u(strings.Repeat("é", 128))) }},
}

func TestNFreezeWritesWhatPerlWrites(t *testing.T) {
	for _, tc := range vectors {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(t, tc.hex)
			got, err := NFreeze(nil, tc.v())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("NFreeze:\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestThawReadsPerlVectors(t *testing.T) {
	for _, tc := range vectors {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Thaw(mustHex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			if err := sameGraph(nfreezeView(tc.v()), got); err != nil {
				t.Errorf("%v\n got %s", err, describe(got))
			}
		})
	}
}

// TestThawPerlOnlyOpcodes covers images Perl writes but NFreeze never does.
func TestThawPerlOnlyOpcodes(t *testing.T) {
	shared := func() P.Value { h := &P.Hash{}; return arr(h, h) }
	sharedOL := func() P.Value { h := &P.Hash{Class: "OL"}; return arr(h, h) }
	for _, tc := range []struct {
		name string
		hex  string
		want P.Value
	}{
		{"qr in array", "050b020000000104110652656765787020000461622b630169",
			arr(&P.Ref{Class: "Regexp", Target: s("(?^i:ab+c)")})},
		{"qr root", "050b11065265676578702000017800", &P.Ref{Class: "Regexp", Target: s("(?^:x)")}},
		{"qr long pattern", "050b020000000104110652656765787020010000012c" + strings.Repeat("61", 300) + "036d7378",
			arr(&P.Ref{Class: "Regexp", Target: s("(?^msx:" + strings.Repeat("a", 300) + ")")})},
		{"qr utf8 loses flag like Storable", "050b0200000001041106526567657870200004e298ba780175",
			arr(&P.Ref{Class: "Regexp", Target: s("(?^u:\xe2\x98\xbax)")})},
		{"vstring", "050b02000000011d0676312e322e330a03010203", arr(s("\x01\x02\x03"))},
		{"lvstring", "050b 02 00000001 1e 00000002 0000 0a0178", arr(s("x"))},
		{"vstring root utf8", "050b1d0976312e32322e33333317040116c58d", &P.Ref{Target: u("\x01\x16ō")}},
		{"svundef_elem", "050b02000000030e0e0881", arr(P.Undef{}, P.Undef{}, P.Int(1))},
		{"svundef_elem opcode", "050b02000000011f", arr(P.Undef{})},
		{"sv_undef root", "050b0e", &P.Ref{Target: P.Undef{}}},
		{"sv_yes sv_no refs", "050b0200000002040f0410", arr(&P.Ref{Target: P.Bool(true)}, &P.Ref{Target: P.Bool(false)})},
		{"boolean opcodes of newer Storable", "050b02000000022223", arr(P.Bool(true), P.Bool(false))},
		{"weakref", "050b0200000002040300000001088100000001611b0000000002",
			func() P.Value { h := hash("a", P.Int(1)); return arr(h, h) }()},
		{"overload", "050b02000000011411024f4c0300000000", arr(&P.Hash{Class: "OL"})},
		{"weak overload", "050b02000000021411024f4c03000000001c0000000002", sharedOL()},
		{"object to hash in slot", "050b 02 00000002 03 00000000 00 00000001", shared()},
		{"object to scalar copies", "050b02000000020a01780000000001", arr(s("x"), s("x"))},
		{"native freeze", "040b0831323334353637380408080802060000000881070000000000000c40066079feffffffffff0600000000000100000a017806c800000000000000",
			arr(P.Int(1), P.Float(3.5), P.Int(-100000), P.Int(1<<40), s("x"), P.Int(200))},
		{"native root double", "040b08313233343536373804080808070000000000000c40", &P.Ref{Target: P.Float(3.5)}},
		{"native big-endian 32-bit", "040b0434333231040404080200000002060000002a07400c000000000000",
			arr(P.Int(42), P.Float(3.5))},
		{"pst0 nstore file", "7073743005 0b020000000108 81", arr(P.Int(1))},
		{"pst0 store file", "70737430040b083132333435363738040808080201000000 0881", arr(P.Int(1))},
		{"future minor", "050c020000000108 81", arr(P.Int(1))},
		{"restricted hash, locked keys", "050b19010000000208820000000001620881000000000161", hash("b", P.Int(2), "a", P.Int(1))},
		{"locked hash", "050b1901000000010881040000000161", hash("a", P.Int(1))},
		{"placeholder keys dropped", "050b1901000000030e14000000016208810000000001610e140000000163", hash("a", P.Int(1))},
		{"key stored as item", "050b19000000000108 81 08 0a0178", hash("x", P.Int(1))},
		// Perl keeps the flag of an ASCII key through a thaw (checked with perl).
		{"ascii key flagged utf8 stays flagged", "050b19000000000108810100000001 61", &P.Hash{Entries: []P.Entry{{Key: P.Str{S: "a", UTF8: true}, Value: P.Int(1)}}}},
		{"duplicate keys later wins", "050b030000000208810000000161088200000001 61", hash("a", P.Int(2))},
		{"duplicate byte and downgraded keys", "050b19000000000208810000000004636166e908820200000004636166e9",
			hash(s("caf\xe9"), P.Int(2))},
		{"trailing bytes ignored", "050b02000000010881ffff", arr(P.Int(1))},
		{"native integer in netorder image", "050b06 2a00000000000000", &P.Ref{Target: P.Int(42)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Thaw(mustHex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			if err := sameGraph(tc.want, got); err != nil {
				t.Errorf("%v\n got %s\nwant %s", err, describe(got), describe(tc.want))
			}
		})
	}
}

func TestThawLargeHashDeduplicatesLinearly(t *testing.T) {
	// 20000 entries all with key "k": later wins, one key left.
	img := []byte{0x05, 0x0b, opHash}
	const n = 20000
	img = be32.AppendUint32(img, n)
	for i := 0; i < n; i++ {
		img = append(img, opNetint)
		img = be32.AppendUint32(img, uint32(i))
		img = append(img, 0, 0, 0, 1, 'k')
	}
	v, err := Thaw(img)
	if err != nil {
		t.Fatal(err)
	}
	h := v.(*P.Hash)
	if len(h.Entries) != 1 || h.Entries[0].Value != P.Int(n-1) {
		t.Fatalf("got %d entries, first %v", len(h.Entries), h.Entries[0])
	}
}

func TestThawErrorsNameOpcodeAndOffset(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hex    string
		lim    Limits
		is     error
		msg    string // substring of Error()
		offset int
	}{
		{"empty", "", Limits{}, ErrTruncated, "header at offset 0", 0},
		{"header only", "050b", Limits{}, ErrTruncated, "no root item", 2},
		{"major 1", "030b020000000105", Limits{}, ErrBadHeader, "binary major 1", 0},
		{"major 3", "070b020000000105", Limits{}, ErrBadHeader, "binary major 3", 0},
		{"bad byte order", "040b0861626364656667680408080802", Limits{}, ErrBadHeader, "byte order", 2},
		{"sizeof int 8", "040b083132333435363738080808080205", Limits{}, ErrBadHeader, "sizeof(int)", 11},
		{"hook", "050b020000000113000000", Limits{}, ErrUnsupportedOpcode, "SX_HOOK (0x13) at offset 7", 7},
		{"tied hash", "050b0c03", Limits{}, ErrUnsupportedOpcode, "SX_TIED_HASH (0x0c) at offset 2", 2},
		{"tied array", "050b0b", Limits{}, ErrUnsupportedOpcode, "SX_TIED_ARRAY (0x0b)", 2},
		{"tied scalar", "050b0d", Limits{}, ErrUnsupportedOpcode, "SX_TIED_SCALAR (0x0d)", 2},
		{"tied key", "050b15", Limits{}, ErrUnsupportedOpcode, "SX_TIED_KEY (0x15)", 2},
		{"tied idx", "050b16", Limits{}, ErrUnsupportedOpcode, "SX_TIED_IDX (0x16)", 2},
		{"code", "050b1a", Limits{}, ErrUnsupportedOpcode, "SX_CODE (0x1a)", 2},
		{"lobject", "050b21", Limits{}, ErrUnsupportedOpcode, "SX_LOBJECT (0x21)", 2},
		{"unknown 0x24", "050b0200000001 24", Limits{}, ErrUnknownOpcode, "unknown (0x24) at offset 7", 7},
		{"unknown 0xff", "050bff", Limits{}, ErrUnknownOpcode, "unknown (0xff) at offset 2", 2},
		{"truncated array", "050b020000000208 81", Limits{}, ErrTruncated, "SX_ARRAY (0x02) at offset 2", 2},
		{"truncated scalar", "050b0a0561", Limits{}, ErrTruncated, "SX_SCALAR (0x0a) at offset 2: truncated image: 5-byte string", 2},
		{"truncated lscalar", "050b01ffffffff61", Limits{}, ErrTruncated, "SX_LSCALAR (0x01)", 2},
		{"truncated netint", "050b09000000", Limits{}, ErrTruncated, "SX_NETINT (0x09)", 2},
		{"truncated key", "050b03000000010881000000056b", Limits{}, ErrTruncated, "SX_HASH (0x03) at offset 2: truncated image: 5-byte key", 2},
		{"truncated ref", "050b04", Limits{}, ErrTruncated, "SX_REF (0x04) at offset 2: truncated image: missing item", 2},
		{"bad tag", "050b 02 00000001 04 00 00000005", Limits{}, ErrBadTag, "SX_OBJECT (0x00) at offset 8: back-reference to unknown tag: tag 5, 2 items seen", 8},
		{"root object", "050b0000000000", Limits{}, ErrBadTag, "SX_OBJECT", 2},
		{"bad class index", "050b120002 00000000", Limits{}, ErrBadClassIndex, "SX_IX_BLESS (0x12) at offset 2", 2},
		{"bless inside bless", "050b110141 110142 0200000000", Limits{}, ErrMalformed, "SX_BLESS (0x11) at offset 5", 5},
		{"vstring over array", "050b1d0176 0200000000", Limits{}, ErrMalformed, "SX_VSTRING (0x1d)", 2},
		{"long double", "040b08 3132333435363738 04080810 07", Limits{}, ErrUnsupportedOpcode, "SX_DOUBLE (0x07) at offset 15: unsupported opcode: 16-byte NV", 15},
		{"too many elements", "050b02ffffffff", Limits{}, ErrTooManyElements, "4294967295 elements", 2},
		{"declared more than present", "050b02ffffffff", Limits{MaxElements: 1 << 40}, ErrTruncated, "4294967295 elements, 0 bytes left", 2},
		{"hash declared more than present", "050b03000f4240 05", Limits{}, ErrTruncated, "1000000 keys", 2},
		{"too deep refs", "050b" + strings.Repeat("04", 5) + "05", Limits{MaxDepth: 4}, ErrTooDeep, "SX_REF (0x04) at offset 6: nested too deep: depth 5, limit 4", 6},
		{"too deep arrays", "050b0200000001 0402000000010402000000010405", Limits{MaxDepth: 4}, ErrTooDeep, "SX_ARRAY (0x02) at offset 14", 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{Limits: tc.lim}
			_, err := d.Thaw(mustHex(t, tc.hex))
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not *DecodeError", err)
			}
			if de.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (%v)", de.Offset, tc.offset, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestThawAllowClassRefuses(t *testing.T) {
	img := mustHex(t, "050b0200000003041103466f6f020000000004120003000000000411034261720200000000")
	var asked []string
	d := Decoder{AllowClass: func(c string) bool { asked = append(asked, c); return c == "Foo" }}
	_, err := d.Thaw(img)
	if !errors.Is(err, ErrClassNotAllowed) || !strings.Contains(err.Error(), `"Bar"`) {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]string{"Foo", "Bar"}, asked); diff != "" {
		t.Errorf("AllowClass calls (-want +got):\n%s", diff)
	}
}

// TestRestrictClassesAsksStorableWhileItDecodes: a restricted Storable
// freezer checks classes during the thaw, once per class name and in
// image order (the walk of the result would ask per blessed container,
// the last first), and the decoder's own AllowClass still applies.
func TestRestrictClassesAsksStorableWhileItDecodes(t *testing.T) {
	img := mustHex(t, "050b0200000003041103466f6f020000000004120003000000000411034261720200000000")
	var asked []string
	allow := func(c string) bool { asked = append(asked, c); return c == "Foo" }
	_, err := P.RestrictClasses(Freezer{}, allow).Thaw(img)
	if !errors.Is(err, P.ErrClassNotAllowed) || !strings.Contains(err.Error(), `"Bar"`) {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]string{"Foo", "Bar"}, asked); diff != "" {
		t.Errorf("allow calls (-want +got):\n%s", diff)
	}
	asked = nil
	own := Freezer{Decoder: Decoder{AllowClass: func(c string) bool { return c != "Foo" }}}
	if _, err := P.RestrictClasses(own, func(string) bool { return true }).Thaw(img); !errors.Is(err, P.ErrClassNotAllowed) || !strings.Contains(err.Error(), `"Foo"`) {
		t.Errorf("the decoder's own AllowClass refusing Foo: err = %v", err)
	}
	if v, err := P.RestrictClasses(Freezer{}, func(string) bool { return true }).Thaw(img); err != nil || v == nil {
		t.Errorf("every class allowed: %v, %v", v, err)
	}
}

func TestThawDefaultDepthAcceptsWhatPerlFreezes(t *testing.T) {
	// 512 nested arrays is the most Storable 3.26's nfreeze writes with
	// $Storable::recursion_limit = 512; one more level is refused here.
	deep := func(n int) []byte {
		img := []byte{0x05, 0x0b}
		for i := 0; i < n-1; i++ {
			img = append(img, opArray, 0, 0, 0, 1, opRef)
		}
		return append(img, opArray, 0, 0, 0, 0)
	}
	if _, err := Thaw(deep(512)); err != nil {
		t.Fatalf("512 nested arrays: %v", err)
	}
	if _, err := Thaw(deep(513)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("513 nested arrays: err = %v, want ErrTooDeep", err)
	}
}

func TestThawHostileLengthsAllocateLittle(t *testing.T) {
	for _, h := range []string{
		"050b02ffffffff",
		"050b03ffffffff",
		"050b1900ffffffff",
		"050b01ffffffff",
		"050b18ffffffff",
		"050b11 80ffffffff",
		"050b1e ffffffff",
		"050b20 01ffffffff",
		"050b02 00ffffff 05050505",
	} {
		img := mustHex(t, h)
		d := Decoder{Limits: Limits{MaxElements: 1 << 40}}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		const runs = 100
		for i := 0; i < runs; i++ {
			if _, err := d.Thaw(img); err == nil {
				t.Fatalf("%s: no error", h)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4096 {
			t.Errorf("%s: %d bytes allocated per Thaw of %d bytes", h, per, len(img))
		}
	}
}

func TestNFreezeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    P.Value
		is   error
	}{
		{"nil", nil, ErrNotReference},
		{"scalar", s("x"), ErrNotReference},
		{"int", P.Int(1), ErrNotReference},
		{"nil array", (*P.Array)(nil), ErrUnsupportedValue},
		{"nil hash inside", arr((*P.Hash)(nil)), ErrUnsupportedValue},
		{"nil ref inside", hash("a", (*P.Ref)(nil)), ErrUnsupportedValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("prefix")
			got, err := NFreeze(dst, tc.v)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if string(got) != "prefix" {
				t.Errorf("dst changed to %q", got)
			}
		})
	}
	if _, err := NFreeze(nil, s("x")); err == nil || err.Error() != "storable: can only freeze a reference, not perlcompat.Str" {
		t.Errorf("message: %v", err)
	}
}

func TestNFreezeDepthLimitIsAnErrorNotAStackOverflow(t *testing.T) {
	// A Go structure nested a million levels deep.
	var v P.Value = P.Int(1)
	for i := 0; i < 1_000_000; i++ {
		v = arr(v)
	}
	_, err := NFreeze(nil, v)
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("err = %v, want ErrTooDeep", err)
	}
	e := Encoder{Limits: Limits{MaxDepth: 3}}
	if _, err := e.NFreeze(nil, arr(arr(P.Int(1)))); err != nil { // 1 array, 2 ref, 3 array
		t.Fatalf("depth 3 with limit 3: %v", err)
	}
	if _, err := e.NFreeze(nil, arr(arr(arr(P.Int(1))))); !errors.Is(err, ErrTooDeep) { // 4 ref
		t.Fatalf("depth 4 with limit 3: err = %v", err)
	}
}

func TestNFreezeAppends(t *testing.T) {
	got, err := NFreeze([]byte("56\x00"), hash("event", s("poe://Srv/test/posted"), "params", s("hello")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("56\x00\x05\x0b\x03")) || len(got) != 3+56 {
		t.Errorf("got %q", got)
	}
}

func TestNFreezeManyClassesAndPointers(t *testing.T) {
	// More than seenSmall classes and shared pointers, to exercise the
	// map-backed tables: every second element repeats a hash.
	a := arr()
	for i := 0; i < 100; i++ {
		h := &P.Hash{Class: "C" + strings.Repeat("x", i%40)}
		h.Set("i", P.Int(i))
		a.Elems = append(a.Elems, h, h)
	}
	img, err := NFreeze(nil, a)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Thaw(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameGraph(a, back); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Limits{}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []Limits{{MaxDepth: -1}, {MaxElements: -1}} {
		if l.Validate() == nil {
			t.Errorf("%+v validated", l)
		}
		d := Decoder{Limits: l}
		if _, err := d.Thaw([]byte{5, 11, 5}); err == nil {
			t.Errorf("Thaw with %+v succeeded", l)
		}
		e := Encoder{Limits: l}
		if _, err := e.NFreeze(nil, arr()); err == nil {
			t.Errorf("NFreeze with %+v succeeded", l)
		}
	}
}

func TestOpNameCoversEveryOpcode(t *testing.T) {
	for op := 0; op < opLast; op++ {
		if n := OpName(byte(op)); !strings.HasPrefix(n, "SX_") {
			t.Errorf("OpName(0x%02x) = %q", op, n)
		}
	}
	if OpName(opLast) != "unknown" {
		t.Error("OpName(opLast) is known")
	}
}

func TestFreezerIsStorable(t *testing.T) {
	var f P.Freezer = Freezer{}
	if f.Name() != "Storable" {
		t.Fatal(f.Name())
	}
	v := hash("event", s("poe://Srv/test/posted"), "params", s("hello"))
	img, err := f.Freeze(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := f.Thaw(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameGraph(v, back); err != nil {
		t.Fatal(err)
	}
}

// TestCapturesThawAsPerlSawThem decodes every Storable frame of the
// captures and compares it with Perl's own thaw (expect.json), then checks
// that NFreeze of the result decodes to the same value and is stable.
func TestCapturesThawAsPerlSawThem(t *testing.T) {
	frames := storableCaptures(t)
	scen := map[string]bool{}
	for _, fr := range frames {
		scen[strings.Split(fr.Name, "/")[0]] = true
	}
	for _, want := range []string{"a-ikc0-default-posts", "b-call-rsvp", "c-subscribe-proxy", "c3-subscribe-star-lost-receipt",
		"d-remote-errors", "d2-clientlite-errors", "e-ping", "f-legacy-ikc-client", "f2-legacy-fallback-from-ikc0",
		"g1-freezer-storable", "g4-freezer-refused-ikc0", "g5-freezer-refused-legacy", "h-clientlite",
		"h2-clientlite-legacy", "i-server-push-monitor", "j-aliases-tcp", "j2-aliases-unix"} {
		if !scen[want] {
			t.Errorf("no Storable frames from %s", want)
		}
	}
	for _, fr := range frames {
		t.Run(fr.Name, func(t *testing.T) {
			v, err := Thaw(fr.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := v.(*P.Hash); !ok {
				t.Fatalf("root is %T, IKC frames are hashes", v)
			}
			if diff := cmp.Diff(fr.Value, notation(v, 0)); diff != "" {
				t.Errorf("differs from Perl's thaw (-perl +go):\n%s", diff)
			}
			img, err := NFreeze(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if len(img) != len(fr.Payload) {
				t.Errorf("re-frozen length %d, Perl's %d", len(img), len(fr.Payload))
			}
			v2, err := Thaw(img)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameGraph(v, v2); err != nil {
				t.Fatal(err)
			}
			img2, err := NFreeze(nil, v2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(img, img2) {
				t.Error("NFreeze(Thaw(NFreeze(v))) differs from NFreeze(v)")
			}
		})
	}
}
