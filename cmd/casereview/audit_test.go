package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/eventstore/storetest"
)

func writeLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := s.Append(context.Background(), fmt.Sprintf("case-CR-%d", i%3), eventstore.Any(), storetest.Event("StageCompleted", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuditVerifyCommand(t *testing.T) {
	path := writeLog(t, 10)
	code, out, errs := runCLI("audit", "verify", "--events", path)
	if code != 0 || !strings.Contains(out, "verified 10 events") {
		t.Fatalf("verify: exit %d %q %q", code, out, errs)
	}
	head := regexp.MustCompile(`head hash ([0-9a-f]{64})`).FindStringSubmatch(out)
	if head == nil {
		t.Fatalf("no head hash in %q", out)
	}
	if code, _, errs := runCLI("audit", "verify", "--events", path, "--expect-head", "10:"+head[1]); code != 0 {
		t.Fatalf("expected head: exit %d %q", code, errs)
	}
	if code, _, errs := runCLI("audit", "verify", "--events", path, "--expect-head", "10:"+strings.Repeat("0", 64)); code != exitFailure || !strings.Contains(errs, "rewritten") {
		t.Errorf("other head: exit %d %q", code, errs)
	}
	if code, _, errs := runCLI("audit", "verify", "--events", path, "--expect-head", "11:"+head[1]); code != exitFailure || !strings.Contains(errs, "cut short") {
		t.Errorf("later head: exit %d %q", code, errs)
	}
	if code, _, errs := runCLI("audit", "verify", "--events", filepath.Join(t.TempDir(), "typo.db")); code != exitUsage || !strings.Contains(errs, "no event store there") {
		t.Errorf("missing file: exit %d %q", code, errs)
	}

	// One flipped byte in one stored event: verify names its position and fails.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := db.QueryRow(`SELECT data FROM events WHERE position = 4`).Scan(&data); err != nil {
		t.Fatalf("read event 4 (the store's table layout changed?): %v", err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x01 // one bit of one byte in the middle of the event's JSON
	if _, err := db.Exec(`UPDATE events SET data = ? WHERE position = 4`, flipped); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs = runCLI("audit", "verify", "--events", path)
	if code != exitFailure || !strings.Contains(errs, "FAILED at position 4") {
		t.Fatalf("tampered log: exit %d %q", code, errs)
	}
}
