package projections

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"casereview/eventstore"
)

// benchCases is how many whole LCSPRs the benchmark log holds.
const benchCases = 30

// benchLog fills a store with whole scripted cases and returns it with its last position.
func benchLog(b *testing.B) (eventstore.Store, uint64) {
	b.Helper()
	store := openStore(b, b.TempDir())
	var last uint64
	for i := range benchCases {
		last = newScriptedCase(b, fmt.Sprintf("CR-%04d", i)).until(b, store, "")
	}
	return store, last
}

// readAllRate reads the whole log once and returns events per second.
func readAllRate(b *testing.B, store eventstore.Store) float64 {
	b.Helper()
	start := time.Now()
	n := 0
	if err := store.ReadAll(context.Background(), 0, func(eventstore.RecordedEvent) error {
		n++
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkCatchUp measures a fresh set of read models catching up with a log of whole cases
// through Run (one transaction per event, every model), against reading the same log with
// ReadAll in the same run, and a Rebuild of every model (batched transactions) of the same log.
func BenchmarkCatchUp(b *testing.B) {
	store, last := benchLog(b)
	ctx := context.Background()
	var catchUp, readAll, rebuild time.Duration
	for i := range b.N {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), fmt.Sprintf("read-%d.db", i))
		d, err := OpenWith(path, Options{ContiguousPositions: true})
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()

		start := time.Now()
		go func() { done <- d.Run(runCtx, store, zerolog.Nop()) }()
		caughtUp(b, d, last)
		catchUp += time.Since(start)

		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := d.rebuild(ctx, store, ModelNames()); err != nil {
			b.Fatal(err)
		}
		rebuild += time.Since(start)
		d.Close()
		start = time.Now()
		readAllRate(b, store)
		readAll += time.Since(start)
		b.StartTimer()
	}
	events := float64(last) * float64(b.N)
	projected := events / catchUp.Seconds()
	read := events / readAll.Seconds()
	b.ReportMetric(float64(last), "events")
	b.ReportMetric(projected, "catchup-events/s")
	b.ReportMetric(events/rebuild.Seconds(), "rebuild-events/s")
	b.ReportMetric(read, "readall-events/s")
	b.ReportMetric(projected/read, "catchup/readall")
}
