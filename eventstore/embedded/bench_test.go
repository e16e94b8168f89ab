package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casereview/eventstore"
	"casereview/eventstore/storetest"
)

// benchEvent is a typical event: a couple of hundred bytes of data and the usual metadata.
func benchEvent(i int) eventstore.EventData {
	return eventstore.EventData{
		ID:       storetest.NewID(),
		Type:     "AgencyResponseRecorded",
		Data:     json.RawMessage(fmt.Sprintf(`{"caseId":"c-%08d","agency":"health","requestId":"r-%d","summary":"response received within the statutory period; documents attached to the review","pages":%d}`, i%5000, i, i%40)),
		Metadata: json.RawMessage(`{"actor":"worker","role":"system","correlationId":"7a1c2d3e-4f50-4a6b-9c7d-8e9f0a1b2c3d","schemaVersion":1}`),
	}
}

func benchStore(b *testing.B, opts ...Option) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "events.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func reportEventsPerSecond(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendSerial is one durable append of one event at a time: a transaction and an fsync each.
func BenchmarkAppendSerial(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	events := make([]eventstore.EventData, b.N)
	for i := range events {
		events[i] = benchEvent(i)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Append(ctx, "case-"+strconv.Itoa(i%100), eventstore.Any(), events[i]); err != nil {
			b.Fatal(err)
		}
	}
	reportEventsPerSecond(b, b.N)
}

// BenchmarkRawInsertSerial is the baseline for BenchmarkAppendSerial: the same row inserted by one
// autocommit INSERT on a fresh file with WAL and synchronous=FULL, with no checks and no hashing.
func BenchmarkRawInsertSerial(b *testing.B) {
	db := rawDB(b, filepath.Join(b.TempDir(), "raw.db"))
	ins, err := db.Prepare(insertEvent)
	if err != nil {
		b.Fatal(err)
	}
	defer ins.Close()
	events := make([]eventstore.EventData, b.N)
	for i := range events {
		events[i] = benchEvent(i)
	}
	hash := eventstore.GenesisHash
	recorded := time.Now().UTC().Format(time.RFC3339Nano)
	b.ResetTimer()
	for i, e := range events {
		if _, err := ins.Exec(i+1, "case-"+strconv.Itoa(i%100), i/100, e.ID, e.Type, []byte(e.Data), []byte(e.Metadata), recorded, hash, hash); err != nil {
			b.Fatal(err)
		}
	}
	reportEventsPerSecond(b, b.N)
}

func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		tb.Fatal(err)
	}
	return db
}

