package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/internal/bufpool"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// channel is one negotiated connection to another kernel. Up to three
// goroutines serve it, each easy to find (the worker and the writer start
// when first needed):
//
//   - the reader (run, read) reads frames, thaws them and routes each
//     request: replies to our calls and error reports are settled at once;
//     a request for a handler runs on the reader itself when nothing is
//     queued or running (see runInline), else it goes to the work queue
//     (when that is full, reading pauses: back-pressure reaches the peer
//     through TCP); when the one call pending was a sequential caller's
//     and is answered, it lends the read role to the next such caller,
//     which reads its own reply, and sleeps (lead.go);
//   - the worker runs queued handlers one request at a time, in arrival
//     order, as a Perl kernel does, so a post followed by a call sees the
//     post done; hmu keeps it and the reader from running two at once;
//   - the writer drains the send queue in few writevs (16 buffers each,
//     flushed every 256 KiB): small frames sit copied one after another
//     in 32 KiB chunks (sendqueue.go), so a burst takes few syscalls.
//
// Senders freeze and frame their message on their own goroutine. A frame
// someone waits for (a call, a reply) is written by its sender with a
// non-blocking write when nothing is queued and nobody else is writing
// (see enqueue and writeInline): a sequential call then costs no
// goroutine hand-off to send. Posts, frames behind others, and what the
// socket does not take at once go to the writer through the queue, which
// is bounded (Config.SendQueue). The replies to a burst of requests the
// reader serves inline are held in the queue without waking the writer,
// and the reader writes them with the burst's last reply in one writev:
// waking the writer on another thread cost a quarter of a pipelining
// server's CPU.
type channel struct {
	k          *Kernel
	nc         net.Conn
	lg         atomic.Pointer[hclog.Logger] // see logger
	res        protocol.Result
	freezer    perlcompat.Freezer
	server     bool
	localID    string   // the kernel ID announced on this channel
	localNames []string // every name announced on it
	remoteID   string
	names      []string    // names registered for the peer (guarded by k.mu)
	info       ChannelInfo // for the Observer, set before the goroutines start

	ctx    context.Context // handlers': cancelled when the channel fails or its reader stops
	cancel context.CancelFunc
	// replyCtx is ctx never cancelled, for answers to requests already
	// read: when the reader stops on its own (the peer closed), they
	// are still owed and may wait for room; a dead channel ends the wait.
	replyCtx context.Context

	// replyFrom is the from of the last reply sent, and its hash: a
	// channel's replies mostly come from one session, and building the
	// same hash per reply was two of a call's allocations.
	replyFrom atomic.Pointer[fromValue]

	unacked unacked // read since we last had a frame to send (rawio_unix.go)

	sendq *sendQueue
	work  chan inbound // made by startWorker; nil before

	// Handlers on the reader (runInline). fr has one reader at a time:
	// an inline handler that calls WillBlock, or runs long (see
	// Kernel.watchInline), hands the read role to a new goroutine, so
	// replies to its own calls keep being read.
	fr         *protocol.FrameReader
	rd         protocol.RequestDecoder          // the reader's, like fr
	hmu        sync.Mutex                       // held while a handler runs
	queuedRq   atomic.Int64                     // requests queued for the worker, not yet done
	burstReq   atomic.Pointer[protocol.Request] // run inline with more input buffered: its reply is held (sendHeld)
	lastFrame  atomic.Int64                     // size of the last frame encoded, for the next buffer
	inlineFrom atomic.Int64                     // the inline handler's run (inlineRun); 0 none, -1 taken over
	inlineRun  int64                            // under hmu: counts inline runs, so each has its own inlineFrom
	// The watchdog's (under k.mu): the inlineFrom it saw and for how
	// many ticks running (watchdog.go).
	watchSaw   int64
	watchTicks int
	moved      chan struct{} // cap 1: the read role moved to the takeover

	// A sequential caller reads its own reply (lead.go). rmu is held to
	// read and decode a frame, by the reader or by a caller leading;
	// lent says the reader sleeps and a waiting caller may take rmu.
	rmu     sync.Mutex
	lent    atomic.Bool
	leads   atomic.Uint32 // times a caller took the role: the reader sleeps on
	noLead  atomic.Bool   // the connection takes no read deadline: never lend
	wake    chan struct{} // cap 1: ends the reader's sleep at once
	leadErr error         // what a leading caller's read met (guarded by rmu)
	parked  inbound       // a request a leader read, for the reader (guarded by rmu)
	lendT   *time.Timer   // the reader's sleep (the reader's own)

	// Inline writes (writeInline). wmu is held by whoever writes to nc;
	// queued counts frames in sendq not yet written plus a pending
	// partial, so a sender writes inline only behind nothing.
	nbw     *nbWriter // nil: no descriptor, always queue
	wmu     sync.Mutex
	queued  atomic.Int64
	partial []byte        // the unwritten rest of an inline write (guarded by wmu)
	kick    chan struct{} // cap 1: the writer has a partial to finish
	held    atomic.Bool   // sendq has frames nobody woke the writer for (sendHeld)
	// writerRounds counts the writer's wake-ups, for tests (per channel:
	// a kernel-wide counter would be one more cache line every writer
	// shares).
	writerRounds atomic.Uint64
	spare        batch       // the send queue's next storage (guarded by wmu)
	ibufs        net.Buffers // flushLocked's (guarded by wmu)

	mu       sync.Mutex
	draining bool     // no new work or frames: flushing before close
	senders  inFlight // enqueues in progress; closedSenders once drained
	owed     inFlight // answers goroutines will send (deferAnswer)
	failErr  error
	dead     chan struct{} // closed by fail
	pending  map[string]*pendingCall
	group    *ctxGroup  // the context group of calls sent with Go (ctxgroup.go)
	expiry   expiryList // pending calls that expire after CallTimeout

	drainCh  chan struct{} // closed by drain
	readDone chan struct{} // closed by the reader when it stops on its own
	readErr  error         // why it stopped (guarded by mu)
	wdone    chan struct{} // writer finished (or never started)
	kdone    chan struct{} // worker finished (or never started)
	// The writer and the worker start when first needed: a channel that
	// only ever writes inline and runs handlers on its reader (an idle
	// one, a sequential caller's) has one goroutine, not three.
	writerOnce, workerOnce sync.Once
}

