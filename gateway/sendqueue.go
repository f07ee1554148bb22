package gateway

import "sync"

// sendQueue is a channel's bounded queue of frames for its writer. It
// holds no memory while empty: a buffered Go channel of SendQueue slots
// cost every idle connection 6 KB, a third of its footprint.
type sendQueue struct {
	mu     sync.Mutex
	frames [][]byte
	max    int
	marker bool          // drain's flush marker: write what is queued, then close
	ready  chan struct{} // cap 1: the writer has something to take
	room   chan struct{} // closed when the writer takes frames; nil when nobody waits
}

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, ready: make(chan struct{}, 1)}
}

// push queues f. When the queue is full it returns false and a channel
// closed once the writer has taken frames, to wait on before trying again.
func (q *sendQueue) push(f []byte) (bool, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) >= q.max {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		return false, q.room
	}
	q.frames = append(q.frames, f)
	q.signal()
	return true, nil
}

// pushMarker queues drain's flush marker behind every frame queued; it is
// past the bound, as nothing else is queued after it.
func (q *sendQueue) pushMarker() {
	q.mu.Lock()
	q.marker = true
	q.signal()
	q.mu.Unlock()
}

func (q *sendQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take hands the writer every queued frame, and whether the flush marker
// stands behind them. spare, emptied, becomes the next queue's storage.
func (q *sendQueue) take(spare [][]byte) (frames [][]byte, marker bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	frames, q.frames = q.frames, spare[:0]
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return frames, q.marker
}

// roomy reports a queue at most half full: a frame pushed now will not
// wait for room, unless many senders push at once.
func (q *sendQueue) roomy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames) <= q.max/2
}
