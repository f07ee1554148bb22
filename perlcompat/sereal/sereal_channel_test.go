package sereal

import (
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

func TestChannelCopyAnswersInThePeersOlderVersion(t *testing.T) {
	shared, err := New(Config{ProtocolVersion: 5})
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := New(Config{ProtocolVersion: 2})
	old, err := v2.Freeze(nil, perlcompat.NewHash().Set("a", perlcompat.Int(1)))
	if err != nil {
		t.Fatal(err)
	}
	ch := shared.ForChannel()
	if _, err := ch.Thaw(old); err != nil {
		t.Fatal(err)
	}
	out, err := ch.Freeze(nil, perlcompat.NewHash())
	if err != nil {
		t.Fatal(err)
	}
	if got := out[4] & 0x0f; got != 2 {
		t.Errorf("channel answered in version %d, want the peer's 2", got)
	}
	// The shared freezer and other channels are unaffected.
	if out, _ := shared.Freeze(nil, perlcompat.NewHash()); out[4]&0x0f != 5 {
		t.Errorf("shared freezer writes version %d, want 5", out[4]&0x0f)
	}
	if out, _ := shared.ForChannel().Freeze(nil, perlcompat.NewHash()); out[4]&0x0f != 5 {
		t.Errorf("a new channel writes version %d, want 5", out[4]&0x0f)
	}
}

func TestChannelCopyAnswersAVersion1PeerReadably(t *testing.T) {
	shared, _ := New(Config{})
	v1, _ := New(Config{ProtocolVersion: 1})
	ch := shared.ForChannel()
	doc, _ := v1.Freeze(nil, perlcompat.NewHash())
	if _, err := ch.Thaw(doc); err != nil {
		t.Fatal(err)
	}
	a := perlcompat.NewArray(perlcompat.Int(1))
	val := perlcompat.NewHash().Set("x", a).Set("y", a) // a shared ref: offsets matter
	out, err := ch.Freeze(nil, val)
	if err != nil || out[4]&0x0f != 1 {
		t.Fatalf("version %d, %v", out[4]&0x0f, err)
	}
	back, err := v1.Thaw(out)
	if err != nil {
		t.Fatal(err)
	}
	h := back.(*perlcompat.Hash)
	if h.Get("x") != h.Get("y") {
		t.Error("shared reference lost in the version 1 answer")
	}
}