func newChannel(k *Kernel, nc net.Conn, res protocol.Result, fz perlcompat.Freezer, server bool, localID string, localNames []string) *channel {
	ctx, cancel := context.WithCancel(context.Background())
	remote := res.PeerKernelID
	ch := &channel{
		k:          k,
		nc:         nc,
		res:        res,
		freezer:    fz,
		server:     server,
		localID:    localID,
		localNames: localNames,
		remoteID:   remote,
		ctx:        ctx,
		cancel:     cancel,
		sendq:      newSendQueue(k.cfg.SendQueue),
		kick:       make(chan struct{}, 1),
		moved:      make(chan struct{}, 1),
		wake:       make(chan struct{}, 1),
		dead:       make(chan struct{}),
		pending:    map[string]*pendingCall{},
		drainCh:    make(chan struct{}),
		readDone:   make(chan struct{}),
		wdone:      make(chan struct{}),
		kdone:      make(chan struct{}),
	}
	ch.nbw = newNBWriter(nc)
	ch.unacked.busy = ch.busy
	ch.ctx = context.WithValue(ctx, handlerChannelKey{}, ch) // see WillBlock
	ch.replyCtx = context.WithoutCancel(ch.ctx)
	return ch
}

// logger is the channel's logger, naming the peer, made on first use:
// most channels log nothing past the kernel's level, and With costs a
// connect cycle 3% of a server's CPU and an idle channel its memory.
// Callers check the level first (IsDebug...), so that neither it nor
// the message's arguments are built for nothing.
func (ch *channel) logger() hclog.Logger {
	if l := ch.lg.Load(); l != nil {
		return *l
	}
	l := ch.k.log.With("peer", ch.nc.RemoteAddr().String(), "remote", ch.remoteID)
	ch.lg.CompareAndSwap(nil, &l)
	return *ch.lg.Load()
}

// run becomes the reader; the goroutine that holds the read role last
// ends the channel once the writer and worker, if they started, are done.
func (ch *channel) run(leftover []byte) {
	ch.fr = protocol.NewFrameReader(newRawReader(ch.nc, &ch.unacked), leftover, ch.k.limits().MaxFrameSize)
	ch.read()
}

// takeRead becomes the reader in place of one stuck in a slow inline
// handler; the kernel's wg counts it already.
func (ch *channel) takeRead() {
	defer ch.k.wg.Done()
	ch.moved <- struct{}{}
	ch.read()
}

