package review

import (
	"errors"
	"testing"
)

func TestDecodeCommand(t *testing.T) {
	actor := Actor{UserID: "u1", Role: RoleBusinessUnit}
	tests := []struct {
		name, payload string
		field         string // set when decoding must fail on that field
	}{
		{"RecordDecision", `{"outcome":"lcspr","rationale":"criteria met"}`, ""},
		{"SignOffRapidReview", ``, ""},
		{"RecordDecision", `{"outcome":"lcspr","colour":"red"}`, "colour"},
		{"RecordDecision", `{"outcome":7}`, "outcome"},
		{"Teleport", `{}`, "command"},
	}
	for _, tc := range tests {
		t.Run(tc.name+tc.payload, func(t *testing.T) {
			cmd, err := DecodeCommand(tc.name, actor, []byte(tc.payload))
			if tc.field != "" {
				var re *RuleError
				if !errors.As(err, &re) || re.Field != tc.field || !errors.Is(err, ErrInvalidCommand) {
					t.Fatalf("err = %v, want an invalid-command error on %q", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cmd.CommandName() != tc.name || cmd.actor() != actor {
				t.Fatalf("decoded %#v", cmd)
			}
		})
	}
	cmd, err := DecodeCommand("RecordDecision", actor, []byte(`{"outcome":"lcspr","rationale":"r"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmd.(RecordDecision); d.Outcome != "lcspr" || d.Rationale != "r" {
		t.Fatalf("fields lost: %#v", d)
	}
}
