package esdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"casereview/eventstore"
)

// recentWindow is how many events before the head, beyond the batch size, an append inspects for
// a retried batch when the caller said Any or StreamExists, as EventStoreDB's own recent-ID cache
// does. An older retry with Any is refused as a duplicate ID by the claims (see claim.go).
const recentWindow = 16

// maxAnyAttempts bounds how often an append with Any or StreamExists re-reads the head after losing
// a race with another writer.
const maxAnyAttempts = 32

// head is the last event of a stream as the server holds it.
type head struct {
	exists   bool
	revision uint64
	hash     string
	recent   []eventstore.RecordedEvent // the last events, newest first, head included
}

// Append writes events to stream if it matches expected; see eventstore.Store.
//
// Every event is sealed into the stream's hash chain, which needs the hash of the event it follows,
// so the store reads the stream's last events before writing and then appends with the exact
// revision it read: a concurrent writer makes the server refuse, never fork the chain. When the
// caller asked for Any or StreamExists the store reads again and retries; when the caller named a
// revision the refusal is the caller's answer. The head is read afresh on every append rather than
// cached: a cached hash can be wrong without the store noticing (a retry the server accepts as
// idempotent writes nothing, yet looks exactly like a fresh write), and a wrong previous hash would
// be sealed into the log for good.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := validateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	client, ctx, end, err := s.begin(ctx)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	defer end()
	unlock, err := s.lockStream(ctx, stream)
	if err != nil {
		return eventstore.AppendResult{}, s.mapError(client, err)
	}
	defer unlock()

	for attempt := 1; ; attempt++ {
		res, err := s.appendOnce(ctx, client, stream, expected, events)
		if err == nil {
			return res, nil
		}
		retry := errors.Is(err, errLostRace) && (expected.IsAny() || expected.IsStreamExists())
		if !retry || attempt == maxAnyAttempts {
			if errors.Is(err, errLostRace) {
				err = fmt.Errorf("%w: append to stream %q: another writer appended first", eventstore.ErrWrongExpectedRevision, stream)
			}
			return eventstore.AppendResult{}, err
		}
		select {
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		case <-ctx.Done():
			return eventstore.AppendResult{}, s.mapError(client, ctx.Err())
		}
	}
}

// errLostRace means the stream moved between reading its head and appending.
var errLostRace = errors.New("stream moved during the append")

