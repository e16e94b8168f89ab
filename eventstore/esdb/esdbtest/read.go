package esdbtest

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readBatch bounds how many events a read copies out from under the lock at a time.
const readBatch = 256

// Read serves stream reads, $all reads and catch-up subscriptions to a stream or to $all.
func (s *Server) Read(req *streams.ReadReq, out streams.Streams_ReadServer) error {
	opts := req.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "read options are missing")
	}
	filter, err := newFilter(opts)
	if err != nil {
		return err
	}
	r := reader{srv: s, out: out, asString: opts.GetUuidOption().GetString_() != nil, filter: filter}
	if opts.GetSubscription() != nil {
		if opts.ReadDirection != streams.ReadReq_Options_Forwards {
			return status.Error(codes.InvalidArgument, "subscriptions read forwards only")
		}
		return r.subscribe(opts)
	}
	count, ok := opts.GetCountOption().(*streams.ReadReq_Options_Count)
	if !ok {
		return status.Error(codes.InvalidArgument, "read needs a count or subscription option")
	}
	backwards := opts.ReadDirection == streams.ReadReq_Options_Backwards
	switch so := opts.GetStreamOption().(type) {
	case *streams.ReadReq_Options_Stream:
		return r.readStream(so.Stream, backwards, count.Count)
	case *streams.ReadReq_Options_All:
		return r.readAll(so.All, backwards, count.Count)
	default:
		return status.Error(codes.InvalidArgument, "read names neither a stream nor $all")
	}
}

type reader struct {
	srv      *Server
	out      streams.Streams_ReadServer
	asString bool
	filter   func(*record) bool
}

func (r *reader) send(rec *record) error {
	return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               uuidToProto(rec.id, r.asString),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(rec.stream)},
			StreamRevision:   rec.revision,
			PreparePosition:  rec.position,
			CommitPosition:   rec.position,
			Metadata: map[string]string{
				"type":         rec.eventType,
				"content-type": rec.contentType,
				"created":      strconv.FormatInt(rec.created, 10),
			},
			CustomMetadata: rec.customMetadata,
			Data:           rec.data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: rec.position},
	}}})
}

func (r *reader) readStream(so *streams.ReadReq_Options_StreamOptions, backwards bool, count uint64) error {
	name := string(so.GetStreamIdentifier().GetStreamName())
	r.srv.mu.Lock()
	events := r.srv.byStream[name] // appends never modify the part of the slice already visible
	r.srv.mu.Unlock()
	if len(events) == 0 {
		return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{
			StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}},
		}})
	}
	last := uint64(len(events) - 1)
	var from uint64
	switch ro := so.GetRevisionOption().(type) {
	case *streams.ReadReq_Options_StreamOptions_Revision:
		from = ro.Revision
	case *streams.ReadReq_Options_StreamOptions_Start:
		from = 0
	case *streams.ReadReq_Options_StreamOptions_End:
		if !backwards {
			return nil
		}
		from = last
	default:
		return status.Error(codes.InvalidArgument, "stream read has no revision option")
	}
	sent := uint64(0)
	if backwards {
		if from > last {
			from = last
		}
		for i := int64(from); i >= 0 && sent < count; i-- {
			if err := r.sendLocked(events[i]); err != nil {
				return err
			}
			sent++
		}
		return nil
	}
	for i := from; i <= last && sent < count; i++ {
		if err := r.sendLocked(events[i]); err != nil {
			return err
		}
		sent++
	}
	return nil
}

// sendLocked copies the record under the lock, since the tampering hooks may rewrite it.
func (r *reader) sendLocked(rec *record) error {
	r.srv.mu.Lock()
	c := *rec
	r.srv.mu.Unlock()
	return r.send(&c)
}