// BenchmarkAppendConcurrent64 has 64 goroutines appending one event each at a time; group commit
// lets them share transactions and fsyncs.
func BenchmarkAppendConcurrent64(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			if _, err := s.Append(ctx, "case-"+strconv.Itoa(i%100), eventstore.Any(), benchEvent(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportEventsPerSecond(b, b.N)
}

// fixtures holds one bulk-written store per size, shared by the read benchmarks.
var fixtures struct {
	sync.Mutex
	dir   string
	paths map[int]string
}

// fixture returns the path of a closed store holding n events, writing it on first use.
func fixture(b *testing.B, n int) string {
	b.Helper()
	fixtures.Lock()
	defer fixtures.Unlock()
	if p, ok := fixtures.paths[n]; ok {
		return p
	}
	if fixtures.dir == "" {
		dir, err := os.MkdirTemp("", "embedded-bench-")
		if err != nil {
			b.Fatal(err)
		}
		fixtures.dir = dir
		fixtures.paths = map[int]string{}
	}
	path := filepath.Join(fixtures.dir, fmt.Sprintf("events-%d.db", n))
	start := time.Now()
	if err := bulkWrite(path, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("bulk-wrote %d events in %v", n, time.Since(start))
	fixtures.paths[n] = path
	return path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// bulkWrite fills a new store with n chained events, 10,000 rows per transaction, bypassing the
// writer so that the read benchmarks can have a large log without minutes of set-up.
func bulkWrite(path string, n int) error {
	s, err := Open(path)
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	prev := eventstore.GenesisHash
	recorded := time.Now().UTC().Truncate(time.Microsecond)
	revs := map[string]uint64{}
	for start := 0; start < n; start += 10000 {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		ins, err := tx.Prepare(insertEvent)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := start; i < min(start+10000, n); i++ {
			d := benchEvent(i)
			stream := "case-" + strconv.Itoa(i%5000)
			e := eventstore.RecordedEvent{ID: d.ID, Type: d.Type, Data: d.Data, Metadata: d.Metadata,
				Stream: stream, Revision: revs[stream], Position: uint64(i + 1), Recorded: recorded, PrevHash: prev}
			revs[stream]++
			e.Hash = eventstore.ChainHash(prev, e.Position, e)
			if _, err := ins.Exec(int64(e.Position), e.Stream, int64(e.Revision), e.ID, e.Type, []byte(e.Data), []byte(e.Metadata),
				recorded.Format(time.RFC3339Nano), e.PrevHash, e.Hash); err != nil {
				tx.Rollback()
				return err
			}
			prev = e.Hash
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err = db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

const readFixtureSize = 100_000

func openFixture(b *testing.B, n int) *Store {
	b.Helper()
	s, err := Open(fixture(b, n))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkReadAll reads the whole 100,000-event log through ReadAll, per op.
func BenchmarkReadAll(b *testing.B) {
	s := openFixture(b, readFixtureSize)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := s.ReadAll(ctx, 0, func(eventstore.RecordedEvent) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != readFixtureSize {
			b.Fatalf("read %d events, want %d", n, readFixtureSize)
		}
	}
	reportEventsPerSecond(b, b.N*readFixtureSize)
}

// BenchmarkVerify checks the chain of the whole 100,000-event log, per op.
func BenchmarkVerify(b *testing.B) {
	s := openFixture(b, readFixtureSize)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		res, err := eventstore.Verify(ctx, s, s.ChainScope())
		if err != nil {
			b.Fatal(err)
		}
		if res.Events != readFixtureSize {
			b.Fatalf("verified %d events, want %d", res.Events, readFixtureSize)
		}
	}
	reportEventsPerSecond(b, b.N*readFixtureSize)
}

// BenchmarkRawScan is the baseline for ReadAll and Verify: one SELECT over the same table,
// scanning every column into Go values, with no paging, time parsing or hashing.
func BenchmarkRawScan(b *testing.B) {
	path := fixture(b, readFixtureSize)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	for range b.N {
		rows, err := db.Query(`SELECT ` + columns + ` FROM events ORDER BY position`)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var pos, rev int64
			var stream, id, typ, recorded, prev, hash string
			var data, meta []byte
			if err := rows.Scan(&pos, &stream, &rev, &id, &typ, &data, &meta, &recorded, &prev, &hash); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		if n != readFixtureSize {
			b.Fatalf("scanned %d rows, want %d", n, readFixtureSize)
		}
	}
	reportEventsPerSecond(b, b.N*readFixtureSize)
}

// BenchmarkVerifyPeakMemory verifies a large log while sampling the heap, and reports the highest
// HeapInuse seen. It uses 1,000,000 events when CASEREVIEW_BENCH_1M=1 (writing them takes about a
// minute) and 100,000 otherwise; bounded memory means the figure should not grow with the log.
func BenchmarkVerifyPeakMemory(b *testing.B) {
	n := readFixtureSize
	if os.Getenv("CASEREVIEW_BENCH_1M") == "1" {
		n = 1_000_000
	}
	s := openFixture(b, n)
	ctx := context.Background()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	b.ResetTimer()
	for range b.N {
		res, err := eventstore.Verify(ctx, s, s.ChainScope())
		if err != nil {
			b.Fatal(err)
		}
		if res.Events != uint64(n) {
			b.Fatalf("verified %d events, want %d", res.Events, n)
		}
	}
	b.StopTimer()
	close(stop)
	<-sampled
	reportEventsPerSecond(b, b.N*n)
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-inuse-MiB")
	b.ReportMetric(float64(before.HeapInuse)/(1<<20), "heap-inuse-before-MiB")
}