func (s *Store) appendOnce(ctx context.Context, client *esdbclient.Client, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	h, err := s.readHead(ctx, client, stream, len(events)+recentWindow)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	// next is the revision the first new event gets if the append goes ahead.
	var next uint64
	switch {
	case expected.IsAny():
		if res, ok, err := idempotentInRecent(stream, h, events); ok || err != nil {
			return res, err
		}
		next = h.next()
	case expected.IsStreamExists():
		if !h.exists {
			return eventstore.AppendResult{}, fmt.Errorf("%w: append to stream %q: expected the stream to exist, it has no events", eventstore.ErrWrongExpectedRevision, stream)
		}
		if res, ok, err := idempotentInRecent(stream, h, events); ok || err != nil {
			return res, err
		}
		next = h.next()
	case expected.IsNoStream():
		next = 0
	default:
		r, _ := expected.Revision()
		if r >= math.MaxInt64 {
			return eventstore.AppendResult{}, fmt.Errorf("%w: append to stream %q: expected revision %d is beyond any stream", eventstore.ErrWrongExpectedRevision, stream, r)
		}
		next = r + 1
	}
	if next != h.next() {
		if next < h.next() {
			// The stream has moved past the expected revision: either this is a retry of events that
			// are already in place, or someone else got there first.
			return s.checkRetry(ctx, client, stream, expected, next, h, events)
		}
		return eventstore.AppendResult{}, fmt.Errorf("%w: append to stream %q: expected %s, %s", eventstore.ErrWrongExpectedRevision, stream, describeExpected(expected), h.describe())
	}
	if err := reusedInRecent(stream, h, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := s.claimIDs(ctx, client, stream, next, events); err != nil {
		return eventstore.AppendResult{}, err
	}

	prev := eventstore.GenesisHash
	if h.exists {
		prev = h.hash
	}
	recorded := recordedTime(s.opts.now())
	wire := make([]esdbclient.EventData, len(events))
	for i, e := range events {
		rec := eventstore.RecordedEvent{
			ID:       e.ID,
			Type:     e.Type,
			Data:     e.Data,
			Metadata: normalizeMetadata(e.Metadata),
			Stream:   stream,
			Revision: next + uint64(i),
			Recorded: recorded,
		}
		hash := eventstore.ChainHash(prev, rec.Revision, rec)
		meta, err := sealMetadata(chainLink{PrevHash: prev, Hash: hash, Recorded: formatRecorded(recorded)}, rec.Metadata)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("%w: event %s: %w", eventstore.ErrInvalidEvent, e.ID, err)
		}
		id, err := uuid.Parse(e.ID)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("%w: event ID %q: %w", eventstore.ErrInvalidEvent, e.ID, err)
		}
		wire[i] = esdbclient.EventData{
			EventID:     id,
			EventType:   e.Type,
			ContentType: esdbclient.ContentTypeJson,
			Data:        e.Data,
			Metadata:    meta,
		}
		prev = hash
	}
	var want esdbclient.ExpectedRevision = esdbclient.NoStream{}
	if h.exists {
		want = esdbclient.Revision(h.revision)
	}
	wr, err := client.AppendToStream(ctx, stream, esdbclient.AppendToStreamOptions{ExpectedRevision: want}, wire...)
	if err != nil {
		var ee *esdbclient.Error
		if errors.As(err, &ee) && ee.Code() == esdbclient.ErrorCodeWrongExpectedVersion {
			if expected.IsAny() || expected.IsStreamExists() {
				return eventstore.AppendResult{}, errLostRace
			}
			return eventstore.AppendResult{}, fmt.Errorf("%w: append to stream %q: expected %s: %w", eventstore.ErrWrongExpectedRevision, stream, describeExpected(expected), err)
		}
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to stream %q: %w", stream, s.mapError(client, err))
	}
	return eventstore.AppendResult{NextRevision: wr.NextExpectedVersion, Position: wr.CommitPosition}, nil
}

// checkRetry handles an append whose expected revision is behind the stream: it succeeds without
// writing when exactly these events already follow that revision (the server would say the same),
// and otherwise fails with a wrong expected revision, or a duplicate ID when some of them are there.
func (s *Store) checkRetry(ctx context.Context, client *esdbclient.Client, stream string, expected eventstore.ExpectedRevision, next uint64, h head, events []eventstore.EventData) (eventstore.AppendResult, error) {
	written, err := s.readStream(ctx, client, stream, esdbclient.Forwards, esdbclient.Revision(next), uint64(len(events)))
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	matched := 0
	for i, e := range events {
		if i < len(written) && written[i].ID == e.ID {
			matched++
		}
	}
	if matched == len(events) {
		last := written[len(written)-1]
		return eventstore.AppendResult{NextRevision: last.Revision, Position: last.Position}, nil
	}
	if matched > 0 {
		return eventstore.AppendResult{}, fmt.Errorf("%w: append to stream %q: some of these event IDs are already at revisions after %s, others are not", eventstore.ErrDuplicateEventID, stream, describeExpected(expected))
	}
	if err := reusedInRecent(stream, h, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	return eventstore.AppendResult{}, fmt.Errorf("%w: append to stream %q: expected %s, %s", eventstore.ErrWrongExpectedRevision, stream, describeExpected(expected), h.describe())
}

// idempotentInRecent recognises a retried append with Any or StreamExists: the same events, in
// order, among the stream's last events. A partial match means IDs are being reused.
func idempotentInRecent(stream string, h head, events []eventstore.EventData) (eventstore.AppendResult, bool, error) {
	// h.recent is newest first; look for events[0] and check the ones after it.
	for i, r := range h.recent {
		if r.ID != events[0].ID {
			continue
		}
		for j := range events {
			k := i - j
			if k < 0 || h.recent[k].ID != events[j].ID {
				return eventstore.AppendResult{}, false, fmt.Errorf("%w: append to stream %q: event %s is already at revision %d, but the rest of the append does not follow it", eventstore.ErrDuplicateEventID, stream, events[0].ID, r.Revision)
			}
		}
		last := h.recent[i-len(events)+1]
		return eventstore.AppendResult{NextRevision: last.Revision, Position: last.Position}, true, nil
	}
	return eventstore.AppendResult{}, false, nil
}

// reusedInRecent refuses events whose IDs are among the stream's last events: writing them would put
// the same ID at two places in the log.
func reusedInRecent(stream string, h head, events []eventstore.EventData) error {
	for _, r := range h.recent {
		for _, e := range events {
			if r.ID == e.ID {
				return fmt.Errorf("%w: append to stream %q: event %s is already at revision %d", eventstore.ErrDuplicateEventID, stream, e.ID, r.Revision)
			}
		}
	}
	return nil
}

// readHead reads the last n events of stream.
func (s *Store) readHead(ctx context.Context, client *esdbclient.Client, stream string, n int) (head, error) {
	recent, err := s.readStream(ctx, client, stream, esdbclient.Backwards, esdbclient.End{}, uint64(n))
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return head{}, nil
	}
	if err != nil {
		return head{}, err
	}
	if len(recent) == 0 {
		return head{}, nil
	}
	last := recent[0]
	if last.Hash == "" {
		return head{}, fmt.Errorf("%w: stream %q revision %d was not written by this store (no %s metadata), so new events cannot be chained to it", eventstore.ErrChainBroken, stream, last.Revision, chainKey)
	}
	return head{exists: true, revision: last.Revision, hash: last.Hash, recent: recent}, nil
}