// indexAtOrAfter returns the index in the log of the first event at or after pos.
func (s *Server) indexAtOrAfter(pos uint64) int {
	lo, hi := 0, len(s.log)
	for lo < hi {
		m := (lo + hi) / 2
		if s.log[m].position < pos {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// validPosition returns the log index of the event at pos, or the log's length for the end of the
// log. Like a real server, it refuses positions where no record begins. Callers hold s.mu.
func (s *Server) validPosition(pos *streams.ReadReq_Options_Position) (int, bool) {
	if pos.CommitPosition != pos.PreparePosition {
		return 0, false
	}
	if pos.CommitPosition == s.nextPos {
		return len(s.log), true
	}
	i := s.indexAtOrAfter(pos.CommitPosition)
	return i, i < len(s.log) && s.log[i].position == pos.CommitPosition
}

func errInvalidPosition(pos *streams.ReadReq_Options_Position) error {
	return status.Errorf(codes.InvalidArgument, "invalid position C:%d/P:%d: no record starts there", pos.CommitPosition, pos.PreparePosition)
}

func (r *reader) readAll(ao *streams.ReadReq_Options_AllOptions, backwards bool, count uint64) error {
	r.srv.mu.Lock()
	log := r.srv.log
	var start int // forwards: first index to send; backwards: one past the first index to send
	switch ao := ao.GetAllOption().(type) {
	case *streams.ReadReq_Options_AllOptions_Start:
		start = 0
	case *streams.ReadReq_Options_AllOptions_End:
		start = len(log)
	case *streams.ReadReq_Options_AllOptions_Position:
		// Forwards from a position includes the event there; backwards excludes it.
		var ok bool
		if start, ok = r.srv.validPosition(ao.Position); !ok {
			r.srv.mu.Unlock()
			return errInvalidPosition(ao.Position)
		}
	default:
		r.srv.mu.Unlock()
		return status.Error(codes.InvalidArgument, "$all read has no position option")
	}
	r.srv.mu.Unlock()
	sent := uint64(0)
	if backwards {
		for i := start - 1; i >= 0 && sent < count; i-- {
			if !r.filter(log[i]) {
				continue
			}
			if err := r.sendLocked(log[i]); err != nil {
				return err
			}
			sent++
		}
		return nil
	}
	for i := start; i < len(log) && sent < count; i++ {
		if !r.filter(log[i]) {
			continue
		}
		if err := r.sendLocked(log[i]); err != nil {
			return err
		}
		sent++
	}
	return nil
}

// subscribe sends the confirmation, catches up from the start position (exclusive, as EventStoreDB
// does), reports caught-up, then follows new events until the client leaves or the test drops it.
func (r *reader) subscribe(opts *streams.ReadReq_Options) error {
	drop, ok := r.srv.subscribe()
	if !ok {
		return status.Error(codes.Unavailable, "server is shutting down")
	}
	defer r.srv.unsubscribe(drop)

	var (
		next   int                // index into the log of the next event to consider
		accept func(*record) bool // stream or $all selection, before the filter
		stream string
	)
	r.srv.mu.Lock()
	switch so := opts.GetStreamOption().(type) {
	case *streams.ReadReq_Options_All:
		accept = func(*record) bool { return true }
		switch ao := so.All.GetAllOption().(type) {
		case *streams.ReadReq_Options_AllOptions_Start:
			next = 0
		case *streams.ReadReq_Options_AllOptions_End:
			next = len(r.srv.log)
		case *streams.ReadReq_Options_AllOptions_Position:
			var ok bool
			if next, ok = r.srv.validPosition(ao.Position); !ok {
				r.srv.mu.Unlock()
				return errInvalidPosition(ao.Position)
			}
			if next < len(r.srv.log) {
				next++ // a subscription starts after its position
			}
		default:
			r.srv.mu.Unlock()
			return status.Error(codes.InvalidArgument, "$all subscription has no position option")
		}
	case *streams.ReadReq_Options_Stream:
		stream = string(so.Stream.GetStreamIdentifier().GetStreamName())
		events := r.srv.byStream[stream]
		switch ro := so.Stream.GetRevisionOption().(type) {
		case *streams.ReadReq_Options_StreamOptions_Start:
			accept = func(rec *record) bool { return rec.stream == stream }
		case *streams.ReadReq_Options_StreamOptions_End:
			next = len(r.srv.log)
			accept = func(rec *record) bool { return rec.stream == stream }
		case *streams.ReadReq_Options_StreamOptions_Revision:
			after := ro.Revision
			accept = func(rec *record) bool { return rec.stream == stream && rec.revision > after }
			if after < uint64(len(events)) {
				next = r.srv.indexAtOrAfter(events[after].position)
			}
		default:
			r.srv.mu.Unlock()
			return status.Error(codes.InvalidArgument, "stream subscription has no revision option")
		}
	default:
		r.srv.mu.Unlock()
		return status.Error(codes.InvalidArgument, "subscription names neither a stream nor $all")
	}
	r.srv.mu.Unlock()

	if err := r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{
		Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()},
	}}); err != nil {
		return err
	}
	filtered := opts.GetFilter() != nil
	checkpointEvery := 1
	if f := opts.GetFilter(); f != nil {
		checkpointEvery = int(f.GetMax()) * int(max(f.GetCheckpointIntervalMultiplier(), 1))
		if checkpointEvery <= 0 {
			checkpointEvery = 32
		}
	}
	caughtUp := false
	considered := 0
	ctx := r.out.Context()
	for {
		r.srv.mu.Lock()
		batch := r.srv.log[next:min(len(r.srv.log), next+readBatch)]
		wake := r.srv.appended
		r.srv.mu.Unlock()
		for _, rec := range batch {
			// A dropped subscription sends nothing more, even in the middle of a catch-up.
			select {
			case <-drop:
				return errDropped
			default:
			}
			next++
			if !accept(rec) {
				continue
			}
			considered++
			if r.filter(rec) {
				if err := r.sendLocked(rec); err != nil {
					return err
				}
			}
			if filtered && considered%checkpointEvery == 0 {
				if err := r.checkpoint(rec.position); err != nil {
					return err
				}
			}
		}
		if len(batch) > 0 {
			continue
		}
		if !caughtUp {
			caughtUp = true
			if err := r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-wake:
		case <-drop:
			return errDropped
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

var errDropped = status.Error(codes.Unavailable, "subscription dropped by the test server")

func (r *reader) checkpoint(pos uint64) error {
	return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{
		Checkpoint: &streams.ReadResp_Checkpoint{CommitPosition: pos, PreparePosition: pos},
	}})
}

// newFilter builds the server-side filter of a read or subscription: stream name or event type, by
// prefixes or by a regular expression.
func newFilter(opts *streams.ReadReq_Options) (func(*record) bool, error) {
	f := opts.GetFilter()
	if f == nil {
		return func(*record) bool { return true }, nil
	}
	expr, field := f.GetStreamIdentifier(), func(r *record) string { return r.stream }
	if expr == nil {
		expr, field = f.GetEventType(), func(r *record) string { return r.eventType }
	}
	if expr == nil {
		return nil, status.Error(codes.InvalidArgument, "filter names neither stream identifier nor event type")
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter regex: %v", err)
		}
		return func(r *record) bool { return re.MatchString(field(r)) }, nil
	}
	prefixes := expr.GetPrefix()
	return func(r *record) bool {
		v := field(r)
		for _, p := range prefixes {
			if strings.HasPrefix(v, p) {
				return true
			}
		}
		return false
	}, nil
}
