package embedded

import (
	"path/filepath"
	"testing"

	"casereview/eventstore"
	"casereview/eventstore/storetest"
)

func openTemp(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(dir, "events.db"), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store { return openTemp(t, t.TempDir()) })
}

func TestConformanceSmallBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store { return openTemp(t, t.TempDir(), WithMaxBatch(1)) })
}

func TestConformanceReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T, dir string) eventstore.Store { return openTemp(t, dir) })
}
