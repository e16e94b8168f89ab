package esdb

import (
	"context"
	"os"
	"testing"
	"time"

	"casereview/eventstore"
	"casereview/eventstore/esdb/esdbtest"
	"casereview/eventstore/storetest"
)

// TestConformance runs the shared store suite over gRPC against the in-memory server.
func TestConformance(t *testing.T) {
	srv := esdbtest.Start(t)
	storetest.Run(t, func(t *testing.T) eventstore.Store { return openStore(t, srv) })
	storetest.RunReopen(t, func(t *testing.T, _ string) eventstore.Store { return openStore(t, srv) })
}

// TestConformanceRealServer runs the same suite against a real EventStoreDB or KurrentDB node.
func TestConformanceRealServer(t *testing.T) {
	conn := os.Getenv("CASEREVIEW_TEST_ESDB")
	if conn == "" {
		t.Skip("CASEREVIEW_TEST_ESDB not set: no EventStoreDB server on this machine; set it to an esdb:// connection string to run the suite against a real server")
	}
	open := func(t *testing.T) eventstore.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := Open(ctx, conn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.Run(t, open)
	storetest.RunReopen(t, func(t *testing.T, _ string) eventstore.Store { return open(t) })
}
