package storetest

import (
	"encoding/json"
	"testing"

	"casereview/eventstore"
)

func TestHelpersMakeValidInput(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !eventstore.IsUUID(id) || seen[id] {
			t.Fatalf("NewID() = %q: not a UUID or repeated", id)
		}
		seen[id] = true
	}
	if err := eventstore.ValidateAppend(UniqueStream("x"), Events("T", 3)); err != nil {
		t.Errorf("Events: %v", err)
	}
	for _, size := range []int{100, eventstore.MaxEventSize - 1024, eventstore.MaxEventSize, eventstore.MaxEventSize + 1} {
		e := sizedEvent(size)
		if got := len(e.Data) + len(e.Metadata); got != size || !json.Valid(e.Data) {
			t.Errorf("sizedEvent(%d) carries %d bytes (valid JSON: %v)", size, got, json.Valid(e.Data))
		}
		err := eventstore.ValidateAppend("s", []eventstore.EventData{e})
		if (err == nil) != (size <= eventstore.MaxEventSize) {
			t.Errorf("sizedEvent(%d): ValidateAppend = %v", size, err)
		}
	}
}