// read holds the read role until the channel ends, or until a handler it
// runs inline is slow and the role moves on (then it returns quietly).
// It lends the role to sequential callers (lead.go) when the only call
// pending was theirs and is answered, and sleeps meanwhile.
func (ch *channel) read() {
	fr := ch.fr
	var err error
	// When an inline handler ended, if the next request was already
	// buffered then: that request's service starts there, which spares a
	// clock read per request in a burst (2-3% of a server's CPU per post).
	var chained int64
	more := false // a whole request was buffered behind the last one read
	for {
		if !more && ch.held.Load() {
			ch.releaseHeld() // the burst is over: its held replies go out
		}
		if ch.lent.Load() {
			ch.sleepLent()
		}
		ch.rmu.Lock()
		in := ch.parked // a request a leading caller read, first
		ch.parked = inbound{}
		if in.req == nil {
			in, err = ch.readRequest(fr, true)
			if err != nil {
				break // rmu stays held: nobody reads after this
			}
		}
		req := in.req
		burst := len(fr.Buffered()) > 0
		more = burst && fr.HasFrame() // replies held for it are not held for a frame still arriving
		ch.rmu.Unlock()
		start := chained
		chained = 0
		if ok, p := ch.settle(req, more); ok {
			if p != nil {
				lend := !burst && ch.mayLend(p)
				if h := ch.k.testBeforeAnswer; h != nil {
					h(p)
				}
				p.finish(req.Params, nil)
				if lend {
					ch.lendAfterAnswer()
				}
			}
			continue
		}
		if ch.isDraining() {
			if ch.k.log.IsDebug() {
				ch.logger().Debug("request refused: shutting down", "event", req.Event.String())
			}
			continue
		}
		if ch.queuedRq.Load() == 0 && ch.hmu.TryLock() {
			if more {
				ch.burstReq.Store(req)
			}
			if start == 0 {
				start = ch.k.clock()
			}
			kept, end := ch.runInline(in, start)
			if !kept {
				return // the takeover reads on and ends the channel
			}
			if burst {
				chained = end
			}
			continue
		}
		if !ch.queue(in) {
			ch.rmu.Lock()
			break // the channel failed while queueing work
		}
	}
	ch.end(err)
}

// inbound is a request as read: the message and, for a plain post, the
// handler's Request allocated with it (see postAlloc), else nil.
type inbound struct {
	req *protocol.Request
	ra  *requestAlloc
}

// postAlloc is a plain post's message and its handler's Request, in one
// allocation: a post costs one where it cost two.
type postAlloc struct {
	requestAlloc
	msg protocol.RequestStore
}

// readRequest reads, thaws and decodes the next request; rmu is held.
// The reader (retry set) reads on past a read deadline, which only a
// leading caller sets; a leading caller gets the timeout back.
func (ch *channel) readRequest(fr *protocol.FrameReader, retry bool) (inbound, error) {
	if ch.leadErr != nil {
		return inbound{}, ch.leadErr
	}
	for {
		payload, err := fr.ReadFrame()
		if err != nil {
			if retry && ch.leads.Load() != 0 && protocol.IsTimeout(err) {
				ch.nc.SetReadDeadline(time.Time{}) // a leader's, set late
				continue
			}
			return inbound{}, err
		}
		ch.k.obs.FrameReceived(&ch.info, len(payload))
		v, err := ch.freezer.Thaw(payload)
		if err != nil {
			return inbound{}, fmt.Errorf("thaw %d-byte %s frame: %w", len(payload), ch.freezer.Name(), err)
		}
		var in inbound
		var derr error
		if protocol.IsPlainPost(v) {
			pa := new(postAlloc)
			in.ra = &pa.requestAlloc
			in.req, derr = ch.rd.DecodeIn(&pa.msg, v)
		} else {
			in.req, derr = ch.rd.Decode(v)
		}
		if in.req == nil || errors.Is(derr, protocol.ErrFromNotHash) {
			// A Perl kernel dies on these; we close the channel instead.
			return inbound{}, fmt.Errorf("unusable request: %w", derr)
		}
		if derr != nil && ch.k.log.IsDebug() {
			ch.logger().Debug("request has unusable keys; continuing", "error", derr)
		}
		return in, nil
	}
}

// runInline runs req's handler on the reader, which spares a hand-off to
// the worker per request. hmu is held and is released here. It reports
// whether this goroutine still holds the read role: when the handler runs
// long, the kernel's watchdog hands reading to a new goroutine.
//
// start is when the reader started on req (see read); end is when its
// handler returned, by the same clock.
func (ch *channel) runInline(in inbound, start int64) (kept bool, end int64) {
	ch.inlineRun++
	run := ch.inlineRun
	ch.inlineFrom.Store(run)
	ch.k.watchInline()
	end = ch.k.respond(ch, in.req, in.ra, start)
	ch.burstReq.Store(nil) // it said whether this handler's reply is held
	// Under hmu: a takeover reader cannot go inline, and reuse
	// inlineFrom, before this round is settled.
	kept = ch.inlineFrom.CompareAndSwap(run, 0)
	if !kept {
		ch.inlineFrom.Store(0)
	}
	ch.k.inlineNow.Add(-1)
	ch.hmu.Unlock()
	if kept {
		return true, end
	}
	<-ch.moved
	return false, end
}

// takeOver hands reading to a new goroutine if the handler that started
// on the reader at from is still running. The caller holds a k.wg count
// for the new reader.
func (ch *channel) takeOver(from int64) bool {
	if !ch.inlineFrom.CompareAndSwap(from, -1) {
		return false
	}
	go ch.takeRead()
	return true
}

