// Package connect opens the event store a connection string names: a SQLite file path or an esdb:// URL.
package connect

import (
	"context"
	"fmt"
	"strings"

	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/eventstore/esdb"
)

// Open opens the embedded store at a file path, or connects to EventStoreDB for esdb:// and
// esdb+discover:// connection strings.
func Open(ctx context.Context, conn string) (eventstore.Store, error) {
	switch {
	case conn == "":
		return nil, fmt.Errorf("event store: no connection given; pass a SQLite file path or an esdb:// connection string")
	case strings.HasPrefix(conn, "esdb://"), strings.HasPrefix(conn, "esdb+discover://"):
		s, err := esdb.Open(ctx, conn)
		if err != nil {
			return nil, fmt.Errorf("event store: %w", err)
		}
		return s, nil
	case strings.Contains(conn, "://"):
		return nil, fmt.Errorf("event store: %q is neither a file path nor an esdb:// connection string", redact(conn))
	default:
		s, err := embedded.Open(conn)
		if err != nil {
			return nil, fmt.Errorf("event store: %w", err)
		}
		return s, nil
	}
}

// redact drops credentials from a connection string before it is shown.
func redact(conn string) string {
	scheme, rest, ok := strings.Cut(conn, "://")
	if !ok {
		return conn
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}
