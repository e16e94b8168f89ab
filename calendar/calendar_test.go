package calendar

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustDate(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustRegion(t testing.TB, region string) *Calendar {
	t.Helper()
	c, err := ForRegion(region)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	ew = "england-and-wales"
	sc = "scotland"
	ni = "northern-ireland"
)

func TestRegions(t *testing.T) {
	want := []string{ew, ni, sc}
	if got := Regions(); !slices.Equal(got, want) {
		t.Fatalf("Regions() = %v, want %v", got, want)
	}
	for _, r := range want {
		c := mustRegion(t, r)
		if c.Region() != r {
			t.Errorf("Region() = %q, want %q", c.Region(), r)
		}
		if c.Version() != "uk-bank-holidays/2026.1" {
			t.Errorf("%s Version() = %q", r, c.Version())
		}
	}
}

func TestForRegionUnknown(t *testing.T) {
	_, err := ForRegion("wales")
	if !errors.Is(err, ErrUnknownRegion) {
		t.Fatalf("err = %v, want ErrUnknownRegion", err)
	}
	for _, part := range []string{`"wales"`, ew, sc, ni} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
}

// TestIsHoliday covers every one-off, substitute days, Easter across years and the
// differences between the regions, each against the published lists.
func TestIsHoliday(t *testing.T) {
	tests := []struct {
		region string
		date   string
		want   bool
		name   string // substring of the holiday's name when want is true
	}{
		// England and Wales one-offs.
		{ew, "1995-05-08", true, "VE day"},
		{ew, "1995-05-01", false, ""},
		{ew, "1999-12-31", true, "Millennium"},
		{ew, "1999-12-27", true, "Christmas Day (substitute day)"},
		{ew, "1999-12-28", true, "Boxing Day (substitute day)"},
		{ew, "2000-01-03", true, "New Year's Day (substitute day)"},
		{ew, "2002-05-27", false, ""},
		{ew, "2002-06-03", true, "Spring bank holiday"},
		{ew, "2002-06-04", true, "Golden Jubilee"},
		{ew, "2011-04-29", true, "Royal wedding"},
		{ew, "2012-05-28", false, ""},
		{ew, "2012-06-04", true, "Spring bank holiday"},
		{ew, "2012-06-05", true, "Diamond Jubilee"},
		{ew, "2020-05-04", false, ""},
		{ew, "2020-05-08", true, "VE day"},
		{ew, "2022-05-30", false, ""},
		{ew, "2022-06-02", true, "Spring bank holiday"},
		{ew, "2022-06-03", true, "Platinum Jubilee"},
		{ew, "2022-09-19", true, "State Funeral"},
		{ew, "2023-05-01", true, "Early May"},
		{ew, "2023-05-08", true, "coronation"},
		// Substitute days.
		{ew, "2021-12-27", true, "Christmas Day (substitute day)"},
		{ew, "2021-12-28", true, "Boxing Day (substitute day)"},
		{ew, "2022-12-26", true, "Boxing Day"},
		{ew, "2022-12-27", true, "Christmas Day (substitute day)"},
		{ew, "2004-12-27", true, "Christmas Day (substitute day)"},
		{ew, "2004-12-28", true, "Boxing Day (substitute day)"},
		{ew, "2010-12-27", true, "Christmas Day (substitute day)"},
		{ew, "2010-12-28", true, "Boxing Day (substitute day)"},
		{ew, "2016-12-26", true, "Boxing Day"},
		{ew, "2016-12-27", true, "Christmas Day (substitute day)"},
		{ew, "2015-12-28", true, "Boxing Day (substitute day)"},
		{ew, "2011-01-03", true, "New Year's Day (substitute day)"},
		{ew, "2022-01-03", true, "New Year's Day (substitute day)"},
		{ew, "2017-01-02", true, "New Year's Day (substitute day)"},
		{ew, "2022-01-04", false, ""},
		// Easter.
		{ew, "1995-04-14", true, "Good Friday"},
		{ew, "1995-04-17", true, "Easter Monday"},
		{ew, "2008-03-21", true, "Good Friday"},
		{ew, "2008-03-24", true, "Easter Monday"},
		{ew, "2019-04-19", true, "Good Friday"},
		{ew, "2019-04-22", true, "Easter Monday"},
		{ew, "2038-04-23", true, "Good Friday"},
		{ew, "2038-04-26", true, "Easter Monday"},
		{ew, "2024-03-29", true, "Good Friday"},
		{ew, "2024-04-01", true, "Easter Monday"},
		// Ordinary days and weekends are not holidays.
		{ew, "2022-09-16", false, ""},
		{ew, "2022-09-17", false, ""},
		{ew, "2025-08-04", false, ""},
		{ew, "2024-03-18", false, ""},
		{ew, "2025-12-01", false, ""},

		// Scotland.
		{sc, "2019-04-22", false, ""}, // no Easter Monday
		{sc, "2019-04-19", true, "Good Friday"},
		{sc, "2025-01-02", true, "2nd January"},
		{sc, "2022-01-03", true, "New Year's Day (substitute day)"},
		{sc, "2022-01-04", true, "2nd January (substitute day)"},
		{sc, "2023-01-02", true, "2nd January"},
		{sc, "2023-01-03", true, "New Year's Day (substitute day)"},
		{sc, "2021-01-04", true, "2nd January (substitute day)"},
		{sc, "2025-12-01", true, "St Andrew's Day (substitute day)"},
		{sc, "2024-12-02", true, "St Andrew's Day (substitute day)"},
		{sc, "2023-11-30", true, "St Andrew's Day"},
		{sc, "2006-11-30", false, ""}, // before the 2007 Act
		{sc, "2025-08-04", true, "Summer bank holiday"},
		{sc, "2025-08-25", false, ""}, // the last Monday in August is England's
		{sc, "2024-08-05", true, "Summer bank holiday"},
		{sc, "2025-05-05", true, "Early May"},
		{sc, "2025-05-26", true, "Spring bank holiday"},
		{sc, "2022-09-19", true, "State Funeral"},
		{sc, "2023-05-08", true, "coronation"},
		{sc, "2012-06-04", true, "Spring"},
		{sc, "2012-06-05", true, "Diamond Jubilee"},
		{sc, "2022-06-02", true, "Spring"},
		{sc, "2022-06-03", true, "Platinum Jubilee"},
		{sc, "2020-05-08", true, "VE day"},
		{sc, "2020-05-04", false, ""},
		{sc, "2011-04-29", true, "Royal wedding"},
		{sc, "2021-12-27", true, "Christmas Day (substitute day)"},

		// Northern Ireland.
		{ni, "2024-03-18", true, "St Patrick's Day (substitute day)"},
		{ni, "2024-03-17", false, ""}, // a Sunday
		{ni, "2025-03-17", true, "St Patrick's Day"},
		{ni, "2025-07-14", true, "Battle of the Boyne (Orangemen's Day) (substitute day)"},
		{ni, "2025-07-12", false, ""}, // a Saturday
		{ni, "2024-07-12", true, "Battle of the Boyne"},
		{ni, "2020-07-13", true, "Battle of the Boyne (Orangemen's Day) (substitute day)"},
		{ni, "2019-04-22", true, "Easter Monday"},
		{ni, "2025-08-25", true, "Summer bank holiday"},
		{ni, "2022-09-19", true, "State Funeral"},
		{ni, "2023-05-08", true, "coronation"},
		{ni, "2022-01-03", true, "New Year's Day (substitute day)"},
	}
	cals := map[string]*Calendar{}
	for _, r := range Regions() {
		cals[r] = mustRegion(t, r)
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.date, func(t *testing.T) {
			c := cals[tt.region]
			d := mustDate(t, tt.date)
			name, ok := c.IsHoliday(d)
			if ok != tt.want || (ok && !strings.Contains(name, tt.name)) {
				t.Errorf("IsHoliday(%s) = %q, %v; want a holiday %v named like %q", tt.date, name, ok, tt.want, tt.name)
			}
			weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
			if got, want := c.IsWorkingDay(d), !ok && !weekend; got != want {
				t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.date, got, want)
			}
		})
	}
}