// end closes the channel after its reader stopped with err.
func (ch *channel) end(err error) {
	if ch.isDraining() && errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		err = ErrDisconnected
	}
	if err != nil && !ch.isDead() {
		// The reader stopped on its own: the peer closed, or sent
		// something unusable. A Perl kernel serves every request it read
		// before that; so do we: the worker finishes the queue, the
		// writer flushes the replies, then the channel closes with err.
		// The handlers' context is cancelled at once: the peer is gone or
		// broken, and a handler waiting on it must not hold the channel.
		ch.mu.Lock()
		ch.readErr = err
		ch.mu.Unlock()
		ch.cancel()
		close(ch.readDone)
		if ch.claimWorker() {
			ch.finishDraining() // no worker ever ran: nothing is queued for one
		} else {
			<-ch.kdone // it drains: serves what is queued, then flushes through the writer
		}
		<-ch.writerDone()
		ch.fail(err)
		ch.k.closed(ch)
		return
	}
	ch.fail(err)
	<-ch.writerDone()
	<-ch.workerDone()
	ch.k.closed(ch)
}

// startWriter starts the writer unless it runs or ran.
func (ch *channel) startWriter() { ch.writerOnce.Do(func() { go ch.writeLoop() }) }

// startWorker starts the worker unless it runs or ran. Its queue is made
// with it: most channels never need one.
func (ch *channel) startWorker() {
	ch.workerOnce.Do(func() {
		ch.work = make(chan inbound, ch.k.cfg.WorkQueue)
		go ch.workLoop()
	})
}

// claimWorker reports whether the worker never started, and sees that it
// never will. Only the read role queues work, so its holder may then do
// the worker's last part itself.
func (ch *channel) claimWorker() (never bool) {
	ch.workerOnce.Do(func() { close(ch.kdone); never = true })
	return never
}

// writerDone is closed once the writer has finished; a writer that never
// started is finished now (the channel is dead: nothing will start it).
func (ch *channel) writerDone() <-chan struct{} {
	ch.writerOnce.Do(func() { close(ch.wdone) })
	return ch.wdone
}

// workerDone is writerDone for the worker.
func (ch *channel) workerDone() <-chan struct{} {
	ch.claimWorker()
	return ch.kdone
}

func (ch *channel) isDead() bool {
	select {
	case <-ch.dead:
		return true
	default:
		return false
	}
}

// queue hands req to the worker. It returns false if the channel died
// meanwhile.
func (ch *channel) queue(in inbound) bool {
	ch.startWorker()
	ch.queuedRq.Add(1)
	select {
	case ch.work <- in:
		return true
	case <-ch.dead:
		ch.queuedRq.Add(-1)
		return false
	}
}

// serve runs a queued request's handler, after any handler the reader is
// running.
func (ch *channel) serve(in inbound) {
	ch.hmu.Lock()
	ch.k.respond(ch, in.req, in.ra, ch.k.clock())
	ch.hmu.Unlock()
	ch.queuedRq.Add(-1)
}

func (ch *channel) workLoop() {
	defer close(ch.kdone)
	for {
		select {
		case in := <-ch.work:
			ch.serve(in)
		case <-ch.drainCh:
			ch.finishDraining()
			return
		case <-ch.readDone:
			ch.finishDraining()
			return
		case <-ch.dead:
			return
		}
	}
}

func (ch *channel) writeLoop() {
	defer close(ch.wdone)
	// What is queued goes out in writevs, without copying the queue's
	// chunks and large frames into a buffer: an idle channel holds no
	// write buffer at all.
	var bufs net.Buffers
	var bytes int
	flush := func() bool {
		if len(bufs) == 0 {
			return true
		}
		b := bufs // writing consumes its receiver; keep bufs' array
		var err error
		if ch.nbw != nil {
			err = ch.nbw.writeAll(&b)
		} else {
			_, err = b.WriteTo(ch.nc)
		}
		for _, f := range bufs {
			bufpool.Put(f) // written: big buffers serve the next frames (chunks are too small to be kept)
		}
		clear(bufs) // let the frames be collected
		bufs = bufs[:0]
		if cap(bufs) > 16 {
			bufs = nil // a burst's storage is not kept while idle
		}
		bytes = 0
		if err != nil {
			ch.fail(fmt.Errorf("write: %w", err))
			return false
		}
		return true
	}
	for {
		select {
		case <-ch.sendq.ready:
		case <-ch.kick:
		case <-ch.dead:
			return
		}
		ch.writerRounds.Add(1)
		// Let the goroutines that are ready run first: the callers a
		// batch of replies woke, a poster's loop. What they queue goes
		// out in this writev rather than one syscall each.
		runtime.Gosched()
		// Holding wmu, nobody writes inline meanwhile; a partial inline
		// write is finished before anything queued after it.
		ch.wmu.Lock()
		written := int64(0)
		if p := ch.partial; p != nil {
			ch.partial = nil
			bufs = append(bufs, p)
			bytes += len(p)
			written++
		}
		ch.held.Store(false) // taken with the rest
		b, stop := ch.sendq.take(ch.spare)
		for _, n := range b.sizes {
			ch.k.obs.FrameSent(&ch.info, int(n))
		}
		written += int64(len(b.sizes))
		for _, f := range b.frames {
			bufs = append(bufs, f)
			bytes += len(f)
			if bytes >= 256<<10 && !flush() {
				ch.wmu.Unlock()
				return
			}
		}
		ok := flush()
		ch.spare = b.release()
		ch.queued.Add(-written)
		ch.wmu.Unlock()
		if !ok {
			return
		}
		if stop { // the flush marker of drain: all is written
			ch.mu.Lock()
			rerr := ch.readErr // set when the reader stopped on its own
			ch.mu.Unlock()
			ch.fail(rerr)
			return
		}
	}
}

