package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// GenesisHash is the previous hash of the first event in a chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ChainScope says which events a store links into one hash chain.
type ChainScope int

const (
	// ChainGlobal links every event to the previous event in global order (the embedded store).
	ChainGlobal ChainScope = iota
	// ChainPerStream links every event to the previous event of its own stream. EventStoreDB cannot
	// append to two streams atomically, so a global chain there would fork under concurrent writers;
	// per stream, the expected-revision check keeps each chain linear.
	ChainPerStream
)

// ChainHash returns the hex SHA-256 that seals e to prev. seq is the event's place in its chain:
// its global Position for ChainGlobal, its stream Revision for ChainPerStream. Every field is
// length-prefixed so that no two different events can encode to the same bytes.
func ChainHash(prev string, seq uint64, e RecordedEvent) string {
	h := sha256.New()
	var n [8]byte
	writeU64 := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	writeBytes := func(b []byte) {
		writeU64(uint64(len(b)))
		h.Write(b)
	}
	writeU64(seq)
	writeBytes([]byte(e.Stream))
	writeU64(e.Revision)
	writeBytes([]byte(e.ID))
	writeBytes([]byte(e.Type))
	writeBytes(e.Data)
	writeBytes(e.Metadata)
	writeBytes([]byte(e.Recorded.UTC().Format(time.RFC3339Nano)))
	writeBytes([]byte(prev))
	return hex.EncodeToString(h.Sum(nil))
}

// ChainError names the first position at which a chain fails to verify. It matches ErrChainBroken.
type ChainError struct {
	Position uint64
	Stream   string
	Revision uint64
	Reason   string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("hash chain broken at position %d (stream %q revision %d): %s", e.Position, e.Stream, e.Revision, e.Reason)
}

func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// VerifyResult summarises a verified log.
type VerifyResult struct {
	Events       uint64
	HeadPosition uint64
	HeadHash     string // hash of the last event in global order
}

// Verify reads the whole log in global order and checks every event's hash and link.
// Memory is bounded: one hash for ChainGlobal, one per stream for ChainPerStream.
func Verify(ctx context.Context, s Store, scope ChainScope) (VerifyResult, error) {
	var res VerifyResult
	prevGlobal := GenesisHash
	var prevByStream map[string]string
	if scope == ChainPerStream {
		prevByStream = make(map[string]string)
	}
	err := s.ReadAll(ctx, 0, func(e RecordedEvent) error {
		prev, seq := prevGlobal, e.Position
		if scope == ChainPerStream {
			seq = e.Revision
			prev = GenesisHash
			if p, ok := prevByStream[e.Stream]; ok {
				prev = p
			}
		}
		fail := func(reason string) error {
			return &ChainError{Position: e.Position, Stream: e.Stream, Revision: e.Revision, Reason: reason}
		}
		if e.PrevHash != prev {
			return fail(fmt.Sprintf("previous hash is %s, want %s", e.PrevHash, prev))
		}
		if got := ChainHash(prev, seq, e); got != e.Hash {
			return fail(fmt.Sprintf("stored hash %s does not match contents (computed %s)", e.Hash, got))
		}
		if scope == ChainPerStream {
			prevByStream[e.Stream] = e.Hash
		}
		prevGlobal = e.Hash
		res.Events++
		res.HeadPosition = e.Position
		res.HeadHash = e.Hash
		return nil
	})
	return res, err
}
