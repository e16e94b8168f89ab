package eventstore_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/eventstore/storetest"
)

// auditorHash recomputes a line's hash from the exported fields alone, following the layout
// documented on ExportedEvent rather than calling ChainHash.
func auditorHash(t *testing.T, line map[string]any) string {
	t.Helper()
	h := sha256.New()
	u64 := func(v uint64) { h.Write(binary.BigEndian.AppendUint64(nil, v)) }
	field := func(b []byte) { u64(uint64(len(b))); h.Write(b) }
	str := func(k string) []byte { return []byte(line[k].(string)) }
	num := func(k string) uint64 { return uint64(line[k].(float64)) }
	b64 := func(k string) []byte {
		var b []byte
		raw, _ := json.Marshal(line[k])
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return b
	}
	u64(num("chainSeq"))
	field(str("stream"))
	u64(num("revision"))
	field(str("id"))
	field(str("type"))
	field(b64("dataBase64"))
	field(b64("metadataBase64"))
	field(str("recorded"))
	field(str("prevHash"))
	return hex.EncodeToString(h.Sum(nil))
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	s, err := embedded.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Spacing and characters that JSON tools rewrite: only the base64 copy keeps the exact bytes.
	odd := eventstore.EventData{ID: storetest.NewID(), Type: "Odd", Data: json.RawMessage("{ \"a\" : \"<b>&\u00e9\" ,\n \"n\": 1.50 }")}
	if _, err := s.Append(ctx, "case-a", eventstore.NoStream(), storetest.Events("Opened", 3)...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "case-b", eventstore.NoStream(), odd); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "case-a", eventstore.Exact(2), storetest.Events("Updated", 2)...); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		stream  string
		from    uint64
		want    int
		wantPos []float64
	}{
		{"all", "", 0, 6, []float64{1, 2, 3, 4, 5, 6}},
		{"all from position 3", "", 3, 3, []float64{4, 5, 6}},
		{"one stream", "case-a", 0, 5, []float64{1, 2, 3, 5, 6}},
		{"one stream from position 4", "case-a", 4, 2, []float64{5, 6}},
		{"odd stream", "case-b", 0, 1, []float64{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := eventstore.Export(ctx, s, &buf, tt.stream, tt.from)
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if n != tt.want {
				t.Errorf("Export wrote %d events, want %d", n, tt.want)
			}
			sc := bufio.NewScanner(&buf)
			sc.Buffer(nil, 4<<20)
			var lines []map[string]any
			for sc.Scan() {
				var line map[string]any
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("line %d is not a JSON object: %v", len(lines)+1, err)
				}
				lines = append(lines, line)
			}
			if len(lines) != tt.want {
				t.Fatalf("%d lines, want %d", len(lines), tt.want)
			}
			for i, line := range lines {
				if line["position"] != tt.wantPos[i] {
					t.Errorf("line %d at position %v, want %v", i, line["position"], tt.wantPos[i])
				}
				if got := auditorHash(t, line); got != line["hash"] {
					t.Errorf("line %d: recomputed hash %s, exported %s", i, got, line["hash"])
				}
				if tt.stream == "" && tt.from == 0 {
					prev := eventstore.GenesisHash
					if i > 0 {
						prev = lines[i-1]["hash"].(string)
					}
					if line["prevHash"] != prev {
						t.Errorf("line %d: prevHash %v, want the previous line's hash %s", i, line["prevHash"], prev)
					}
				}
				if _, ok := line["data"].(map[string]any); !ok {
					t.Errorf("line %d: data is not a JSON object: %v", i, line["data"])
				}
			}
		})
	}

	if _, err := eventstore.Export(ctx, s, &bytes.Buffer{}, "case-missing", 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("Export of a missing stream: %v, want ErrStreamNotFound", err)
	}
	if _, err := eventstore.Export(ctx, s, failingWriter{}, "", 0); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Export to a failing writer: %v, want the writer's error", err)
	}
}

// TestExportedMatchesChainHash checks the documented layout against ChainHash for both scopes.
func TestExportedMatchesChainHash(t *testing.T) {
	e := eventstore.RecordedEvent{ID: storetest.NewID(), Type: "T", Data: json.RawMessage(`{"x":1}`), Stream: "case-1", Revision: 2, Position: 9}
	for _, scope := range []eventstore.ChainScope{eventstore.ChainGlobal, eventstore.ChainPerStream} {
		seq := e.Position
		if scope == eventstore.ChainPerStream {
			seq = e.Revision
		}
		e.PrevHash = eventstore.GenesisHash
		e.Hash = eventstore.ChainHash(e.PrevHash, seq, e)
		raw, err := json.Marshal(eventstore.Exported(e, scope))
		if err != nil {
			t.Fatal(err)
		}
		var line map[string]any
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatal(err)
		}
		if got := auditorHash(t, line); got != e.Hash {
			t.Errorf("scope %d: recomputed %s, ChainHash %s", scope, got, e.Hash)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
