package esdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// chainKey is the metadata key under which the hash chain travels. The "$" prefix follows
// EventStoreDB's convention for keys that belong to the system rather than to the application.
const chainKey = "$casereview"

// chainPrefix starts the wire metadata of every event this store writes.
var chainPrefix = []byte(`{"` + chainKey + `":`)

// chainLink is what the store adds to each event's metadata on the wire.
type chainLink struct {
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
	Recorded string `json:"recorded"` // RFC 3339, UTC, microseconds: the time the hash seals
	// NoMetadata marks an event whose caller gave no metadata at all, as opposed to "{}".
	NoMetadata bool `json:"noMetadata,omitempty"`
}

// sealMetadata returns the wire metadata: the caller's JSON object with the chain link spliced in as
// its first member, so EventStoreDB tools still see the caller's keys at the top level. The caller's
// bytes after the opening brace are kept as they are, so openMetadata can give them back exactly.
func sealMetadata(link chainLink, metadata []byte) ([]byte, error) {
	link.NoMetadata = len(metadata) == 0
	lj, err := json.Marshal(link)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(chainPrefix)+len(lj)+len(metadata)+2)
	out = append(out, chainPrefix...)
	out = append(out, lj...)
	if link.NoMetadata {
		return append(out, '}'), nil
	}
	if len(metadata) == 0 || metadata[0] != '{' {
		return nil, fmt.Errorf("metadata must be a JSON object starting with '{'")
	}
	rest := metadata[1:]
	if t := bytes.TrimLeft(rest, " \t\r\n"); len(t) == 0 || t[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...), nil
}

// openMetadata splits wire metadata into the chain link and the caller's metadata. ok is false for
// events this store did not write; their metadata is returned unchanged.
func openMetadata(wire []byte) (link chainLink, metadata []byte, ok bool) {
	if !bytes.HasPrefix(wire, chainPrefix) {
		return chainLink{}, wire, false
	}
	dec := json.NewDecoder(bytes.NewReader(wire[len(chainPrefix):]))
	if err := dec.Decode(&link); err != nil {
		return chainLink{}, wire, false
	}
	rest := wire[len(chainPrefix)+int(dec.InputOffset()):]
	if link.NoMetadata {
		return link, nil, true
	}
	if len(rest) > 0 && rest[0] == ',' {
		rest = rest[1:]
	}
	metadata = make([]byte, 0, len(rest)+1)
	metadata = append(metadata, '{')
	return link, append(metadata, rest...), true
}

// recordedTime is the store's clock reading as the chain seals it: UTC, whole microseconds.
func recordedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func formatRecorded(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseRecorded(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
