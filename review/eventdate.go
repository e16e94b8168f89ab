package review

import (
	"cmp"
	"fmt"
	"time"

	"casereview/calendar"
)

// EventDate is the date of a chronology event, holding only what the source record knows:
// a day, a month, or an approximate year (optionally month). No day is ever invented.
type EventDate struct {
	Year      int        `json:"year"`
	Month     time.Month `json:"month,omitempty"`
	Day       int        `json:"day,omitempty"`
	Precision Precision  `json:"precision"`
}

// OnDay returns a day-precision EventDate.
func OnDay(d calendar.Date) EventDate {
	return EventDate{Year: d.Year, Month: d.Month, Day: d.Day, Precision: PrecisionDay}
}

// InMonth returns a month-precision EventDate.
func InMonth(year int, month time.Month) EventDate {
	return EventDate{Year: year, Month: month, Precision: PrecisionMonth}
}

// Around returns an approximate EventDate; month may be 0 when only the year is known.
func Around(year int, month time.Month) EventDate {
	return EventDate{Year: year, Month: month, Precision: PrecisionApproximate}
}

// Validate reports what is wrong with d, if anything.
func (d EventDate) Validate() error {
	if d.Year < 1900 || d.Year > 2200 {
		return fmt.Errorf("year %d is out of range 1900..2200", d.Year)
	}
	switch d.Precision {
	case PrecisionDay:
		if d.Month < 1 || d.Month > 12 {
			return fmt.Errorf("a day-precision date needs a month 1..12, got %d", d.Month)
		}
		t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
		if d.Day < 1 || t.Day() != d.Day {
			return fmt.Errorf("%04d-%02d-%02d is not a real date", d.Year, int(d.Month), d.Day)
		}
	case PrecisionMonth:
		if d.Month < 1 || d.Month > 12 {
			return fmt.Errorf("a month-precision date needs a month 1..12, got %d", d.Month)
		}
		if d.Day != 0 {
			return fmt.Errorf("a month-precision date must not have a day (got %d): use precision %q", d.Day, PrecisionDay)
		}
	case PrecisionApproximate:
		if d.Month < 0 || d.Month > 12 {
			return fmt.Errorf("an approximate date's month must be 0 (unknown) or 1..12, got %d", d.Month)
		}
		if d.Day != 0 {
			return fmt.Errorf("an approximate date must not have a day (got %d)", d.Day)
		}
	default:
		return fmt.Errorf("precision %q is not one of day, month, approximate", d.Precision)
	}
	return nil
}

// Compare orders dates by what is known: a month-precision date sorts at the start of its month,
// an approximate year at the start of its year, and a less precise date before a more precise one
// on the same key, so nothing is placed on a day it does not claim.
func (d EventDate) Compare(e EventDate) int {
	return cmp.Or(
		cmp.Compare(d.Year, e.Year),
		cmp.Compare(d.Month, e.Month),
		cmp.Compare(d.Day, e.Day),
		cmp.Compare(precisionRank(d.Precision), precisionRank(e.Precision)),
	)
}

func precisionRank(p Precision) int {
	switch p {
	case PrecisionApproximate:
		return 0
	case PrecisionMonth:
		return 1
	}
	return 2
}

// String formats d as its precision allows: "14 May 2003", "May 2003", "c. 2003", "c. May 2003".
func (d EventDate) String() string {
	switch d.Precision {
	case PrecisionDay:
		return fmt.Sprintf("%d %s %d", d.Day, d.Month, d.Year)
	case PrecisionMonth:
		return fmt.Sprintf("%s %d", d.Month, d.Year)
	case PrecisionApproximate:
		if d.Month != 0 {
			return fmt.Sprintf("c. %s %d", d.Month, d.Year)
		}
		return fmt.Sprintf("c. %d", d.Year)
	}
	return "unknown date"
}
