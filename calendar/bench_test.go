package calendar

import (
	"testing"
	"time"
)

// benchStarts spreads the starting dates over 1990-2045 so that the benchmark is not a cache
// of one year.
func benchStarts(b *testing.B) []Date {
	b.Helper()
	base := mustDate(b, "1990-01-01")
	starts := make([]Date, 1024)
	for i := range starts {
		starts[i] = base.AddDays(i * 19)
	}
	return starts
}

// BenchmarkAddWorkingDays adds 15 working days, the rapid-review clock.
func BenchmarkAddWorkingDays(b *testing.B) {
	c := mustRegion(b, ew)
	starts := benchStarts(b)
	for _, d := range starts { // build the year tables outside the timed loop
		c.AddWorkingDays(d, 15)
	}
	for i := 0; b.Loop(); i++ {
		c.AddWorkingDays(starts[i&1023], 15)
	}
}

// BenchmarkAddWeekdaysBaseline is the naive weekend-only stepping a caller might write with
// Date alone: the ratio to BenchmarkAddWorkingDays is the price (or saving) of the calendar.
func BenchmarkAddWeekdaysBaseline(b *testing.B) {
	starts := benchStarts(b)
	var sink Date
	for i := 0; b.Loop(); i++ {
		d := starts[i&1023]
		for n := 15; n > 0; {
			d = d.AddDays(1)
			if w := d.Weekday(); w != time.Saturday && w != time.Sunday {
				n--
			}
		}
		sink = d
	}
	_ = sink
}

// BenchmarkAddWorkingDaysStepping steps day by day through IsWorkingDay, for comparison with
// the binary search over the year's running count.
func BenchmarkAddWorkingDaysStepping(b *testing.B) {
	c := mustRegion(b, ew)
	starts := benchStarts(b)
	var sink Date
	for i := 0; b.Loop(); i++ {
		d := starts[i&1023]
		for n := 15; n > 0; {
			d = d.AddDays(1)
			if c.IsWorkingDay(d) {
				n--
			}
		}
		sink = d
	}
	_ = sink
}

func BenchmarkWorkingDaysBetween(b *testing.B) {
	c := mustRegion(b, ew)
	starts := benchStarts(b)
	ends := make([]Date, len(starts))
	for i, d := range starts {
		ends[i] = d.AddDays(180)
	}
	for i := 0; b.Loop(); i++ {
		c.WorkingDaysBetween(starts[i&1023], ends[i&1023])
	}
}
