package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"casereview/eventstore"
)

// EventStoreDB keeps no index of event IDs, so it happily writes one ID into two streams. The store
// gives every event ID a claim stream, claimStreamPrefix+ID, whose last event names the stream and
// revision the ID was appended at. A claim is written before the event itself, because the two
// cannot be written atomically; a claim whose event never arrived (the append failed) is stale and
// is taken over, but only after a grace period (a minute), since until then the claiming append may still be on
// its way. Claim streams are invisible to ReadAll and SubscribeAll.
const (
	claimStreamPrefix = "casereview-eventid-"
	claimEventType    = "EventIDClaimed"
	defaultClaimGrace = time.Minute
	maxClaimAttempts  = 8
)

type claimData struct {
	Stream   string    `json:"stream"`
	Revision uint64    `json:"revision"`
	At       time.Time `json:"at"`
}

type currentClaim struct {
	claimData
	exists   bool
	revision uint64 // the claim event's revision in its claim stream
}

// claimIDs claims every event's ID for its place in stream, or fails with ErrDuplicateEventID.
func (s *Store) claimIDs(ctx context.Context, client *esdbclient.Client, stream string, first uint64, events []eventstore.EventData) error {
	for i, e := range events {
		if err := s.claim(ctx, client, e.ID, stream, first+uint64(i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) claim(ctx context.Context, client *esdbclient.Client, id, stream string, revision uint64) error {
	cs := claimStreamPrefix + id
	want := claimData{Stream: stream, Revision: revision, At: time.Now().UTC()}
	// Fast path: the ID has never been claimed.
	err := s.writeClaim(ctx, client, cs, esdbclient.NoStream{}, want)
	for attempt := 1; ; attempt++ {
		if err == nil {
			return nil
		}
		var ee *esdbclient.Error
		if !errors.As(err, &ee) || ee.Code() != esdbclient.ErrorCodeWrongExpectedVersion {
			return fmt.Errorf("esdb: claim event ID %s: %w", id, s.mapError(client, err))
		}
		if attempt == maxClaimAttempts {
			return fmt.Errorf("%w: event ID %s: other appends keep claiming it at the same time", eventstore.ErrDuplicateEventID, id)
		}
		cur, err := s.readClaim(ctx, client, cs)
		if err != nil {
			return err
		}
		if !cur.exists {
			err = s.writeClaim(ctx, client, cs, esdbclient.NoStream{}, want)
			continue
		}
		if cur.Stream == stream && cur.Revision == revision {
			return nil // claimed by an earlier attempt of this same append
		}
		holds, err := s.holdsID(ctx, client, cur.Stream, cur.Revision, id)
		if err != nil {
			return err
		}
		if holds {
			return fmt.Errorf("%w: event ID %s is already at revision %d of stream %q", eventstore.ErrDuplicateEventID, id, cur.Revision, cur.Stream)
		}
		if age := time.Since(cur.At); cur.Stream != stream && age < s.opts.claimGrace {
			return fmt.Errorf("%w: event ID %s was claimed for stream %q %v ago and that append may still be under way; if it failed, retry after %v", eventstore.ErrDuplicateEventID, id, cur.Stream, age.Round(time.Second), s.opts.claimGrace)
		}
		err = s.writeClaim(ctx, client, cs, esdbclient.Revision(cur.revision), want)
	}
}

func (s *Store) writeClaim(ctx context.Context, client *esdbclient.Client, cs string, expected esdbclient.ExpectedRevision, c claimData) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	// A claim's own ID is random on purpose: a derived one would let the server take a claim that was
	// superseded since for an idempotent retry of it.
	ev := esdbclient.EventData{
		EventID:     uuid.New(),
		EventType:   claimEventType,
		ContentType: esdbclient.ContentTypeJson,
		Data:        data,
	}
	_, err = client.AppendToStream(ctx, cs, esdbclient.AppendToStreamOptions{ExpectedRevision: expected}, ev)
	return err
}

func (s *Store) readClaim(ctx context.Context, client *esdbclient.Client, cs string) (currentClaim, error) {
	rs, err := client.ReadStream(ctx, cs, esdbclient.ReadStreamOptions{Direction: esdbclient.Backwards, From: esdbclient.End{}}, 1)
	if err != nil {
		return currentClaim{}, fmt.Errorf("esdb: read claim %q: %w", cs, s.mapError(client, err))
	}
	defer rs.Close()
	ev, err := rs.Recv()
	if errors.Is(err, io.EOF) {
		return currentClaim{}, nil
	}
	if err != nil {
		err = s.mapError(client, err)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return currentClaim{}, nil
		}
		return currentClaim{}, fmt.Errorf("esdb: read claim %q: %w", cs, err)
	}
	orig := ev.OriginalEvent()
	c := currentClaim{exists: true, revision: orig.EventNumber}
	if err := json.Unmarshal(orig.Data, &c.claimData); err != nil {
		return currentClaim{}, fmt.Errorf("esdb: claim %q revision %d is not a claim: %w", cs, orig.EventNumber, err)
	}
	return c, nil
}

// holdsID reports whether the event at stream/revision has the given ID.
func (s *Store) holdsID(ctx context.Context, client *esdbclient.Client, stream string, revision uint64, id string) (bool, error) {
	got, err := s.readStream(ctx, client, stream, esdbclient.Forwards, esdbclient.Revision(revision), 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(got) == 1 && got[0].Revision == revision && got[0].ID == id, nil
}