// TestHolidaysEnglandAndWales checks every year 2011-2026 against the gov.uk lists.
func TestHolidaysEnglandAndWales(t *testing.T) {
	want := map[int]string{
		2011: "01-03 04-22 04-25 04-29 05-02 05-30 08-29 12-26 12-27",
		2012: "01-02 04-06 04-09 05-07 06-04 06-05 08-27 12-25 12-26",
		2013: "01-01 03-29 04-01 05-06 05-27 08-26 12-25 12-26",
		2014: "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26",
		2015: "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28",
		2016: "01-01 03-25 03-28 05-02 05-30 08-29 12-26 12-27",
		2017: "01-02 04-14 04-17 05-01 05-29 08-28 12-25 12-26",
		2018: "01-01 03-30 04-02 05-07 05-28 08-27 12-25 12-26",
		2019: "01-01 04-19 04-22 05-06 05-27 08-26 12-25 12-26",
		2020: "01-01 04-10 04-13 05-08 05-25 08-31 12-25 12-28",
		2021: "01-01 04-02 04-05 05-03 05-31 08-30 12-27 12-28",
		2022: "01-03 04-15 04-18 05-02 06-02 06-03 08-29 09-19 12-26 12-27",
		2023: "01-02 04-07 04-10 05-01 05-08 05-29 08-28 12-25 12-26",
		2024: "01-01 03-29 04-01 05-06 05-27 08-26 12-25 12-26",
		2025: "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26",
		2026: "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28",
		// Earlier one-off years.
		1995: "01-02 04-14 04-17 05-08 05-29 08-28 12-25 12-26",
		1999: "01-01 04-02 04-05 05-03 05-31 08-30 12-27 12-28 12-31",
		2000: "01-03 04-21 04-24 05-01 05-29 08-28 12-25 12-26",
		2002: "01-01 03-29 04-01 05-06 06-03 06-04 08-26 12-25 12-26",
	}
	checkHolidayLists(t, mustRegion(t, ew), want)
}

