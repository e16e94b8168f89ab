package server

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"casereview/auth"
	"casereview/calendar"
	"casereview/projections"
	"casereview/review"
)

func TestParseEventDate(t *testing.T) {
	tests := []struct {
		in      string
		want    review.EventDate
		wantErr bool
	}{
		{in: "2021-05-14", want: review.OnDay(calendar.Date{Year: 2021, Month: time.May, Day: 14})},
		{in: "2021-05", want: review.InMonth(2021, time.May)},
		{in: "~2021-06", want: review.Around(2021, time.June)},
		{in: "~2021", want: review.Around(2021, 0)},
		{in: "2021", wantErr: true},
		{in: "2021-13-02", wantErr: true},
		{in: "2021-02-30", wantErr: true},
		{in: "14/05/2021", wantErr: true},
		{in: "~2021-05-14", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseEventDate(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseEventDate(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("parseEventDate(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseChronologyCSV(t *testing.T) {
	const header = "entry_id,date,source_ref,description,child_seen,child_views_sought,significance\n"
	tests := []struct {
		name       string
		csv        string
		wantN      int
		wantRows   []int    // rows with errors
		wantCols   []string // their columns
		wantFileEr bool
	}{
		{name: "good", csv: header + "PN-1,2021-05-14,POL-7,\"Call-out, no arrest\",yes,no,key\nPN-2,~2021-06,,Welfare check,no,yes,background\n", wantN: 2},
		{name: "bad date", csv: header + "PN-1,2021-05-14,,a,yes,no,key\nPN-2,2021-13-02,,b,no,no,key\n", wantRows: []int{3}, wantCols: []string{"date"}},
		{name: "every problem of a row", csv: header + ",,,,maybe,no,urgent\n", wantRows: []int{2, 2, 2, 2, 2}, wantCols: []string{"entry_id", "date", "description", "child_seen", "significance"}},
		{name: "duplicate id", csv: header + "PN-1,2021-05,,a,no,no,key\nPN-1,2021-06,,b,no,no,key\n", wantRows: []int{3}, wantCols: []string{"entry_id"}},
		{name: "short row", csv: header + "PN-1,2021-05,a\n", wantRows: []int{2}, wantCols: []string{""}},
		{name: "wrong header", csv: "id,date\n", wantFileEr: true},
		{name: "empty", csv: "", wantFileEr: true},
		{name: "header only", csv: header, wantFileEr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, rowErrs, err := parseChronologyCSV("police-north", strings.NewReader(tt.csv))
			if tt.wantFileEr {
				if !errors.Is(err, ErrBadChronologyCSV) {
					t.Fatalf("error %v, want ErrBadChronologyCSV", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rows []int
			var cols []string
			for _, re := range rowErrs {
				rows, cols = append(rows, re.Row), append(cols, re.Column)
			}
			if !slices.Equal(rows, tt.wantRows) || !slices.Equal(cols, tt.wantCols) {
				t.Errorf("row errors %v, want rows %v columns %v", rowErrs, tt.wantRows, tt.wantCols)
			}
			if len(rowErrs) > 0 && entries != nil {
				t.Errorf("entries returned despite errors: %+v", entries)
			}
			if len(entries) != tt.wantN {
				t.Fatalf("%d entries, want %d", len(entries), tt.wantN)
			}
			for _, e := range entries {
				if e.Agency != "police-north" {
					t.Errorf("entry %s agency %q", e.EntryID, e.Agency)
				}
			}
			if tt.wantN == 2 && (entries[0].Description != "Call-out, no arrest" || !entries[0].ChildSeen || !entries[1].ChildViewsSought) {
				t.Errorf("entries %+v", entries)
			}
		})
	}
}

func TestBoardQuery(t *testing.T) {
	due := func(s string) *projections.Deadline {
		d, _ := calendar.ParseDate(s)
		return &projections.Deadline{Due: d}
	}
	rows := []projections.BoardRow{
		{CaseID: "CR-B", Stage: "evidence", RAG: projections.RAGGreen, NextDeadline: due("2026-03-01")},
		{CaseID: "CR-A", Stage: "rapid-review", RAG: projections.RAGRed, NextDeadline: due("2026-01-01")},
		{CaseID: "CR-C", Stage: "evidence"},
	}
	ids := func(rs []projections.BoardRow) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.CaseID)
		}
		return out
	}
	tests := []struct {
		q    boardQuery
		want []string
	}{
		{boardQuery{}, []string{"CR-B", "CR-A", "CR-C"}},
		{boardQuery{Stage: "evidence"}, []string{"CR-B", "CR-C"}},
		{boardQuery{RAG: "red"}, []string{"CR-A"}},
		{boardQuery{RAG: "none"}, []string{"CR-C"}},
		{boardQuery{Sort: "deadline"}, []string{"CR-A", "CR-B", "CR-C"}},
		{boardQuery{Sort: "rag"}, []string{"CR-A", "CR-B", "CR-C"}},
		{boardQuery{Sort: "case"}, []string{"CR-A", "CR-B", "CR-C"}},
	}
	for _, tt := range tests {
		if got := ids(tt.q.apply(rows)); !slices.Equal(got, tt.want) {
			t.Errorf("%+v: %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestCommandFormRead(t *testing.T) {
	f, ok := newCommandForm("CR-1", "RecordChronologyEntry", authUserForTest())
	if !ok {
		t.Fatal("no form for RecordChronologyEntry")
	}
	form := url.Values{"entry.entryId": {"PN-1"}, "entry.date": {"2021-05"}, "entry.description": {"visit"},
		"entry.significance": {"key"}, "entry.agency": {"police-north"}, "entry.childSeen": {"yes"}}
	r := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	payload := f.read(r)
	cmd, err := review.DecodeCommand("RecordChronologyEntry", review.Actor{UserID: "u", Role: review.RoleAgencyLead, Agency: "police-north"}, payload)
	if err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	e := cmd.(review.RecordChronologyEntry).Entry
	if e.EntryID != "PN-1" || e.Date != review.InMonth(2021, time.May) || !e.ChildSeen || e.Agency != "police-north" {
		t.Errorf("entry %+v", e)
	}

	bad := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{"entry.date": {"May 2021"}}.Encode()))
	bad.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	f2, _ := newCommandForm("CR-1", "RecordChronologyEntry", authUserForTest())
	f2.read(bad)
	i := slices.IndexFunc(f2.Fields, func(fd formField) bool { return fd.Name == "entry.date" })
	if i < 0 || f2.Fields[i].Error == "" || !strings.Contains(f2.Fields[i].DescribedBy(), "-error") {
		t.Errorf("bad date field: %+v", f2.Fields)
	}
	f2.fieldError("entryId", "entry already exists")
	if j := slices.IndexFunc(f2.Fields, func(fd formField) bool { return fd.Name == "entry.entryId" }); f2.Fields[j].Error != "entry already exists" {
		t.Errorf("rule error not beside entry.entryId: %+v", f2.Fields[j])
	}
}

func authUserForTest() auth.User {
	return auth.User{ID: "dev-lead-police-north", Role: auth.RoleAgencyLead, Agency: "police-north"}
}
