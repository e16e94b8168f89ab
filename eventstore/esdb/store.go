// Package esdb implements eventstore.Store on EventStoreDB through its v4 gRPC client.
//
// Mapping onto EventStoreDB:
//
//   - Each eventstore stream is an EventStoreDB stream of the same name; revisions are the same.
//   - Event IDs are the caller's EventData.ID (a UUID), never invented by the client, so a retried
//     append is recognised (by the store's own checks and by the server's) instead of written twice.
//   - RecordedEvent.Position is the event's commit position in $all. For events written by current
//     servers the commit and prepare positions are equal, so the commit position alone names an event;
//     positions are strictly increasing but not contiguous (they are byte offsets in the log).
//   - The hash chain is per stream (eventstore.ChainPerStream): EventStoreDB cannot append to two
//     streams atomically, so no writer can know the previous event in global order. Each event's
//     prevHash, hash and recorded time travel in its metadata under the "$casereview" key, spliced in
//     front of the caller's own metadata, which reads give back byte for byte.
//   - EventStoreDB has no index of event IDs, so the store keeps one: before an event is written its ID
//     is claimed in a stream of its own (see claim.go), which makes a reused ID fail with
//     eventstore.ErrDuplicateEventID as in the embedded store. Each event costs one extra small append.
//   - ReadAll and SubscribeAll skip system events (streams or event types starting with "$") and the
//     claim streams.
package esdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"casereview/eventstore"
)

// Store is an eventstore.Store backed by an EventStoreDB node or cluster.
type Store struct {
	config *esdbclient.Configuration
	opts   options

	ctx    context.Context // cancelled by Close, ending every call and subscription
	cancel context.CancelFunc

	mu       sync.RWMutex
	closed   bool
	inflight sync.WaitGroup
	client   *esdbclient.Client

	locks [64]chan struct{} // per-stream append serialisation within this process, by hash of the name
}

var _ eventstore.Store = (*Store)(nil)

type options struct {
	now          func() time.Time
	logger       esdbclient.LoggingFunc
	backoffMin   time.Duration
	backoffMax   time.Duration
	readPageSize uint64
	claimGrace   time.Duration
}

// Option configures a Store.
type Option func(*options)

// WithClock sets the clock that stamps RecordedEvent.Recorded on append.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithClientLogging passes the EventStoreDB client's own log lines to f; by default they are dropped.
// The client's messages may name streams, never event contents.
func WithClientLogging(f esdbclient.LoggingFunc) Option { return func(o *options) { o.logger = f } }

// WithResubscribeBackoff sets the first and the longest wait before a dropped subscription is resumed.
func WithResubscribeBackoff(first, longest time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = first, longest }
}

// Open connects to EventStoreDB. connectionString is an EventStoreDB connection string such as
// "esdb://localhost:2113?tls=false". Open fails if no node answers before ctx ends or the client's
// discovery gives up.
func Open(ctx context.Context, connectionString string, opts ...Option) (*Store, error) {
	o := options{
		now:          time.Now,
		logger:       esdbclient.NoopLogging(),
		backoffMin:   50 * time.Millisecond,
		backoffMax:   5 * time.Second,
		readPageSize: 512,
		claimGrace:   defaultClaimGrace,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.backoffMin <= 0 || o.backoffMax < o.backoffMin {
		return nil, fmt.Errorf("esdb: resubscribe backoff must satisfy 0 < first <= longest, got %v and %v", o.backoffMin, o.backoffMax)
	}
	// The connection string may hold a password: never echo it back.
	config, err := esdbclient.ParseConnectionString(connectionString)
	if err != nil {
		return nil, fmt.Errorf("esdb: the connection string is not valid (want e.g. esdb://host:2113?tls=false): %w", err)
	}
	config.Logger = o.logger
	client, err := esdbclient.NewClient(config)
	if err != nil {
		return nil, fmt.Errorf("esdb: create client: %w", err)
	}
	// Discovery happens on first use and ignores contexts: run it in the background and wait for it
	// here, so a missing server fails Open rather than the first append.
	discovered := make(chan error, 1)
	go func() {
		_, err := client.GetServerVersion()
		discovered <- err
	}()
	select {
	case err = <-discovered:
	case <-ctx.Done():
		err = ctx.Err()
		go func() { <-discovered; client.Close() }()
		return nil, fmt.Errorf("esdb: connect to %s: %w", config.Address, err)
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("esdb: connect to %s: %w", config.Address, err)
	}
	s := &Store{config: config, opts: o, client: client}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s, nil
}

// ChainScope reports ChainPerStream: see the package comment.
func (s *Store) ChainScope() eventstore.ChainScope { return eventstore.ChainPerStream }

// Close ends every subscription and call in progress, waits for them, and closes the connection.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	// The client panics if an operation reports an error after it is closed, so wait first. A call
	// can outlive its context inside the client (it reports some errors over a channel nobody reads
	// once discovery has given up), so the wait is bounded and such a client is left open.
	drained := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(closeWait):
		return fmt.Errorf("esdb: calls were still running %v after Close; the connection is left open", closeWait)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client.Close()
}

