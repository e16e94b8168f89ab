package review

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"casereview/calendar"
)

// filled returns one value of every event type with every field set, so that a round trip
// proves each field survives encoding.
func filled(t testing.TB) []Event {
	t.Helper()
	var out []Event
	for _, typ := range EventTypes() {
		zero, err := DecodeEventVersion(typ, SchemaVersion(typ), []byte("{}"))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		v := reflect.New(reflect.TypeOf(zero)).Elem()
		fill(v, typ)
		out = append(out, v.Interface().(Event))
	}
	return out
}

var (
	timeType = reflect.TypeOf(time.Time{})
	dateType = reflect.TypeOf(calendar.Date{})
)

func fill(v reflect.Value, name string) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Date(2024, 3, 4, 10, 11, 12, 13, time.UTC)))
		return
	case v.Type() == dateType:
		v.Set(reflect.ValueOf(calendar.Date{Year: 2024, Month: time.March, Day: 5}))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("value of " + name)
	case reflect.Int:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), fmt.Sprintf("%s[%d]", name, i))
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), name)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
		}
	default:
		panic(fmt.Sprintf("fill: unhandled kind %s at %s", v.Kind(), name))
	}
}

func TestEncodeDecodeRoundTripsEveryEvent(t *testing.T) {
	events := filled(t)
	if len(events) != len(EventTypes()) {
		t.Fatalf("%d filled events for %d types", len(events), len(EventTypes()))
	}
	for _, e := range events {
		t.Run(e.EventType(), func(t *testing.T) {
			typ, data, err := EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			if typ != e.EventType() {
				t.Fatalf("type %q, want %q", typ, e.EventType())
			}
			if !strings.HasPrefix(string(data), fmt.Sprintf(`{"schemaVersion":%d,`, SchemaVersion(typ))) {
				t.Fatalf("data does not lead with its schema version: %.60s", data)
			}
			got, err := DecodeEvent(typ, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", got, e)
			}
			got, err = DecodeEventVersion(typ, SchemaVersion(typ), data)
			if err != nil || !reflect.DeepEqual(got, e) {
				t.Fatalf("DecodeEventVersion: %v", err)
			}
		})
	}
}

func TestUpcastCaseNotifiedV1(t *testing.T) {
	v1 := []byte(`{"caseId":"c-1","framework":"lcspr/wt2023","awarenessDate":"2022-09-16","incidentDate":"2022-09-15",
		"nature":"death","outline":"outline","child":{"name":"Child A","dateOfBirth":"2015-02-03"}}`)
	want := CaseNotified{CaseID: "c-1", Notification: Notification{
		Framework: "lcspr/wt2023", RulesVersion: "2023.1",
		AwarenessDate: calendar.Date{Year: 2022, Month: 9, Day: 16}, IncidentDate: calendar.Date{Year: 2022, Month: 9, Day: 15},
		Nature: NatureDeath, Outline: "outline",
		Children: []Child{{Name: "Child A", DateOfBirth: calendar.Date{Year: 2015, Month: 2, Day: 3}}},
	}}
	for name, decode := range map[string]func() (Event, error){
		"version in data absent": func() (Event, error) { return DecodeEvent(EventCaseNotified, v1) },
		"version given":          func() (Event, error) { return DecodeEventVersion(EventCaseNotified, 1, v1) },
	} {
		got, err := decode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v\nwant %+v", name, got, want)
		}
	}
	// Without a child, v1 upcasts to an empty list.
	got, err := DecodeEvent(EventCaseNotified, []byte(`{"caseId":"c-2","framework":"scr/wt2015","nature":"serious-harm"}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := got.(CaseNotified); len(n.Children) != 0 || n.RulesVersion != "2015.1" {
		t.Errorf("got %+v", n)
	}
}

func TestDecodeEventErrors(t *testing.T) {
	tests := []struct {
		name, typ string
		version   int
		data      string
		want      string
	}{
		{"unknown type", "Nonsense", 0, `{}`, `unknown event type "Nonsense"`},
		{"future version", EventCaseNotified, 3, `{}`, "schema version 3 is not known"},
		{"future version in data", EventNotificationSent, 0, `{"schemaVersion":9}`, "schema version 9 is not known"},
		{"not JSON", EventCaseClosed, 0, `{"reason":`, "decode CaseClosed"},
		{"wrong field type", EventCaseClosed, 0, `{"reason":7}`, "decode CaseClosed v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.version == 0 {
				_, err = DecodeEvent(tt.typ, []byte(tt.data))
			} else {
				_, err = DecodeEventVersion(tt.typ, tt.version, []byte(tt.data))
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, e := range filled(f) {
		typ, data, err := EncodeEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(typ, data)
	}
	f.Add(EventCaseNotified, []byte(`{"child":{"name":"x"}}`))
	f.Add("Nope", []byte(`null`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := DecodeEvent(typ, data)
		if err != nil {
			return
		}
		// Whatever decodes must encode, and decode again to the same value.
		typ2, data2, err := EncodeEvent(e)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", typ, err)
		}
		e2, err := DecodeEvent(typ2, data2)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", typ, err)
		}
		// Compare encodings, not values: an empty list and a missing one are the same fact.
		_, data3, err := EncodeEvent(e2)
		if err != nil {
			t.Fatal(err)
		}
		if string(data2) != string(data3) {
			t.Fatalf("second round trip changed %s:\n%s\n%s", typ, data2, data3)
		}
	})
}
