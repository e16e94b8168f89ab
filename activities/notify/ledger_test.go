package notify

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestLedgers(t *testing.T) {
	factories := []struct {
		name string
		open func(t *testing.T) Ledger
	}{
		{"memory", func(*testing.T) Ledger { return &MemoryLedger{} }},
		{"sqlite", func(t *testing.T) Ledger {
			l, err := OpenSQLiteLedger(context.Background(), filepath.Join(t.TempDir(), "ledger.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l
		}},
	}
	for _, f := range factories {
		t.Run(f.name, func(t *testing.T) {
			ctx := context.Background()
			l := f.open(t)
			const key, ch = "wf/clock/reminder-1", "email:a@police.example"
			if seen, err := l.Seen(ctx, key, ch); err != nil || seen {
				t.Fatalf("Seen before Mark = %v, %v; want false, nil", seen, err)
			}
			r := Receipt{Key: key, Channel: ChannelEmail, Address: "a@police.example", DeliveredAt: time.Now()}
			if err := l.Mark(ctx, key, ch, r); err != nil {
				t.Fatalf("Mark: %v", err)
			}
			if err := l.Mark(ctx, key, ch, r); err != nil {
				t.Fatalf("second Mark: %v", err)
			}
			if seen, err := l.Seen(ctx, key, ch); err != nil || !seen {
				t.Fatalf("Seen after Mark = %v, %v; want true, nil", seen, err)
			}
			for _, other := range [][2]string{{key, "webhook:https://h.example"}, {"wf/clock/reminder-2", ch}} {
				if seen, err := l.Seen(ctx, other[0], other[1]); err != nil || seen {
					t.Errorf("Seen(%q, %q) = %v, %v; want false, nil", other[0], other[1], seen, err)
				}
			}
		})
	}
}

func TestSQLiteLedgerSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := OpenSQLiteLedger(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 9, 30, 0, 123, time.UTC)
	first := Receipt{Key: "k", Channel: ChannelWebhook, Address: "https://h.example/x", DeliveredAt: at}
	if err := l.Mark(ctx, "k", "webhook:https://h.example/x", first); err != nil {
		t.Fatal(err)
	}
	later := first
	later.DeliveredAt = at.Add(time.Hour)
	if err := l.Mark(ctx, "k", "webhook:https://h.example/x", later); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, err = OpenSQLiteLedger(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if seen, err := l.Seen(ctx, "k", "webhook:https://h.example/x"); err != nil || !seen {
		t.Fatalf("Seen after reopen = %v, %v; want true, nil", seen, err)
	}
	got, ok, err := l.Receipt(ctx, "k", "webhook:https://h.example/x")
	if err != nil || !ok {
		t.Fatalf("Receipt = %v, %v", ok, err)
	}
	if !got.DeliveredAt.Equal(at) || got.Channel != ChannelWebhook || got.Address != first.Address || got.Key != "k" {
		t.Errorf("Receipt = %+v, want the first receipt %+v", got, first)
	}
	if _, ok, err := l.Receipt(ctx, "k", "email:x@y.example"); err != nil || ok {
		t.Errorf("Receipt of an unmarked channel = %v, %v; want false, nil", ok, err)
	}
}

func TestOpenSQLiteLedgerEmptyPath(t *testing.T) {
	if _, err := OpenSQLiteLedger(context.Background(), ""); err == nil {
		t.Fatal("OpenSQLiteLedger(\"\") = nil error")
	}
}