// closeWait bounds how long Close waits for calls in progress to end.
const closeWait = 10 * time.Second

// begin registers an operation and returns the client to use and a context that also ends when
// the store closes. end must be called when the operation no longer uses the client.
func (s *Store) begin(ctx context.Context) (*esdbclient.Client, context.Context, func(), error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, nil, nil, eventstore.ErrClosed
	}
	s.inflight.Add(1)
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return s.client, cctx, func() {
		stop()
		cancel()
		s.inflight.Done()
	}, nil
}

// renewClient replaces a client that gave up for good (its discovery failed, which closes it) so that
// later calls and resubscriptions can reach a server that came back.
func (s *Store) renewClient(dead *esdbclient.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.client != dead {
		return
	}
	c, err := esdbclient.NewClient(s.config)
	if err != nil {
		return
	}
	s.client = c
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// lockStream serialises this process's appends to one stream, so that concurrent appends with Any
// queue here instead of racing on the server and retrying.
func (s *Store) lockStream(ctx context.Context, stream string) (unlock func(), err error) {
	h := uint32(2166136261)
	for i := 0; i < len(stream); i++ {
		h = (h ^ uint32(stream[i])) * 16777619
	}
	ch := s.locks[h%uint32(len(s.locks))]
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// mapError turns a client or gRPC error into the eventstore error it means, keeping the original.
func (s *Store) mapError(client *esdbclient.Client, err error) error {
	if err == nil {
		return nil
	}
	var ee *esdbclient.Error
	if errors.As(err, &ee) {
		switch ee.Code() {
		case esdbclient.ErrorCodeWrongExpectedVersion:
			return fmt.Errorf("%w: %w", eventstore.ErrWrongExpectedRevision, err)
		case esdbclient.ErrorCodeResourceNotFound, esdbclient.ErrorCodeStreamDeleted:
			return fmt.Errorf("%w: %w", eventstore.ErrStreamNotFound, err)
		case esdbclient.ErrorCodeConnectionClosed:
			if s.isClosed() {
				return fmt.Errorf("%w: %w", eventstore.ErrClosed, err)
			}
			s.renewClient(client)
		}
	}
	if s.isClosed() && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled) {
		return fmt.Errorf("%w: %w", eventstore.ErrClosed, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch status.Code(err) {
	case codes.Canceled:
		return fmt.Errorf("%w: %w", context.Canceled, err)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	case codes.InvalidArgument:
		return fmt.Errorf("%w: EventStoreDB refused the request: %w", eventstore.ErrInvalidEvent, err)
	case codes.NotFound:
		return fmt.Errorf("%w: %w", eventstore.ErrStreamNotFound, err)
	}
	return err
}
