// Package review is the domain of a multi-agency case review: rule sets, events, commands and the case aggregate.
package review

import (
	"encoding/json"
	"fmt"

	"casereview/calendar"
)

// Event is a domain fact recorded in a case's stream.
type Event interface {
	EventType() string
}

// Nature is what happened to the child.
type Nature string

const (
	NatureDeath       Nature = "death"
	NatureSeriousHarm Nature = "serious-harm"
	NatureOther       Nature = "other"
)

// Notification is a serious incident notification, the first fact of every case.
type Notification struct {
	Framework     string        `json:"framework"`
	AwarenessDate calendar.Date `json:"awarenessDate"`
	IncidentDate  calendar.Date `json:"incidentDate"`
	Nature        Nature        `json:"nature"`
	Outline       string        `json:"outline"`
}

// CaseNotified records a serious incident notification and opens the case.
type CaseNotified struct {
	CaseID string `json:"caseId"`
	Notification
}

// EventCaseNotified is the stable type name of CaseNotified.
const EventCaseNotified = "CaseNotified"

func (CaseNotified) EventType() string { return EventCaseNotified }

// EncodeEvent returns an event's type name and JSON data.
func EncodeEvent(e Event) (string, []byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return e.EventType(), b, nil
}

// DecodeEvent decodes JSON data of the named type into its event.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	switch eventType {
	case EventCaseNotified:
		var e CaseNotified
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("decode %s: %w", eventType, err)
		}
		return e, nil
	}
	return nil, fmt.Errorf("decode: unknown event type %q", eventType)
}
