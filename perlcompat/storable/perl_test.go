package storable

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"

	P "github.com/ikcgate/ikcgate/perlcompat"
)

// perlDescribe is Perl code rendering a thawed value like describe() in
// helpers_test.go, from the scalar flags Perl itself holds.
const perlDescribe = `
use strict; use warnings; no warnings 'experimental::builtin'; no warnings 'recursion';
use Storable qw(thaw nfreeze freeze);
use Scalar::Util qw(refaddr reftype blessed);
use B;
sub hx { my $s = shift; utf8::encode($s) if utf8::is_utf8($s); unpack("H*", $s) }
sub d {
	my $seen = $_[1];
	if (ref $_[0]) {
		my $r = $_[0];
		my $cls = blessed $r;
		my $out = defined $cls ? "bless($cls)" : "";
		my $addr = refaddr $r;
		return $out . "SEEN#$seen->{$addr}" if $seen->{$addr};
		$seen->{$addr} = ++$seen->{''};
		my $t = reftype $r;
		return $out . "[" . join(",", map { d($r->[$_], $seen) } 0 .. $#$r) . "]" if $t eq 'ARRAY';
		return $out . "{" . join(",", map { (utf8::is_utf8($_) ? "u:" : "b:") . hx($_) . "=>" . d($r->{$_}, $seen) } sort keys %$r) . "}" if $t eq 'HASH';
		if ($t eq 'REGEXP') { my $s = "$r"; utf8::downgrade($s, 1); return $out . "\\b'" . unpack("H*", $s) . "'" }
		return $out . "\\" . d($$r, $seen);
	}
	return "undef" unless defined $_[0];
	return $_[0] ? "bool1" : "bool0" if builtin::is_bool($_[0]);
	my $f = B::svref_2object(\$_[0])->FLAGS;
	return (utf8::is_utf8($_[0]) ? "u'" : "b'") . hx($_[0]) . "'" if $f & B::SVf_POK;
	return "i$_[0]" if $f & B::SVf_IOK;
	return "n$_[0]" if $f & B::SVf_NOK;
	return "?";
}
`

func needPerl(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs perl")
	}
	p, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl not installed")
	}
	if err := exec.Command(p, "-MStorable", "-e", "1").Run(); err != nil {
		t.Skip("perl has no Storable")
	}
	return p
}

// goToPerlValues are Go values whose NFreeze image Perl must thaw back to
// the same data.
func goToPerlValues() []P.Value {
	vs := []P.Value{}
	for _, tc := range vectors {
		vs = append(vs, tc.v())
	}
	self := &P.Hash{}
	self.Set("me", self)
	sr := &P.Ref{Target: P.Text("shared")}
	manyClasses := arr()
	for i := 0; i < 140; i++ { // class index > 127 needs the long form
		c := fmt.Sprintf("K%03d", i)
		manyClasses.Elems = append(manyClasses.Elems, &P.Array{Class: c}, &P.Hash{Class: c})
	}
	deep := P.Value(P.Int(7))
	for i := 0; i < 300; i++ {
		deep = arr(deep)
	}
	vs = append(vs,
		hash(u("abc"), P.Int(1), u("é"), u("é"), u("日本"), u("日本語"), "$dollar", s("$"), "", s(""), "nul\x00key", s("a\x00b")),
		hash(strings.Repeat("k", 300), s(strings.Repeat("v", 70000))),
		arr(u("ascii flagged"), s("\x00\x01\x7f\x80\xfe\xff"), s("\r\n\t"), u(strings.Repeat("☺", 100))),
		arr(P.Uint(5), P.Uint(2147483647), P.Uint(2147483648), P.Int(-2147483649), P.Float(-0.5), P.Float(-2.5e-7),
			P.Float(3.14159), P.Float(1e15), P.Float(123456789.125), P.Float(math.SmallestNonzeroFloat64), P.Float(math.MaxFloat64)),
		arr(P.Bool(true), P.Bool(false), nil, P.Undef{}, P.Str{}),
		self,
		hash("a", sr, "b", sr, "c", &P.Ref{Target: sr}),
		&P.Ref{Class: "Boxed", Target: arr(P.Int(1))},
		&P.Ref{Target: &P.Ref{Target: hash("x", P.Int(1))}},
		arr(&P.Hash{Class: "Über"}, &P.Array{Class: "Über"}),
		manyClasses,
		deep,
	)
	return vs
}

func TestPerlThawsNFreezeOutput(t *testing.T) {
	perl := needPerl(t)
	vs := goToPerlValues()
	var in bytes.Buffer
	for _, v := range vs {
		img, err := NFreeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		in.WriteString(hex.EncodeToString(img) + "\n")
	}
	cmd := exec.Command(perl, "-e", perlDescribe+`
while (my $l = <STDIN>) { chomp $l; my $v = eval { thaw(pack("H*", $l)) }; print defined $v ? d($v, {}) : "THAW FAILED: $@", "\n" }`)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl: %v\n%s", err, perlStderr(err))
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(vs) {
		t.Fatalf("perl printed %d lines for %d values:\n%s", len(lines), len(vs), trunc(string(out)))
	}
	for i, v := range vs {
		if want := describe(nfreezeView(v)); lines[i] != want {
			t.Errorf("value %d:\nperl %s\n  go %s", i, trunc(lines[i]), trunc(want))
		}
	}
}

func perlStderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return trunc(string(ee.Stderr))
	}
	return ""
}

func trunc(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// TestThawReadsPerlImages has Perl build values, nfreeze and freeze them,
// and describe its own thaw of each image; Go's Thaw must agree.
func TestThawReadsPerlImages(t *testing.T) {
	perl := needPerl(t)
	script := perlDescribe + `
use Scalar::Util qw(weaken);
use Hash::Util qw(lock_keys lock_hash);
{ package OL; use overload '""' => sub { "ol" }, fallback => 1; }
my @c;
push @c, [1, -1, 127, 128, -128, -129, 2**31-1, 2**31, -2**31, -2**31-1, 2**40, -2**40, 9223372036854775807, 18446744073709551615, -9223372036854775808];
push @c, [3.5, 0.1, -2.5e-7, 1e100, 2.0, -0.0, 9**9**9, -9**9**9, 2**53, 2**53-1, 1e15, 1.5e300];
my $dual = "42"; { no warnings; my $x = $dual + 0; } push @c, [$dual, "007", "3.14159", ""];
push @c, [undef, \undef, \"x", \\"x", \\\[1]];
my @sparse; $sparse[3] = 1; push @c, \@sparse;
push @c, [!!1, !!0, \!!1, \!!0];
my $u = "caf\x{e9} \x{263a} \x{1F600}"; my $l1 = "caf\xe9"; my $up = "cl\xe9"; utf8::upgrade($up);
push @c, { ascii => "plain", utf8 => $u, latin1 => $l1, bytes => "\x00\x01\x7f\x80\xfe\xff", $up => "upgraded key", "key\x{263a}" => 1, "caf\xe9" => "byte key", long => "x" x 300, ulong => "\x{263a}" x 100 };
my $h = { z => 1 }; push @c, [$h, $h, { again => $h }];
my $cyc = []; push @$cyc, $cyc, { back => $cyc }; push @c, $cyc;
my $sr; $sr = \$sr; push @c, \$sr;
my $sc = "str"; push @c, [\$sc, \$sc];
# Cycles of references past the first 64 tags: the back-reference to an
# outer reference is met before its referent is decoded.
{ my ($ra, $rb); $ra = \$rb; $rb = \$ra; push @c, [(undef) x 70, \$ra, $rb]; }
{ my ($ra, $rb, $rc); $ra = \$rb; $rb = \$rc; $rc = \$ra; push @c, [(1) x 70, $ra, \$rc]; }
push @c, [bless({ n => 1 }, "IKCFixture::Thing"), bless({ n => 2 }, "IKCFixture::Thing"), bless([1, 2], "IKCFixture::List"), bless(\(my $bs = "inside"), "IKCFixture::Scalar")];
push @c, bless(\(my $rr = [1]), "Boxed");
my @many = map { bless [], "Class$_" } 1 .. 140; push @c, [@many, @many];
push @c, [qr/ab+c/i, qr/x/msx, qr/\x{263a}/, qr/${\("a" x 300)}/];
push @c, [v1.2.3, \v1.22.333];
my $w = { a => 1 }; my $wr = [$w, $w]; weaken($wr->[1]); push @c, $wr;
my $o = bless {}, "OL"; my $ow = [$o, $o]; weaken($ow->[1]); push @c, $ow;
my %lk = (a => 1, b => 2); lock_keys(%lk); push @c, \%lk;
my %lh = (a => 1); lock_hash(%lh); push @c, \%lh;
my %ph = (a => 1, b => 2); lock_keys(%ph, qw(a b c)); delete $ph{b}; push @c, \%ph;
my $deep = 1; $deep = [$deep] for 1 .. 500; push @c, $deep;
my $big = { map { ("k$_" => [$_, "s$_", { i => $_ }]) } 1 .. 2000 }; push @c, $big;
for my $v (@c) {
	my $n = nfreeze($v); my $f = freeze($v);
	print join("\t", unpack("H*", $n), unpack("H*", $f), d(thaw($n), {}), d(thaw($f), {})), "\n";
}
`
	out, err := exec.Command(perl, "-e", script).Output()
	if err != nil {
		t.Fatalf("perl: %v\n%s", err, perlStderr(err))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			t.Fatalf("perl line %d: %q", n, trunc(sc.Text()))
		}
		for i, kind := range []string{"nfreeze", "freeze"} {
			img, err := hex.DecodeString(f[i])
			if err != nil {
				t.Fatal(err)
			}
			v, err := Thaw(img)
			if err != nil {
				t.Errorf("case %d %s: %v", n, kind, err)
				continue
			}
			if got := describe(v); got != f[2+i] {
				t.Errorf("case %d %s:\nperl %s\n  go %s", n, kind, trunc(f[2+i]), trunc(got))
			}
		}
		n++
	}
	if n != 25 {
		t.Fatalf("only %d cases from perl:\n%s", n, trunc(string(out)))
	}
}