func (h head) next() uint64 {
	if !h.exists {
		return 0
	}
	return h.revision + 1
}

func (h head) describe() string {
	if !h.exists {
		return "the stream has no events"
	}
	return fmt.Sprintf("the stream is at revision %d", h.revision)
}

func describeExpected(e eventstore.ExpectedRevision) string {
	switch {
	case e.IsAny():
		return "any revision"
	case e.IsNoStream():
		return "no stream"
	case e.IsStreamExists():
		return "an existing stream"
	}
	r, _ := e.Revision()
	return fmt.Sprintf("revision %d", r)
}

// normalizeMetadata trims the white space around the caller's metadata, since the chain link is
// spliced in after its opening brace; empty metadata stays empty.
func normalizeMetadata(m json.RawMessage) json.RawMessage {
	m = bytes.TrimSpace(m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// validateAppend applies the rules every store shares, plus the two EventStoreDB adds: metadata must
// be a JSON object (the chain link is spliced into it) and must not use the chain's own key.
func validateAppend(stream string, events []eventstore.EventData) error {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return err
	}
	if strings.HasPrefix(stream, claimStreamPrefix) {
		return fmt.Errorf("%w: stream names starting with %q are reserved for the store's event ID claims: choose another name", eventstore.ErrInvalidEvent, claimStreamPrefix)
	}
	for _, e := range events {
		m := normalizeMetadata(e.Metadata)
		if m == nil {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(m, &fields); err != nil {
			return fmt.Errorf("%w: event %s metadata is not a JSON object: pass an object such as {\"actor\":\"...\"} or leave it empty", eventstore.ErrInvalidEvent, e.ID)
		}
		if _, ok := fields[chainKey]; ok {
			return fmt.Errorf("%w: event %s metadata uses the key %q, which the store reserves for its hash chain: rename the key", eventstore.ErrInvalidEvent, e.ID, chainKey)
		}
	}
	return nil
}

// readStream reads up to count events and decodes them; a missing stream is ErrStreamNotFound.
func (s *Store) readStream(ctx context.Context, client *esdbclient.Client, stream string, dir esdbclient.Direction, from esdbclient.StreamPosition, count uint64) ([]eventstore.RecordedEvent, error) {
	rs, err := client.ReadStream(ctx, stream, esdbclient.ReadStreamOptions{Direction: dir, From: from}, count)
	if err != nil {
		return nil, fmt.Errorf("esdb: read stream %q: %w", stream, s.mapError(client, err))
	}
	defer rs.Close()
	var out []eventstore.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("esdb: read stream %q: %w", stream, s.mapError(client, err))
		}
		out = append(out, decode(ev.OriginalEvent()))
	}
}
