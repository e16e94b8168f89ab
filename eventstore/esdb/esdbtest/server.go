// Package esdbtest runs an in-memory EventStoreDB gRPC server so that code using the EventStoreDB
// client can be tested over a real gRPC connection without an EventStoreDB installation.
//
// The server implements the parts of the Streams service that the v4 Go client uses for appends,
// reads and catch-up subscriptions, with EventStoreDB's rules for expected revisions, idempotent
// appends, $all positions and the system metadata the client decodes, plus the server-features and
// gossip calls the client makes at connect time. Persistent subscriptions, projections, deletes and
// BatchAppend are not implemented and answer Unimplemented.
package esdbtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
)

// DefaultMaxAppendSize is EventStoreDB's default limit on the data plus metadata of one append, in bytes.
const DefaultMaxAppendSize = 1 << 20

// ServerVersion is the EventStoreDB version the server reports to clients.
const ServerVersion = "24.10.0"

// firstPosition is where the first event lands in $all. A real log starts with epoch and system
// records, so no user event ever sits at position 0; keeping that true here catches code that
// treats 0 as a real position.
const firstPosition = 1024

// recordOverhead approximates the bytes a prepare record adds around its payload, so that positions
// grow with event size as they do in a real transaction file.
const recordOverhead = 96

// ticks converts Unix nanoseconds to what EventStoreDB stores in "created": .NET ticks
// (100 ns) since the Unix epoch, which is what the Go client expects.
func ticks(t time.Time) int64 { return t.UnixNano() / 100 }

// record is one stored event.
type record struct {
	id             uuid.UUID
	stream         string
	revision       uint64
	position       uint64
	created        int64
	eventType      string
	contentType    string
	data           []byte
	customMetadata []byte
}

func (r *record) size() uint64 {
	return uint64(recordOverhead + len(r.stream) + len(r.eventType) + len(r.data) + len(r.customMetadata))
}

// Server is an in-memory EventStoreDB node serving gRPC on a loopback port.
type Server struct {
	streams.UnimplementedStreamsServer
	serverfeatures.UnimplementedServerFeaturesServer

	maxAppendSize int
	now           func() time.Time
	instanceID    uuid.UUID

	mu       sync.Mutex
	grpc     *grpc.Server
	lis      net.Listener
	done     chan struct{}        // closed when the current gRPC server stops serving
	log      []*record            // every event in $all order
	byStream map[string][]*record // each stream's events in revision order
	byID     map[uuid.UUID]*record
	nextPos  uint64
	appended chan struct{} // closed and replaced after every append, to wake subscriptions
	drops    map[chan struct{}]struct{}
	closed   bool
}

// Option configures a Server.
type Option func(*Server)

// WithMaxAppendSize sets the largest data plus metadata, in bytes, one append may carry.
func WithMaxAppendSize(n int) Option { return func(s *Server) { s.maxAppendSize = n } }

// WithClock sets the clock used for the "created" time of new events.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// NewServer starts a server on 127.0.0.1 at a free port. Close stops it.
func NewServer(opts ...Option) (*Server, error) {
	s := &Server{
		maxAppendSize: DefaultMaxAppendSize,
		now:           time.Now,
		instanceID:    uuid.New(),
		byStream:      make(map[string][]*record),
		byID:          make(map[uuid.UUID]*record),
		nextPos:       firstPosition,
		appended:      make(chan struct{}),
		drops:         make(map[chan struct{}]struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.serve("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return s, nil
}

// serve listens on addr and serves gRPC until the server is stopped.
func (s *Server) serve(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("esdbtest: listen on %s: %w", addr, err)
	}
	g := grpc.NewServer()
	streams.RegisterStreamsServer(g, s)
	serverfeatures.RegisterServerFeaturesServer(g, s)
	gossip.RegisterGossipServer(g, &gossipService{srv: s, id: s.instanceID})
	done := make(chan struct{})
	s.mu.Lock()
	s.lis, s.grpc, s.done = lis, g, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = g.Serve(lis)
	}()
	return nil
}

// Restart simulates a node restart: it ends every call and connection, refuses connections for
// down, then serves the same events again on the same address.
func (s *Server) Restart(down time.Duration) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("esdbtest: restart of a closed server")
	}
	addr, g, done := s.lis.Addr().String(), s.grpc, s.done
	s.mu.Unlock()
	s.DropSubscriptions()
	g.Stop()
	<-done
	time.Sleep(down)
	return s.serve(addr)
}

// Start starts a server for the length of a test and returns it; the test's cleanup stops it.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lis.Addr().String()
}

// ConnectionString returns an esdb:// connection string for a single insecure node.
func (s *Server) ConnectionString() string {
	return "esdb://" + s.Addr() + "?tls=false"
}

// DiscoverConnectionString returns an esdb+discover:// connection string, which makes the client
// ask the node's gossip service for the cluster's leader before connecting.
func (s *Server) DiscoverConnectionString() string {
	return "esdb+discover://" + s.Addr() + "?tls=false"
}

// Close stops the server, ending every open call.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	g, done := s.grpc, s.done
	s.mu.Unlock()
	s.DropSubscriptions()
	g.Stop()
	<-done
}

// DropSubscriptions ends every open subscription with an Unavailable error, as a server restart or
// a "consumer too slow" drop would, and reports how many it ended. The connection stays up.
func (s *Server) DropSubscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.drops)
	for ch := range s.drops {
		close(ch)
		delete(s.drops, ch)
	}
	return n
}

// Subscriptions reports how many subscriptions are open.
func (s *Server) Subscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.drops)
}

// ErrNoSuchEvent is returned by the tampering hooks when the event does not exist.
var ErrNoSuchEvent = errors.New("esdbtest: no such event")

// ReplaceEventData overwrites the stored data of one event in place, to simulate tampering with the
// database files; a real server offers no such operation.
func (s *Server) ReplaceEventData(stream string, revision uint64, data []byte) error {
	return s.mutate(stream, revision, func(r *record) { r.data = append([]byte(nil), data...) })
}

// ReplaceEventMetadata overwrites the stored user metadata of one event in place.
func (s *Server) ReplaceEventMetadata(stream string, revision uint64, metadata []byte) error {
	return s.mutate(stream, revision, func(r *record) { r.customMetadata = append([]byte(nil), metadata...) })
}

func (s *Server) mutate(stream string, revision uint64, f func(*record)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	events := s.byStream[stream]
	if revision >= uint64(len(events)) {
		return fmt.Errorf("%w: stream %q revision %d", ErrNoSuchEvent, stream, revision)
	}
	f(events[revision])
	return nil
}

// Len reports how many events the server holds, system events included.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// GetSupportedMethods answers the client's feature probe at connect time.
func (s *Server) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const svc = "event_store.client.streams.streams"
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: ServerVersion,
		Methods: []*serverfeatures.SupportedMethod{
			{ServiceName: svc, MethodName: "read"},
			{ServiceName: svc, MethodName: "append"},
		},
	}, nil
}

// currentRevision returns the stream's last revision, or -1 when it has no events. Callers hold s.mu.
func (s *Server) currentRevision(stream string) int64 {
	return int64(len(s.byStream[stream])) - 1
}

// subscribe registers a subscription and returns the channel closed when it must drop.
func (s *Server) subscribe() (chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	ch := make(chan struct{})
	s.drops[ch] = struct{}{}
	return ch, true
}

func (s *Server) unsubscribe(ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.drops, ch)
}