func TestHolidaysScotland(t *testing.T) {
	want := map[int]string{
		2022: "01-03 01-04 04-15 05-02 06-02 06-03 08-01 09-19 11-30 12-26 12-27",
		2023: "01-02 01-03 04-07 05-01 05-08 05-29 08-07 11-30 12-25 12-26",
		2024: "01-01 01-02 03-29 05-06 05-27 08-05 12-02 12-25 12-26",
		2025: "01-01 01-02 04-18 05-05 05-26 08-04 12-01 12-25 12-26",
		2026: "01-01 01-02 04-03 05-04 05-25 08-03 11-30 12-25 12-28",
	}
	checkHolidayLists(t, mustRegion(t, sc), want)
}

func TestHolidaysNorthernIreland(t *testing.T) {
	want := map[int]string{
		2022: "01-03 03-17 04-15 04-18 05-02 06-02 06-03 07-12 08-29 09-19 12-26 12-27",
		2023: "01-02 03-17 04-07 04-10 05-01 05-08 05-29 07-12 08-28 12-25 12-26",
		2024: "01-01 03-18 03-29 04-01 05-06 05-27 07-12 08-26 12-25 12-26",
		2025: "01-01 03-17 04-18 04-21 05-05 05-26 07-14 08-25 12-25 12-26",
	}
	checkHolidayLists(t, mustRegion(t, ni), want)
}

