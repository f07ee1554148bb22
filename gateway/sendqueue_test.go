package gateway

import (
	"bytes"
	"fmt"
	"testing"
)

func TestSendQueueKeepsFrameOrderAcrossChunksAndLargeFrames(t *testing.T) {
	q := newSendQueue(1000)
	var want bytes.Buffer
	var sizes []int32
	frame := func(i, n int) []byte {
		f := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		copy(f, fmt.Sprint(i))
		return f
	}
	// Small frames filling more than one chunk, large frames between
	// them, and a small frame's buffer reused at once after push.
	lens := []int{100, 3000, smallFrame, smallFrame + 1, 10, 200 << 10, 5, 5}
	for i := 0; i < 40; i++ {
		lens = append(lens, 1500+i)
	}
	reused := make([]byte, 0, smallFrame)
	for i, n := range lens {
		f := frame(i, n)
		if n <= smallFrame {
			reused = append(reused[:0], f...)
			f = reused
		}
		want.Write(f)
		sizes = append(sizes, int32(n))
		if ok, _ := q.push(f, false); !ok {
			t.Fatalf("push %d refused", i)
		}
		if n <= smallFrame {
			for j := range reused {
				reused[j] = '!' // the queue must have copied it
			}
		}
	}
	if q.n != len(lens) {
		t.Errorf("queue counts %d frames, want %d", q.n, len(lens))
	}
	b, marker := q.take(batch{})
	if marker {
		t.Error("marker without pushMarker")
	}
	var got bytes.Buffer
	for _, f := range b.frames {
		got.Write(f)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("queued bytes differ from the frames pushed, in order (%d bytes, want %d)", got.Len(), want.Len())
	}
	if fmt.Sprint(b.sizes) != fmt.Sprint(sizes) {
		t.Errorf("sizes %v, want %v", b.sizes, sizes)
	}
	if len(b.frames) >= len(lens)/2 {
		t.Errorf("%d writes for %d frames: small frames were not coalesced", len(b.frames), len(lens))
	}
	if q.n != 0 || q.tail != nil || len(q.frames) != 0 {
		t.Error("take left frames behind")
	}
	// After take, a new small frame starts a new chunk, not the old tail.
	if ok, _ := q.push([]byte("next"), false); !ok {
		t.Fatal("push after take refused")
	}
	b.release()
	b2, _ := q.take(batch{})
	if len(b2.frames) != 1 || string(b2.frames[0]) != "next" {
		t.Errorf("after take: %q", b2.frames)
	}
}

func TestSendQueueBoundCountsFramesNotWrites(t *testing.T) {
	q := newSendQueue(3)
	for i := 0; i < 3; i++ {
		if ok, _ := q.push([]byte("x"), false); !ok {
			t.Fatalf("push %d refused under the bound", i)
		}
	}
	ok, room := q.push([]byte("x"), false)
	if ok || room == nil {
		t.Fatal("a fourth frame fits a queue of 3")
	}
	if !q.full() || q.roomy() {
		t.Error("full queue not reported full")
	}
	q.take(batch{})
	select {
	case <-room:
	default:
		t.Error("take did not signal room")
	}
	if ok, _ := q.push([]byte("x"), false); !ok {
		t.Error("push refused after take")
	}
}

// full reports a queue at its bound.
func (q *sendQueue) full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n >= q.max
}
