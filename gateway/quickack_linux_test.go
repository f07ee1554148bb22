package gateway

import (
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/nettest"
)

// Calls in flight carry the ACKs both ways, so the quick ACK is for a
// channel with none: acknowledging between pipelined calls only split
// the peer's writes into more, smaller segments (16 pipelined Perl calls
// through an Upstream ran up to 20% slower).
func TestAReaderAcknowledgesEarlyOnlyWhenTheChannelIsNotBusy(t *testing.T) {
	peer, ours := nettest.TCPPair(t)
	var u unacked
	busy := true
	u.busy = func() bool { return busy }
	r := newRawReader(ours, &u)
	buf := make([]byte, 16)
	// readTwice reads what the peer wrote, then waits for more (the
	// moment a quick ACK would go) until the peer writes again, and
	// returns the quick ACKs sent meanwhile.
	readTwice := func() uint64 {
		before := quickAcks.Load()
		peer.Write([]byte("post"))
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(20 * time.Millisecond) // long enough for the reader to wait
			peer.Write([]byte("more"))
		}()
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
		return quickAcks.Load() - before
	}
	if n := readTwice(); n != 0 {
		t.Errorf("busy channel: %d quick ACKs, want none", n)
	}
	u.Store(false)
	busy = false
	if n := readTwice(); n != 1 {
		t.Errorf("idle channel: %d quick ACKs, want 1", n)
	}
	u.Store(false)
	u.clear() // a frame of ours was queued after the read...
	peer.Write([]byte("post"))
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	u.clear() // ...as here: it carries the ACK
	before := quickAcks.Load()
	go func() {
		time.Sleep(20 * time.Millisecond)
		peer.Write([]byte("more"))
	}()
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	if n := quickAcks.Load() - before; n != 0 {
		t.Errorf("after a frame of ours: %d quick ACKs, want none", n)
	}
}