func checkHolidayLists(t *testing.T, c *Calendar, want map[int]string) {
	t.Helper()
	for year, days := range want {
		var got []string
		for _, h := range c.Holidays(year) {
			if h.Date.Year != year {
				t.Errorf("Holidays(%d) includes %s", year, h.Date)
			}
			if h.Name == "" {
				t.Errorf("Holidays(%d): %s has no name", year, h.Date)
			}
			got = append(got, h.Date.String()[5:])
		}
		if g := strings.Join(got, " "); g != days {
			t.Errorf("%s Holidays(%d)\n got %s\nwant %s", c.Region(), year, g, days)
		}
	}
}

// TestHolidaysEveryYear checks the shape of every year the calendar must get right: the
// regular count, no weekend holidays, and sorted output.
func TestHolidaysEveryYear(t *testing.T) {
	regular := map[string]int{ew: 8, sc: 9, ni: 10}
	// Extra days in one-off years, net of days moved.
	extra := map[int]int{1999: 1, 2002: 1, 2011: 1, 2012: 1, 2022: 2, 2023: 1}
	for region, n := range regular {
		c := mustRegion(t, region)
		for year := 1990; year <= 2045; year++ {
			hs := c.Holidays(year)
			want := n + extra[year]
			if region == sc && year < 2007 {
				want-- // St Andrew's Day became a bank holiday in 2007
			}
			if len(hs) != want {
				t.Errorf("%s %d: %d holidays, want %d: %v", region, year, len(hs), want, hs)
			}
			for i, h := range hs {
				if w := h.Date.Weekday(); w == time.Saturday || w == time.Sunday {
					t.Errorf("%s: %s %q falls on a %s", region, h.Date, h.Name, w)
				}
				if i > 0 && !hs[i-1].Date.Before(h.Date) {
					t.Errorf("%s %d: not sorted at %s", region, year, h.Date)
				}
			}
		}
	}
}

func TestEasterSunday(t *testing.T) {
	// Published Easter Sunday dates.
	for _, s := range []string{"1990-04-15", "1995-04-16", "2000-04-23", "2008-03-23", "2011-04-24",
		"2019-04-21", "2024-03-31", "2025-04-20", "2038-04-25", "2285-03-22"} {
		d := mustDate(t, s)
		if got := easterSunday(d.Year); got != d {
			t.Errorf("easterSunday(%d) = %s, want %s", d.Year, got, d)
		}
	}
}

