package connect

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/eventstore/esdb"
	"casereview/eventstore/esdb/esdbtest"
)

func TestOpenChoosesTheBackend(t *testing.T) {
	ctx := context.Background()
	srv := esdbtest.Start(t)
	tests := []struct {
		name, conn string
		check      func(eventstore.Store) bool
		errHas     string
	}{
		{"file path", filepath.Join(t.TempDir(), "events.db"), func(s eventstore.Store) bool { _, ok := s.(*embedded.Store); return ok }, ""},
		{"esdb url", srv.ConnectionString(), func(s eventstore.Store) bool { _, ok := s.(*esdb.Store); return ok }, ""},
		{"empty", "", nil, "no connection given"},
		{"other scheme", "postgres://user:secret@db/events", nil, "neither a file path nor an esdb://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.conn)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one saying %q", err, tc.errHas)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !tc.check(s) {
				t.Fatalf("opened %T", s)
			}
		})
	}
}