// writeInline writes fb's frame on the sender's goroutine when nothing is
// queued and nobody is writing, or when only held replies are queued: then
// they go out with it, in one writev (flushLocked). The write does not
// block: what the socket does not take at once is left to the writer,
// which finishes it before anything else. It reports whether it took the
// frame (err: the channel failed writing it), and whether fb may be
// reused.
func (ch *channel) writeInline(fb *frameBuf) (took, reuse bool, err error) {
	if ch.nbw == nil || (ch.queued.Load() != 0 && !ch.held.Load()) || !ch.wmu.TryLock() {
		return false, false, nil
	}
	defer ch.wmu.Unlock()
	if ch.queued.Load() != 0 {
		if !ch.held.Swap(false) { // not only held frames: the writer's
			return false, false, nil
		}
		// The reply that ends a burst: the held replies and it, in one
		// writev.
		if took, err := ch.flushLocked(fb.frame); took {
			return true, true, err
		}
		return false, false, nil
	}
	frame := fb.frame
	n, err := ch.nbw.Write(frame)
	if err != nil {
		ch.fail(fmt.Errorf("write: %w", err))
		return true, true, fmt.Errorf("%w: write: %v", ErrDisconnected, err)
	}
	ch.k.obs.FrameSent(&ch.info, len(frame))
	if n == len(frame) {
		return true, true, nil
	}
	ch.partial = frame[n:]
	ch.queued.Add(1)
	ch.startWriter()
	select {
	case ch.kick <- struct{}{}:
	default:
	}
	return true, false, nil
}

// sendMode says when a frame may skip the writer; see enqueue.
type sendMode uint8

const (
	// sendQueued: posts. A loop of posts is a burst, for one writev.
	sendQueued sendMode = iota
	// sendAtOnce: someone waits for it (a reply, an error report, a call
	// forwarded to a Perl kernel, which serves one request at a time
	// and sits idle until the next arrives).
	sendAtOnce
	// sendOwnCall: a call from Go code. At once, unless other calls of
	// ours await replies: then callers are pipelining, and as a batch of
	// replies wakes them their next calls share one writev.
	sendOwnCall
	// sendHeld: the reply of a request the reader serves inline with
	// more input buffered behind it. It waits in the queue, and the writer
	// is not woken: the burst's last reply takes it along (writeInline),
	// or the reader sends it when the burst ends (releaseHeld).
	sendHeld
)

// send freezes and frames msg and queues it. A call (someone waits for
// its reply) may be written inline; see enqueue.
func (ch *channel) send(ctx context.Context, msg *protocol.Request) error {
	mode := sendQueued
	if msg.Rsvp != nil {
		mode = sendAtOnce
	}
	return ch.sendFrame(ctx, msg, mode)
}

// sendReply is send for an answer a caller waits for: a reply, a
// relayed reply or post-back, an error report.
func (ch *channel) sendReply(ctx context.Context, msg *protocol.Request) error {
	return ch.sendFrame(ctx, msg, sendAtOnce)
}

func (ch *channel) sendFrame(ctx context.Context, msg *protocol.Request, mode sendMode) error {
	return ch.sendFrameUntil(ctx, msg, mode, nil)
}

// sendFrameUntil is sendFrame that also gives up waiting for room in the
// send queue when abort closes (a call that expired meanwhile: its
// caller's context may have no deadline).
func (ch *channel) sendFrameUntil(ctx context.Context, msg *protocol.Request, mode sendMode, abort <-chan struct{}) error {
	if err := checkOutgoing(msg); err != nil {
		return err
	}
	fb, err := ch.encode(msg)
	if err != nil {
		return err
	}
	return ch.enqueue(ctx, fb, mode, abort)
}

// frameBuf is a frame being sent: frame, its header included, lies at
// the end of buf. Small ones are pooled: a post's frame is copied into
// the send queue, or written inline, and its buffer serves the next one.
type frameBuf struct {
	buf, frame []byte
	env        perlcompat.Hash // the message as a hash, rebuilt per frame
}

var frameBufs = sync.Pool{New: func() any { return new(frameBuf) }}

// recycle gives fb back once its frame is written or copied. With owned
// set the frame's buffer went to the writer or the queue, and is not kept.
func (fb *frameBuf) recycle(owned bool) {
	switch {
	case owned:
		fb.buf = nil // the writer gives it to bufpool once written
	case cap(fb.buf) > smallFrame+64:
		bufpool.Put(fb.buf) // kept there if big enough to be worth it
		fb.buf = nil
	}
	fb.frame = nil
	frameBufs.Put(fb)
}

