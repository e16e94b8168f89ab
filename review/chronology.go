package review

import (
	"cmp"
	"slices"
	"strings"
)

// TimelineEntry is one row of the merged multi-agency chronology. Entries from several agencies
// that cite the same source record are one row, with every agency shown.
type TimelineEntry struct {
	Date              EventDate `json:"date"`
	DateText          string    `json:"dateText"`
	SourceRef         string    `json:"sourceRef,omitempty"`
	Agencies          []string  `json:"agencies"`
	EntryIDs          []string  `json:"entryIds"`
	Descriptions      []string  `json:"descriptions"`
	ChildSeen         bool      `json:"childSeen"`
	ChildViewsSought  bool      `json:"childViewsSought"`
	Significance      string    `json:"significance"`
	EpisodeIDs        []string  `json:"episodeIds,omitempty"`
	MissedOpportunity bool      `json:"missedOpportunity"`
	Rationales        []string  `json:"rationales,omitempty"`
}

// Chronology returns every agency's entries merged into one timeline in date order. Dates keep
// their precision: a month-precision entry sorts at the start of its month and reads as the month.
// Ties keep a stable order by agency and entry ID, so the timeline is the same on every replay.
func (c *Case) Chronology() []TimelineEntry {
	var rows []TimelineEntry
	bySource := map[string]int{}
	for _, en := range c.sortedEntries() {
		if i, ok := bySource[en.SourceRef]; ok && en.SourceRef != "" {
			rows[i].merge(en)
			continue
		}
		row := TimelineEntry{SourceRef: en.SourceRef, Date: en.Date}
		row.merge(en)
		if en.SourceRef != "" {
			bySource[en.SourceRef] = len(rows)
		}
		rows = append(rows, row)
	}
	for i := range rows {
		rows[i].DateText = rows[i].Date.String()
	}
	slices.SortStableFunc(rows, func(a, b TimelineEntry) int {
		return cmp.Or(a.Date.Compare(b.Date), cmp.Compare(a.EntryIDs[0], b.EntryIDs[0]))
	})
	return rows
}

func (c *Case) sortedEntries() []ChronologyEntry {
	entries := slices.Clone(c.Entries)
	slices.SortStableFunc(entries, func(a, b ChronologyEntry) int {
		return cmp.Or(a.Date.Compare(b.Date), cmp.Compare(a.Agency, b.Agency), cmp.Compare(a.EntryID, b.EntryID))
	})
	return entries
}

func (r *TimelineEntry) merge(en ChronologyEntry) {
	// The most precise date any agency gives for the record is the row's date.
	if precisionRank(en.Date.Precision) > precisionRank(r.Date.Precision) {
		r.Date = en.Date
	}
	if !slices.Contains(r.Agencies, en.Agency) {
		r.Agencies = append(r.Agencies, en.Agency)
		slices.Sort(r.Agencies)
	}
	r.EntryIDs = append(r.EntryIDs, en.EntryID)
	r.Descriptions = append(r.Descriptions, en.Agency+": "+en.Description)
	r.ChildSeen = r.ChildSeen || en.ChildSeen
	r.ChildViewsSought = r.ChildViewsSought || en.ChildViewsSought
	if en.Significance == SignificanceKey || r.Significance == "" {
		r.Significance = en.Significance
	}
	if en.EpisodeID != "" && !slices.Contains(r.EpisodeIDs, en.EpisodeID) {
		r.EpisodeIDs = append(r.EpisodeIDs, en.EpisodeID)
	}
	if en.MissedOpportunity {
		r.MissedOpportunity = true
		r.Rationales = append(r.Rationales, en.Rationale)
	}
}

// MissedOpportunity is a row of the merged chronology judged a missed opportunity.
type MissedOpportunity struct {
	Date      EventDate `json:"date"`
	DateText  string    `json:"dateText"`
	Agencies  []string  `json:"agencies"`
	EntryIDs  []string  `json:"entryIds"`
	Rationale string    `json:"rationale"`
}

// MissedOpportunities lists the merged chronology's missed opportunities in date order, each
// once even where several agencies recorded the same event.
func (c *Case) MissedOpportunities() []MissedOpportunity {
	var out []MissedOpportunity
	for _, r := range c.Chronology() {
		if !r.MissedOpportunity {
			continue
		}
		out = append(out, MissedOpportunity{Date: r.Date, DateText: r.DateText, Agencies: r.Agencies, EntryIDs: r.EntryIDs,
			Rationale: strings.Join(r.Rationales, " / ")})
	}
	return out
}
