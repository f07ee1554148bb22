package gateway

import "sync"

// sendQueue is a channel's bounded queue of frames for its writer. It
// holds no memory while empty: a buffered Go channel of SendQueue slots
// cost every idle connection 6 KB, a third of its footprint.
//
// Small frames are copied into pooled chunks, one after another, so a
// burst of posts goes out in few large writes instead of a writev of 16
// frames each, and the frames' own buffers go back to their pool at once.
// Large frames queue as they are, without a copy.
type sendQueue struct {
	mu     sync.Mutex
	frames [][]byte // in order; a chunk's frames are one entry
	chunks []*chunk // the chunks behind frames, for the writer to give back
	sizes  []int32  // each frame's length, for the observer
	tail   *chunk   // the chunk the next small frame goes to, if it fits
	n      int      // frames queued (a chunk holds several)
	max    int
	marker bool          // drain's flush marker: write what is queued, then close
	ready  chan struct{} // cap 1: the writer has something to take
	room   chan struct{} // closed when the writer takes frames; nil when nobody waits
}

const (
	// smallFrame is the largest frame a queue copies into a chunk.
	smallFrame = 4 << 10
	chunkSize  = 32 << 10
)

// chunk is a pooled buffer of consecutive small frames.
type chunk struct{ b []byte }

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, chunkSize)} }}

// The writer gives every buffer it wrote to bufpool.Put, chunks included;
// bufpool keeps only 64 KiB and up, so a chunk must stay smaller or it
// would live in both pools at once. This fails to compile otherwise.
var _ [1<<16 - 1 - chunkSize]struct{}

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, ready: make(chan struct{}, 1)}
}

// push queues f. A frame of at most smallFrame bytes is copied, and the
// caller may reuse f at once; a larger one belongs to the queue. When the
// queue is full it returns false and a channel closed once the writer has
// taken frames, to wait on before trying again. With hold set the writer
// is not woken: a held frame is written by whoever flushes next (see
// sendHeld).
func (q *sendQueue) push(f []byte, hold bool) (bool, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n >= q.max {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		return false, q.room
	}
	if len(f) <= smallFrame {
		if q.tail == nil || cap(q.tail.b)-len(q.tail.b) < len(f) {
			q.tail = chunkPool.Get().(*chunk)
			q.tail.b = q.tail.b[:0]
			q.chunks = append(q.chunks, q.tail)
			q.frames = append(q.frames, nil)
		}
		q.tail.b = append(q.tail.b, f...)
		q.frames[len(q.frames)-1] = q.tail.b
	} else {
		q.tail = nil // what follows goes after f
		q.frames = append(q.frames, f)
	}
	q.sizes = append(q.sizes, int32(len(f)))
	q.n++
	if !hold {
		q.signal()
	}
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

// batch is what the writer takes from a queue at once. Its slices become
// the queue's storage again once emptied (see take).
type batch struct {
	frames [][]byte
	chunks []*chunk
	sizes  []int32
}

// take hands the writer every queued frame, and whether the flush marker
// stands behind them. spare, emptied, becomes the next queue's storage.
func (q *sendQueue) take(spare batch) (b batch, marker bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b = batch{q.frames, q.chunks, q.sizes}
	q.frames, q.chunks, q.sizes = spare.frames[:0], spare.chunks[:0], spare.sizes[:0]
	q.tail, q.n = nil, 0
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return b, q.marker
}

// release gives b's chunks back to the pool once written and returns b's
// storage, emptied, for the next take; a burst's storage is not kept.
func (b batch) release() batch {
	for _, c := range b.chunks {
		c.b = c.b[:0]
		chunkPool.Put(c)
	}
	clear(b.frames) // let the frames be collected
	clear(b.chunks)
	if cap(b.frames) > 16 || cap(b.sizes) > 64 {
		return batch{}
	}
	return batch{b.frames[:0], b.chunks[:0], b.sizes[:0]}
}

// roomy reports a queue at most half full: a frame pushed now will not
// wait for room, unless many senders push at once.
func (q *sendQueue) roomy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n <= q.max/2
}