func (ch *channel) encode(msg *protocol.Request) (*frameBuf, error) {
	// Freeze behind room for the length header, then write the header in
	// front of the payload: no copy of the payload.
	const room = 20
	fb := frameBufs.Get().(*frameBuf)
	// Sized like the channel's last frame: a big answer to a big request
	// takes one pooled buffer instead of growing through fresh ones.
	if want := int(ch.lastFrame.Load()) + room; want > cap(fb.buf) {
		if fb.buf == nil && want <= 512 {
			want = 512
		}
		fb.buf = bufpool.Get(want)
	}
	out, err := ch.freezer.Freeze(fb.buf[:room], msg.ValueInto(&fb.env))
	clear(fb.env.Entries) // hold no message past its frame
	if cap(out) > cap(fb.buf) {
		fb.buf = out[:0] // it grew: keep the larger buffer
	}
	ch.lastFrame.Store(int64(len(out) - room))
	if err != nil {
		fb.recycle(false)
		return nil, &FreezeError{Freezer: ch.freezer.Name(), Err: err}
	}
	n := len(out) - room
	if n <= 0 {
		fb.recycle(false)
		return nil, protocol.ErrEmptyFrame
	}
	if max := ch.k.limits().MaxFrameSize; n > max {
		fb.recycle(false)
		return nil, fmt.Errorf("gateway: %w: %d-byte message, MaxFrameSize %d", protocol.ErrFrameTooLarge, n, max)
	}
	var hdr [room + 1]byte
	hd := strconv.AppendInt(hdr[:0], int64(n), 10)
	hd = append(hd, 0)
	start := room - len(hd)
	copy(out[start:], hd)
	fb.frame = out[start:]
	return fb, nil
}

// enqueue hands frame to the writer, or writes it inline when it is
// waited for (someone's latency depends on it) and likely alone: with
// another sender at work, requests waiting for the worker, or more input
// already read, more frames are coming, and the writer sends a burst in
// one writev. Posts always queue; see sendMode for calls.
func (ch *channel) enqueue(ctx context.Context, fb *frameBuf, mode sendMode, abort <-chan struct{}) error {
	ch.mu.Lock()
	if ch.failErr != nil {
		ch.mu.Unlock()
		fb.recycle(false)
		return fmt.Errorf("%w: %v", ErrDisconnected, ch.failErr)
	}
	if ch.senders.n < 0 {
		ch.mu.Unlock()
		fb.recycle(false)
		if ch.k.isClosing() {
			return ErrShutdown
		}
		return ErrDisconnected // the channel is closing: its peer left
	}
	ch.senders.n++
	ch.unacked.clear() // this frame will carry the ACK of what was read
	inline := (mode == sendAtOnce || mode == sendOwnCall) && ch.senders.n == 1 && ch.queuedRq.Load() == 0 && ch.burstReq.Load() == nil &&
		(mode != sendOwnCall || len(ch.pending) <= 1)
	ch.mu.Unlock()
	defer ch.doneSending()

	if inline {
		if took, reuse, err := ch.writeInline(fb); took {
			fb.recycle(!reuse)
			return err
		}
	}
	ch.queued.Add(1)
	ch.startWriter()
	frame := fb.frame
	hold := mode == sendHeld
	if hold && !ch.sendq.roomy() {
		ch.releaseHeld() // held frames never fill the queue
	}
	ok, room := ch.sendq.push(frame, hold)
	for !ok {
		if ch.k.limits().QueueFull == QueueDisconnect {
			ch.queued.Add(-1)
			fb.recycle(false)
			ch.fail(ErrQueueFull)
			return ErrQueueFull
		}
		WillBlock(ctx) // a handler waiting for room lets its channel be read
		select {
		case <-room:
		case <-ch.dead:
			ch.queued.Add(-1)
			fb.recycle(false)
			return ErrDisconnected
		case <-ctx.Done():
			ch.queued.Add(-1)
			fb.recycle(false)
			return ctx.Err()
		case <-abort:
			ch.queued.Add(-1)
			fb.recycle(false)
			return errAborted
		}
		ok, room = ch.sendq.push(frame, hold)
	}
	fb.recycle(len(frame) > smallFrame) // a small frame was copied
	if hold {
		ch.held.Store(true)
		if ch.inlineFrom.Load() < 0 {
			// The handler ran long and the read role moved on: no
			// burst ends on this goroutine.
			ch.releaseHeld()
		}
	}
	return nil
}

// releaseHeld sends the frames held for the end of a burst: inline when
// nobody is writing, else through the writer.
func (ch *channel) releaseHeld() {
	if !ch.held.Swap(false) {
		return
	}
	if ch.nbw != nil && ch.wmu.TryLock() {
		took, _ := ch.flushLocked(nil) // an error fails the channel
		ch.wmu.Unlock()
		if took {
			return
		}
	}
	ch.sendq.signal()
}

