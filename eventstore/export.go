package eventstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ExportedEvent is one line of an export. Every field that the hash covers is present, so an
// auditor can recompute the chain with their own tools, without this code:
//
//	hash = lowercase hex of SHA-256 over, in this order,
//	    u64(chainSeq)
//	    u64(len(stream))   stream
//	    u64(revision)
//	    u64(len(id))       id
//	    u64(len(type))     type
//	    u64(len(data))     data        (the bytes of base64-decoded dataBase64)
//	    u64(len(metadata)) metadata    (the bytes of base64-decoded metadataBase64, possibly none)
//	    u64(len(recorded)) recorded    (the "recorded" string exactly as exported)
//	    u64(len(prevHash)) prevHash    (the 64 hex characters as text)
//	where u64(n) is n as 8 bytes, big-endian, every length counts bytes, and strings are UTF-8.
//
// chainSeq is the position for chain "global" and the revision for chain "stream". prevHash must
// equal the hash of the previous event in the chain (the previous line for "global", the previous
// line of the same stream for "stream"), or 64 zeros for the first event. This is ChainHash.
//
// data and metadata are repeated as JSON for reading; the hash covers the exact stored bytes,
// which JSON tools may re-space or re-escape, hence the base64 copies.
type ExportedEvent struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	Stream         string          `json:"stream"`
	Revision       uint64          `json:"revision"`
	Position       uint64          `json:"position"`
	Recorded       string          `json:"recorded"`
	Data           json.RawMessage `json:"data"`
	Metadata       json.RawMessage `json:"metadata"`
	DataBase64     []byte          `json:"dataBase64"`
	MetadataBase64 []byte          `json:"metadataBase64"`
	Chain          string          `json:"chain"`
	ChainSeq       uint64          `json:"chainSeq"`
	PrevHash       string          `json:"prevHash"`
	Hash           string          `json:"hash"`
}

// Exported converts a recorded event into its export line for a store with the given scope.
func Exported(e RecordedEvent, scope ChainScope) ExportedEvent {
	x := ExportedEvent{
		ID:             e.ID,
		Type:           e.Type,
		Stream:         e.Stream,
		Revision:       e.Revision,
		Position:       e.Position,
		Recorded:       e.Recorded.UTC().Format(time.RFC3339Nano),
		Data:           e.Data,
		Metadata:       e.Metadata,
		DataBase64:     e.Data,
		MetadataBase64: e.Metadata,
		Chain:          "global",
		ChainSeq:       e.Position,
		PrevHash:       e.PrevHash,
		Hash:           e.Hash,
	}
	if scope == ChainPerStream {
		x.Chain, x.ChainSeq = "stream", e.Revision
	}
	if len(x.Data) == 0 || !json.Valid(x.Data) {
		x.Data = json.RawMessage("null")
	}
	if len(x.Metadata) == 0 || !json.Valid(x.Metadata) {
		x.Metadata = json.RawMessage("null")
	}
	if x.MetadataBase64 == nil {
		x.MetadataBase64 = []byte{}
	}
	return x
}

// exportPage is how many events of one stream are read at a time, to bound memory.
const exportPage = 512

// Export writes, as JSON Lines, every event with Position > from: of one stream, or of the whole
// log in global order when stream is "". It returns the number of events written.
func Export(ctx context.Context, s Store, w io.Writer, stream string, from uint64) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	scope := s.ChainScope()
	n := 0
	write := func(e RecordedEvent) error {
		if e.Position <= from {
			return nil
		}
		if err := enc.Encode(Exported(e, scope)); err != nil {
			return fmt.Errorf("export: write event at position %d: %w", e.Position, err)
		}
		n++
		return nil
	}
	var err error
	if stream == "" {
		err = s.ReadAll(ctx, from, write)
	} else {
		err = exportStream(ctx, s, stream, write)
	}
	if err != nil {
		return n, err
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	return n, nil
}

func exportStream(ctx context.Context, s Store, stream string, write func(RecordedEvent) error) error {
	for rev := uint64(0); ; {
		page, err := s.ReadStream(ctx, stream, Forwards, rev, exportPage)
		if err != nil {
			if errors.Is(err, ErrStreamNotFound) {
				return fmt.Errorf("export %s: %w", stream, err)
			}
			return fmt.Errorf("export %s from revision %d: %w", stream, rev, err)
		}
		for _, e := range page {
			if err := write(e); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		rev = page[len(page)-1].Revision + 1
	}
}
