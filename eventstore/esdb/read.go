package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"casereview/eventstore"
)

// ReadStream reads up to max events of stream from revision from in direction dir (max <= 0: all).
// A backwards read from eventstore.End starts at the last event.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return nil, err
	}
	client, ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	count := uint64(math.MaxInt64) // servers take the count as a signed 64-bit number
	if max > 0 {
		count = uint64(max)
	}
	d := esdbclient.Forwards
	var pos esdbclient.StreamPosition = esdbclient.Revision(from)
	switch dir {
	case eventstore.Forwards:
	case eventstore.Backwards:
		d = esdbclient.Backwards
		if from == eventstore.End {
			pos = esdbclient.End{}
		}
	default:
		return nil, fmt.Errorf("esdb: read stream %q: unknown direction %d: use eventstore.Forwards or eventstore.Backwards", stream, dir)
	}
	events, err := s.readStream(ctx, client, stream, d, pos, count)
	if err != nil {
		return nil, err
	}
	if events == nil {
		events = []eventstore.RecordedEvent{}
	}
	return events, nil
}

// ReadAll calls fn for each event with Position > from in $all order, skipping system events, until
// the log ends or fn returns an error, which ReadAll returns as it is. Events are fetched a page at a
// time, so a slow fn holds no server resources.
func (s *Store) ReadAll(ctx context.Context, from uint64, fn func(eventstore.RecordedEvent) error) error {
	client, ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	after := from
	var start esdbclient.AllPosition = esdbclient.Start{}
	if from > 0 {
		// A forwards read of $all includes the event at its start position; it is skipped below.
		start = esdbclient.Position{Commit: from, Prepare: from}
	}
	first := true
	for {
		// A page repeats the event it starts at, so it must hold at least two to make progress.
		pageSize := max(s.opts.readPageSize, 2)
		page, last, err := s.readAllPage(ctx, client, start, pageSize)
		if err != nil && first && from > 0 && ctx.Err() == nil {
			// Any number may be passed as from, but a real server refuses to start at a position
			// where no event begins. Read from the start instead and skip up to from.
			start = esdbclient.Start{}
			page, last, err = s.readAllPage(ctx, client, start, pageSize)
		}
		if err != nil {
			return err
		}
		first = false
		for _, e := range page {
			if e.Position <= after {
				continue
			}
			after = e.Position
			if isSystem(e) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if last == nil {
			return nil
		}
		start = *last
	}
}

// readAllPage reads up to n events of $all forwards from start, system events included. last is the
// position to continue from, nil when the page reached the end of the log.
func (s *Store) readAllPage(ctx context.Context, client *esdbclient.Client, start esdbclient.AllPosition, n uint64) ([]eventstore.RecordedEvent, *esdbclient.Position, error) {
	rs, err := client.ReadAll(ctx, esdbclient.ReadAllOptions{Direction: esdbclient.Forwards, From: start}, n)
	if err != nil {
		return nil, nil, fmt.Errorf("esdb: read $all: %w", s.mapError(client, err))
	}
	defer rs.Close()
	var page []eventstore.RecordedEvent
	var last esdbclient.Position
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("esdb: read $all: %w", s.mapError(client, err))
		}
		orig := ev.OriginalEvent()
		last = orig.Position
		page = append(page, decode(orig))
	}
	if uint64(len(page)) < n {
		return page, nil, nil
	}
	return page, &last, nil
}

// isSystem reports events that are not part of the casereview log: EventStoreDB's own (statistics,
// stream metadata, links of system projections and the like) and the store's event ID claims.
func isSystem(e eventstore.RecordedEvent) bool {
	return strings.HasPrefix(e.Stream, "$") || strings.HasPrefix(e.Type, "$") || strings.HasPrefix(e.Stream, claimStreamPrefix)
}

// decode turns an EventStoreDB event into a RecordedEvent, taking the chain link out of the metadata.
// Events this store did not write come back with their metadata as stored, EventStoreDB's creation
// time, and no hashes, so Verify reports them.
func decode(ev *esdbclient.RecordedEvent) eventstore.RecordedEvent {
	out := eventstore.RecordedEvent{
		ID:       ev.EventID.String(),
		Type:     ev.EventType,
		Data:     ev.Data,
		Stream:   ev.StreamID,
		Revision: ev.EventNumber,
		Position: ev.Position.Commit,
		Recorded: ev.CreatedDate.UTC(),
	}
	link, metadata, ok := openMetadata(ev.UserMetadata)
	out.Metadata = metadata
	if !ok {
		if len(out.Metadata) == 0 {
			out.Metadata = nil
		}
		return out
	}
	out.Hash, out.PrevHash = link.Hash, link.PrevHash
	if t, err := parseRecorded(link.Recorded); err == nil {
		out.Recorded = t
	}
	return out
}