// flushLocked writes, under wmu and without waiting, everything queued,
// then extra (a frame its sender recycles), and reports that it did. The
// writer finishes what the socket does not take at once. It declines
// while the writer has a partial write to finish: the socket is full,
// and the queue must stay where its bound holds.
func (ch *channel) flushLocked(extra []byte) (took bool, err error) {
	if ch.partial != nil {
		return false, nil
	}
	bufs := ch.ibufs[:0]
	n := int64(0) // frames counted in queued
	b, marker := ch.sendq.take(ch.spare)
	for _, sz := range b.sizes {
		ch.k.obs.FrameSent(&ch.info, int(sz))
	}
	n += int64(len(b.sizes))
	bufs = append(bufs, b.frames...)
	if extra != nil {
		bufs = append(bufs, extra)
		ch.k.obs.FrameSent(&ch.info, len(extra))
	}
	all := bufs
	bufs, err = ch.nbw.tryWritev(bufs)
	var rest []byte
	if err == nil && len(bufs) > 0 {
		rest = bytes.Join(bufs, nil) // what the socket did not take
	}
	for _, f := range all[:len(all)-btoi(extra != nil)] {
		bufpool.Put(f) // written or copied: as the writer does
	}
	clear(all)
	if cap(all) <= 16 {
		ch.ibufs = all[:0] // a burst's storage is not kept while idle
	} else {
		ch.ibufs = nil
	}
	ch.spare = b.release()
	if err != nil {
		ch.queued.Add(-n)
		ch.fail(fmt.Errorf("write: %w", err))
		return true, fmt.Errorf("%w: write: %v", ErrDisconnected, err)
	}
	if rest != nil {
		ch.partial = rest
		n-- // the partial counts as one frame queued
	}
	ch.queued.Add(-n)
	if rest != nil || marker {
		ch.startWriter()
		select {
		case ch.kick <- struct{}{}:
		default:
		}
	}
	return true, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (ch *channel) doneSending() {
	ch.mu.Lock()
	ch.senders.done()
	ch.mu.Unlock()
}

// fail closes the channel at once with err (nil: a clean close). Pending
// calls fail with ErrDisconnected right away.
func (ch *channel) fail(err error) {
	ch.mu.Lock()
	if ch.failErr != nil {
		ch.mu.Unlock()
		return
	}
	if err == nil {
		err = errClosed
	}
	ch.failErr = err
	pend := ch.pending
	ch.pending = map[string]*pendingCall{}
	ch.stopExpiry()
	stopGroup := ch.dropCtxGroup()
	close(ch.dead)
	ch.mu.Unlock()
	if stopGroup != nil {
		stopGroup()
	}
	ch.cancel()
	ch.nc.Close()
	for _, p := range pend {
		p.finish(nil, fmt.Errorf("%w: %v", ErrDisconnected, err))
	}
	ch.k.forgetPending(ch)
	switch {
	case err == errClosed, errors.Is(err, ErrDisconnected):
		if ch.k.log.IsInfo() {
			ch.logger().Info("channel closed", "reason", err, "names", ch.info.Names, "dialogue", ch.info.Dialogue, "freezer", ch.info.Freezer)
		}
	default:
		ch.logger().Warn("channel closed", "error", err, "names", ch.info.Names, "dialogue", ch.info.Dialogue, "freezer", ch.info.Freezer)
		ch.k.inform(MonitorEvent{Kind: MonitorError, RemoteID: ch.remoteID, Names: ch.names, Operation: "channel-read", Message: err.Error()})
	}
}

var errClosed = errors.New("closed")

// errAborted: enqueue gave up waiting for room because abort closed.
var errAborted = errors.New("aborted")

// ErrWouldKillPeer: the message would make a Perl IKC kernel die, so it
// was not sent.
var ErrWouldKillPeer = errors.New("gateway: refusing to send a request that kills a Perl IKC kernel")

// checkOutgoing refuses what is known to kill a Perl IKC 0.2402 kernel
// outside the responder's eval (found by the conformance tests):
// IKC/do_you_have, directly or through an IKC:proxy envelope, whose first
// argument is not an array starting with a specifier Perl can parse; its
// handler dies and POE takes the process down.
func checkOutgoing(msg *protocol.Request) error {
	if msg.Event.Session != ikcSession {
		return nil // Target changes the state only: not IKC's request
	}
	to := msg.Target()
	if to.Session != ikcSession || to.State != "do_you_have" {
		return nil
	}
	args, err := msg.Args()
	if err != nil {
		return nil // Perl's request step refuses it inside its eval
	}
	if len(args) > 0 {
		if a, ok := args[0].(*perlcompat.Array); ok && len(a.Elems) > 0 {
			if h, ok := a.Elems[0].(*perlcompat.Hash); ok && h.Class == "" {
				return nil
			}
			if s, ok := a.Elems[0].(perlcompat.Str); ok {
				if _, err := protocol.ParseSpecifier(s.Chars()); err == nil {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: IKC/do_you_have needs [specifier, kernel ID]", ErrWouldKillPeer)
}

// FreezeError means a message could not be frozen with the channel's
// freezer (FreezeThaw refuses character strings, JSON refuses blessed
// data, ...). Nothing was sent.
type FreezeError struct {
	Freezer string
	Err     error
}

func (e *FreezeError) Error() string {
	return "gateway: freeze with " + e.Freezer + ": " + e.Err.Error()
}
func (e *FreezeError) Unwrap() error { return e.Err }

// drain closes the channel gracefully: no new requests are taken, the
// worker finishes what is queued, then a flush marker goes through the send
// queue behind every reply, and the writer closes the channel once it has
// written and flushed everything before it.
func (ch *channel) drain() {
	ch.mu.Lock()
	if ch.draining || ch.failErr != nil {
		ch.mu.Unlock()
		return
	}
	ch.draining = true
	close(ch.drainCh)
	ch.mu.Unlock()
	ch.startWorker() // the worker drains
}

// finishDraining runs on the worker once drain was asked, or the reader
// stopped (on the reader itself, when no worker ever started): it serves
// what is queued, waits for a handler running on the reader, then for
// senders in progress.
func (ch *channel) finishDraining() {
	for {
		select {
		case in := <-ch.work:
			ch.serve(in)
			continue
		default:
		}
		break
	}
	ch.hmu.Lock() // a handler running on the reader has finished
	ch.hmu.Unlock()
	ch.waitOwed()
	ch.waitSenders()
	if ch.queued.Load() == 0 {
		// All written (the writer counts frames down once flushed) and
		// no sender is left to add one: close now, with no writer to
		// start or wake.
		ch.mu.Lock()
		rerr := ch.readErr // set when the reader stopped on its own
		ch.mu.Unlock()
		ch.fail(rerr)
		return
	}
	ch.startWriter() // it writes what is queued, then closes the channel
	ch.sendq.pushMarker()
}

// deferAnswer records an answer a goroutine will send on ch after its
// handler returned; drain waits for it. It returns false when ch is
// draining or closed: then the handler must answer before returning.
func (ch *channel) deferAnswer() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.draining || ch.failErr != nil || ch.senders.n < 0 {
		return false
	}
	ch.owed.n++
	return true
}

// busy reports calls in flight on the channel: answers still to be sent
// for requests read (queued for the worker, or deferred, an Upstream's),
// or calls of ours awaiting the peer's answer. The reader asks it inside
// its read callback; nothing holds mu while closing the connection (fail
// closes it after unlocking), which would wait for that callback.
func (ch *channel) busy() bool {
	if ch.queuedRq.Load() != 0 {
		return true
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.owed.n != 0 || len(ch.pending) != 0
}

// answered ends a deferAnswer.
func (ch *channel) answered() {
	ch.mu.Lock()
	ch.owed.done()
	ch.mu.Unlock()
}

// waitOwed waits for deferred answers (none start once draining).
func (ch *channel) waitOwed() {
	ch.mu.Lock()
	w := ch.owed.waiter()
	ch.mu.Unlock()
	ch.waitFor(w)
}

// waitSenders waits for enqueues in progress and refuses new ones.
func (ch *channel) waitSenders() {
	for {
		ch.mu.Lock()
		w := ch.senders.waiter()
		if w == nil || ch.isDead() {
			ch.senders.n = closedSenders // in the same hold as the count was 0
			ch.mu.Unlock()
			return
		}
		ch.mu.Unlock()
		ch.waitFor(w)
	}
}

// waitFor waits for w (nil: nothing to wait for) or the channel's death.
func (ch *channel) waitFor(w <-chan struct{}) {
	if w == nil {
		return
	}
	select {
	case <-w:
	case <-ch.dead:
	}
}

// inFlight counts work in progress on a channel (enqueues, answers
// owed) for a drain to wait on. It is guarded by the channel's mu.
type inFlight struct {
	n    int
	zero chan struct{} // closed when n drops to 0; nil while nobody waits
}

// done counts one piece of work finished.
func (f *inFlight) done() {
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

// waiter returns a channel closed once n is 0, or nil when nothing is in
// flight now (n is 0, or negative: closed to new work).
func (f *inFlight) waiter() <-chan struct{} {
	if f.n <= 0 {
		return nil
	}
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	return f.zero
}

// closedSenders marks a send queue that takes no more frames.
const closedSenders = -1 << 30

// isDraining reports that drain has begun. It looks at drainCh, which
// drain closes under mu with draining set: the reader asks once per
// request, and taking mu for it was 2% of a server's CPU per post.
func (ch *channel) isDraining() bool {
	select {
	case <-ch.drainCh:
		return true
	default:
		return false
	}
}

func osPID() int { return os.Getpid() }