func TestAddWorkingDays(t *testing.T) {
	tests := []struct {
		region string
		start  string
		n      int
		want   string
	}{
		// The example in the domain brief: Monday 19 September 2022 was the State Funeral.
		{ew, "2022-09-16", 5, "2022-09-26"},
		{ew, "2022-09-16", 0, "2022-09-16"},
		{ew, "2022-09-17", 0, "2022-09-17"}, // day 0 is the start, working day or not
		{ew, "2022-09-16", 1, "2022-09-20"},
		{ew, "2022-09-17", 1, "2022-09-20"},
		{ew, "2022-09-26", -5, "2022-09-16"},
		{ew, "2022-09-20", -1, "2022-09-16"},
		{ew, "2022-09-18", -1, "2022-09-16"},
		// Plain weekends.
		{ew, "2024-06-07", 1, "2024-06-10"},
		{ew, "2024-06-03", 5, "2024-06-10"},
		{ew, "2024-06-10", -1, "2024-06-07"},
		// Christmas and New Year 2022/23: 26, 27 Dec and 2 Jan are holidays, so the working
		// days after Friday 23 Dec are 28, 29, 30 Dec, 3, 4 Jan.
		{ew, "2022-12-23", 1, "2022-12-28"},
		{ew, "2022-12-23", 5, "2023-01-04"},
		{ew, "2023-01-04", -5, "2022-12-23"},
		{ew, "2023-01-03", -5, "2022-12-22"},
		{sc, "2022-12-23", 5, "2023-01-05"}, // 3 Jan 2023 is Scotland's New Year substitute
		// Across the 2020 VE Day move.
		{ew, "2020-05-01", 1, "2020-05-04"},
		{ew, "2020-05-07", 1, "2020-05-11"},
		// Easter 2019 and the regional difference on Easter Monday.
		{ew, "2019-04-18", 1, "2019-04-23"},
		{sc, "2019-04-18", 1, "2019-04-22"},
		// 2012 jubilee week.
		{ew, "2012-06-01", 1, "2012-06-06"},
		// 15 working days for a rapid review over the 2022 Platinum Jubilee.
		{ew, "2022-05-27", 15, "2022-06-21"},
		// Across a year end: 2022 had 260 weekdays less 10 holidays = 250 working days, 249
		// of them after 4 Jan; then 3, 4, 5 Jan 2023.
		{ew, "2022-01-04", 252, "2023-01-05"},
		{ew, "2023-01-05", -252, "2022-01-04"},
		{ew, "2023-01-03", -252, "2021-12-30"},
		// Northern Ireland's 12 July substitute.
		{ni, "2025-07-11", 1, "2025-07-15"},
		{ew, "2025-07-11", 1, "2025-07-14"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s%+d", tt.region, tt.start, tt.n), func(t *testing.T) {
			c := mustRegion(t, tt.region)
			got := c.AddWorkingDays(mustDate(t, tt.start), tt.n)
			if got.String() != tt.want {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tt.start, tt.n, got, tt.want)
			}
		})
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	tests := []struct {
		from, to string
		want     int
	}{
		{"2022-09-16", "2022-09-26", 5},
		{"2022-09-26", "2022-09-16", -5},
		{"2022-09-16", "2022-09-16", 0},
		{"2022-09-17", "2022-09-18", 0},
		{"2022-09-16", "2022-09-19", 0}, // weekend then the State Funeral
		{"2022-09-19", "2022-09-16", -1},
		// 2024 had 262 weekdays and 8 weekday holidays; 1 January was one of them.
		{"2024-01-01", "2024-12-31", 254},
		{"2023-12-31", "2024-12-31", 254},
		// 2020: 262 - 8; 2021: 261 - 8; 2022: 260 - 10.
		{"2019-12-31", "2022-12-31", 254 + 253 + 250},
	}
	c := mustRegion(t, ew)
	for _, tt := range tests {
		got := c.WorkingDaysBetween(mustDate(t, tt.from), mustDate(t, tt.to))
		if got != tt.want {
			t.Errorf("WorkingDaysBetween(%s, %s) = %d, want %d", tt.from, tt.to, got, tt.want)
		}
	}
}

// TestWorkingDaysBetweenMatchesStepping compares the table-driven count with a day-by-day count.
func TestWorkingDaysBetweenMatchesStepping(t *testing.T) {
	c := mustRegion(t, sc)
	r := rand.New(rand.NewPCG(7, 11))
	base := mustDate(t, "1990-01-01")
	for range 300 {
		from := base.AddDays(r.IntN(56 * 365))
		to := from.AddDays(r.IntN(900) - 450)
		want := 0
		if from.Before(to) {
			for d := from.AddDays(1); !d.After(to); d = d.AddDays(1) {
				if c.IsWorkingDay(d) {
					want++
				}
			}
		} else {
			for d := to; d.Before(from); d = d.AddDays(1) {
				if c.IsWorkingDay(d) {
					want--
				}
			}
		}
		if got := c.WorkingDaysBetween(from, to); got != want {
			t.Fatalf("WorkingDaysBetween(%s, %s) = %d, want %d", from, to, got, want)
		}
	}
}

