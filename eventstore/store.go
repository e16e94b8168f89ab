// Package eventstore defines the append-only event log that is the record of every case.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// MaxEventSize is the largest data plus metadata, in bytes, one event may carry.
const MaxEventSize = 1 << 20

// MaxStreamNameLength is the longest stream name accepted, in bytes.
const MaxStreamNameLength = 200

// Errors returned by every Store implementation. Callers test them with errors.Is.
var (
	// ErrWrongExpectedRevision means the stream was not at the revision the append expected.
	ErrWrongExpectedRevision = errors.New("eventstore: wrong expected revision")
	// ErrStreamNotFound means a read named a stream that has no events.
	ErrStreamNotFound = errors.New("eventstore: stream not found")
	// ErrDuplicateEventID means an event ID was already used at another place in the log.
	ErrDuplicateEventID = errors.New("eventstore: event ID already used elsewhere")
	// ErrInvalidEvent means an event or stream name was malformed; nothing was written.
	ErrInvalidEvent = errors.New("eventstore: invalid event")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("eventstore: store closed")
	// ErrChainBroken means the hash chain does not verify at some position.
	ErrChainBroken = errors.New("eventstore: hash chain broken")
)

// ExpectedRevision states what the stream must look like for an append to succeed.
// The zero value means Any.
type ExpectedRevision struct {
	kind     expectKind
	revision uint64
}

type expectKind int

const (
	expectAny expectKind = iota
	expectNoStream
	expectStreamExists
	expectExact
)

// Any accepts the append whatever the stream's state.
func Any() ExpectedRevision { return ExpectedRevision{kind: expectAny} }

// NoStream accepts the append only when the stream has no events.
func NoStream() ExpectedRevision { return ExpectedRevision{kind: expectNoStream} }

// StreamExists accepts the append only when the stream has at least one event.
func StreamExists() ExpectedRevision { return ExpectedRevision{kind: expectStreamExists} }

// Exact accepts the append only when the stream's last event has revision r (revisions start at 0).
func Exact(r uint64) ExpectedRevision { return ExpectedRevision{kind: expectExact, revision: r} }

// IsAny, IsNoStream, IsStreamExists report the kind; Revision reports an Exact revision.
func (e ExpectedRevision) IsAny() bool          { return e.kind == expectAny }
func (e ExpectedRevision) IsNoStream() bool     { return e.kind == expectNoStream }
func (e ExpectedRevision) IsStreamExists() bool { return e.kind == expectStreamExists }

// Revision returns the exact revision and true, or 0 and false when e is not Exact.
func (e ExpectedRevision) Revision() (uint64, bool) { return e.revision, e.kind == expectExact }

// EventData is an event to append.
type EventData struct {
	ID       string          // UUID, set by the caller so that retries are idempotent
	Type     string          // stable event type name, e.g. "CaseNotified"
	Data     json.RawMessage // JSON object
	Metadata json.RawMessage // JSON object, may be empty
}

// Metadata is the structure casereview writes into EventData.Metadata.
type Metadata struct {
	Actor           string `json:"actor,omitempty"`
	Role            string `json:"role,omitempty"`
	CorrelationID   string `json:"correlationId,omitempty"`
	CausationID     string `json:"causationId,omitempty"`
	RuleSetVersion  string `json:"ruleSetVersion,omitempty"`
	CalendarVersion string `json:"calendarVersion,omitempty"`
	SchemaVersion   int    `json:"schemaVersion,omitempty"`
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID       string
	Type     string
	Data     json.RawMessage
	Metadata json.RawMessage
	Stream   string
	Revision uint64    // position within the stream, from 0
	Position uint64    // global position, strictly increasing (from 1, contiguous, in the embedded store)
	Recorded time.Time // UTC, the store's clock at commit
	Hash     string    // hex SHA-256 chaining this event to the previous one in global order
	PrevHash string    // hex SHA-256 of the previous event, or 64 zeros for the first
}

// AppendResult reports where an append landed.
type AppendResult struct {
	NextRevision uint64 // the stream's last revision after the append
	Position     uint64 // global position of the last event appended
}

// Direction selects forwards or backwards reads.
type Direction int

const (
	Forwards Direction = iota
	Backwards
)

// End, as a revision or position for a backwards read, means "from the last event".
const End = ^uint64(0)

// SubscribeOptions filter a subscription to all events.
type SubscribeOptions struct {
	From         uint64   // deliver events with Position > From; 0 delivers from the start
	StreamPrefix []string // when not empty, only events of streams starting with one of these
}

// Subscription delivers events in global order until closed or its context ends.
type Subscription interface {
	// Next blocks until the next event, the context is done or the subscription fails.
	Next(ctx context.Context) (RecordedEvent, error)
	Close() error
}

// Store is the event log.
type Store interface {
	// Append writes events to stream atomically if the stream matches expected.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)
	// ReadStream reads up to max events of stream from revision in direction (max <= 0: all).
	ReadStream(ctx context.Context, stream string, dir Direction, from uint64, max int) ([]RecordedEvent, error)
	// ReadAll calls fn for each event with Position > from, in global order, until fn returns an error.
	ReadAll(ctx context.Context, from uint64, fn func(RecordedEvent) error) error
	// SubscribeAll catches up from opts.From and then follows new events live.
	SubscribeAll(ctx context.Context, opts SubscribeOptions) (Subscription, error)
	// ChainScope says how the store links events into its hash chain, for Verify.
	ChainScope() ChainScope
	Close() error
}