// TestAddThenCount is the property that ties the two together.
func TestAddThenCount(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := mustDate(t, "1990-01-01")
	span := dayNumber(mustDate(t, "2045-12-31")) - dayNumber(base) + 1
	for _, region := range Regions() {
		c := mustRegion(t, region)
		for range 2000 {
			d := base.AddDays(r.IntN(span))
			n := r.IntN(61)
			if r.IntN(4) == 0 {
				n = -n
			}
			got := c.AddWorkingDays(d, n)
			if between := c.WorkingDaysBetween(d, got); between != n {
				t.Fatalf("%s: AddWorkingDays(%s, %d) = %s, but WorkingDaysBetween gives %d", region, d, n, got, between)
			}
			if n != 0 && !c.IsWorkingDay(got) {
				t.Fatalf("%s: AddWorkingDays(%s, %d) = %s, not a working day", region, d, n, got)
			}
		}
	}
}

func TestDeadline(t *testing.T) {
	c := mustRegion(t, ew)
	d, at := c.Deadline(mustDate(t, "2022-09-16"), 5)
	if d.String() != "2022-09-26" {
		t.Fatalf("Deadline date = %s, want 2022-09-26", d)
	}
	// 26 September 2022 was in British Summer Time, UTC+1.
	if want := time.Date(2022, 9, 26, 22, 59, 59, 0, time.UTC); !at.Equal(want) {
		t.Errorf("Deadline time = %s, want %s", at, want)
	}
	if at.Location().String() != "Europe/London" {
		t.Errorf("Deadline location = %s", at.Location())
	}
	// In winter London is on UTC.
	winter := c.DeadlineAt(mustDate(t, "2023-01-03"))
	if want := time.Date(2023, 1, 3, 23, 59, 59, 0, time.UTC); !winter.Equal(want) {
		t.Errorf("DeadlineAt(2023-01-03) = %s, want %s", winter, want)
	}
}

func TestOutOfRangeDates(t *testing.T) {
	c := mustRegion(t, ew)
	// Far years go through the uncached path; the rules still apply.
	if name, ok := c.IsHoliday(mustDate(t, "2525-12-25")); !ok || name != "Christmas Day" {
		t.Errorf("IsHoliday(2525-12-25) = %q, %v", name, ok)
	}
	if got := c.AddWorkingDays(mustDate(t, "1850-12-24"), 1); got.String() != "1850-12-27" {
		t.Errorf("AddWorkingDays(1850-12-24, 1) = %s, want 1850-12-27", got)
	}
	// The zero Date is a real (if proleptic) day and must not panic.
	if c.IsWorkingDay(Date{}) != (Date{}.Weekday() != time.Saturday && Date{}.Weekday() != time.Sunday) {
		t.Error("IsWorkingDay(Date{}) disagrees with its weekday")
	}
	// A Date with a day past the month's end means what AddDays makes of it.
	if got, want := c.IsWorkingDay(Date{2023, time.February, 30}), c.IsWorkingDay(mustDate(t, "2023-03-02")); got != want {
		t.Errorf("IsWorkingDay(2023-02-30) = %v, want %v as for 2023-03-02", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := mustRegion(t, ew)
	var wg sync.WaitGroup
	results := make([]Date, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := mustDate(t, "1990-01-01")
			for range 100 {
				d = c.AddWorkingDays(d, 150)
			}
			results[i] = d
		}()
	}
	wg.Wait()
	for _, d := range results[1:] {
		if d != results[0] {
			t.Fatalf("goroutines disagree: %v", results)
		}
	}
}

func TestDayNumberRoundTrip(t *testing.T) {
	for n := -800000; n <= 800000; n += 37 {
		d := dateOfDayNumber(n)
		if got := dayNumber(d); got != n {
			t.Fatalf("dayNumber(dateOfDayNumber(%d) = %s) = %d", n, d, got)
		}
		if d.Time() != time.Unix(int64(n)*86400, 0).UTC() {
			t.Fatalf("dateOfDayNumber(%d) = %s, time package says %s", n, d, time.Unix(int64(n)*86400, 0).UTC())
		}
		if weekdayOf(n) != d.Weekday() {
			t.Fatalf("weekdayOf(%d) = %s, want %s", n, weekdayOf(n), d.Weekday())
		}
	}
}
