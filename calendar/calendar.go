package calendar

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // DeadlineAt must work on hosts without a system zone database.
)

// Holiday is one observed bank holiday.
type Holiday struct {
	Date Date
	Name string
}

// Calendar answers working-day questions for one region. A Calendar is safe for concurrent use;
// it builds each year's table the first time the year is asked about.
type Calendar struct {
	region  string
	version string
	rules   []rule
	// exceptions by year, embedded data first and then overrides, in file order.
	exceptions map[int][]exception

	near [cacheYears]atomic.Pointer[yearTable] // years firstCachedYear..; the common case
	far  sync.Map                              // int year -> *yearTable, for any other year
}

const (
	firstCachedYear = 1900
	cacheYears      = 300
)

// yearTable holds one year's holidays and a running count of its working days.
type yearTable struct {
	first    int       // day number of 1 January
	days     int       // 365 or 366
	holidays []Holiday // sorted by date
	yday     []int     // yday[i] is holidays[i]'s 0-based day of the year
	// cum[i] is the number of working days among the first i days of the year, so day i
	// (0-based) is a working day when cum[i+1] > cum[i].
	cum [367]uint16
}

// Regions returns the regions with a calendar, sorted.
func Regions() []string {
	ds, err := embedded()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ds.Regions))
	for r := range ds.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// ForRegion returns the calendar of region built from the embedded data alone.
func ForRegion(region string) (*Calendar, error) { return Load(region, "") }

// Load returns the calendar of region, built from the embedded data and then, when
// overridesPath is not empty, the override file at that path. The override file lets an operator
// apply a new proclamation without a release; its SHA-256 becomes part of the version, so a
// deadline recorded with the version names exactly the data it was computed from.
//
// An override file looks like:
//
//	{
//	  "comment": "optional",
//	  "exceptions": [
//	    {"date": "2027-06-07", "action": "add", "regions": ["england-and-wales"],
//	     "name": "Some bank holiday", "source": "royal proclamation of ..."},
//	    {"date": "2027-05-31", "action": "remove", "regions": ["scotland"], "source": "..."}
//	  ]
//	}
func Load(region, overridesPath string) (*Calendar, error) {
	ds, err := embedded()
	if err != nil {
		return nil, fmt.Errorf("calendar: embedded data: %w", err)
	}
	rd, ok := ds.Regions[region]
	if !ok {
		return nil, fmt.Errorf("calendar: %w %q; valid regions are %s", ErrUnknownRegion, region, strings.Join(Regions(), ", "))
	}
	c := &Calendar{
		region:     region,
		version:    ds.Version,
		rules:      rd.Rules,
		exceptions: map[int][]exception{},
	}
	c.addExceptions(ds.Exceptions)
	if overridesPath != "" {
		data, err := os.ReadFile(overridesPath)
		if err != nil {
			return nil, fmt.Errorf("calendar: reading overrides: %w", err)
		}
		ov, err := parseFile(overridesPath, data, []string{"comment", "exceptions"})
		if err != nil {
			return nil, fmt.Errorf("calendar: overrides: %w", err)
		}
		if err := validateExceptions(ov.Exceptions, Regions()); err != nil {
			return nil, fmt.Errorf("calendar: overrides: %w", err)
		}
		c.addExceptions(ov.Exceptions)
		sum := sha256.Sum256(data)
		c.version += "+overrides:" + hex.EncodeToString(sum[:6])
	}
	// Build every year that has an exception now, so a bad exception is reported here and the
	// lazily built years, which have none, cannot fail.
	for year := range c.exceptions {
		t, err := c.build(year)
		if err != nil {
			return nil, fmt.Errorf("calendar: %s: %w", region, err)
		}
		c.store(year, t)
	}
	return c, nil
}

func (c *Calendar) addExceptions(xs []exception) {
	for _, x := range xs {
		for _, r := range x.Regions {
			if r == c.region {
				c.exceptions[x.Date.Year] = append(c.exceptions[x.Date.Year], x)
				break
			}
		}
	}
}

// Region returns the region name, e.g. "england-and-wales".
func (c *Calendar) Region() string { return c.region }

// Version names the holiday data the calendar was built from, e.g. "uk-bank-holidays/2026.1",
// with "+overrides:<sha256 prefix>" when an override file was loaded. Record it with every
// deadline computed from the calendar.
func (c *Calendar) Version() string { return c.version }

// IsWorkingDay reports whether d is neither a weekend day nor a bank holiday.
func (c *Calendar) IsWorkingDay(d Date) bool {
	t, i := c.locate(dayNumber(d))
	return t.cum[i+1] > t.cum[i]
}

// IsHoliday returns the name of the bank holiday observed on d, if there is one.
func (c *Calendar) IsHoliday(d Date) (name string, ok bool) {
	t, i := c.locate(dayNumber(d))
	for j, yd := range t.yday {
		if yd == i {
			return t.holidays[j].Name, true
		}
	}
	return "", false
}

// Holidays returns the bank holidays observed in year, sorted by date.
func (c *Calendar) Holidays(year int) []Holiday {
	return append([]Holiday(nil), c.table(year).holidays...)
}

// AddWorkingDays returns the nth working day after start: start is day 0, so n = 0 returns start
// itself, working day or not. When n < 0 it returns the -nth working day before start.
func (c *Calendar) AddWorkingDays(start Date, n int) Date {
	if n == 0 {
		return start
	}
	t, yday := c.locate(dayNumber(start))
	y := dateOfDayNumber(t.first).Year
	if n > 0 {
		pos := yday + 1 // first candidate day, as a 0-based day of year y
		for {
			if pos >= t.days {
				y++
				t, pos = c.table(y), 0
			}
			avail := int(t.cum[t.days]) - int(t.cum[pos])
			if n > avail {
				n -= avail
				pos = t.days
				continue
			}
			// The smallest i with cum[i+1] == cum[pos]+n is the nth working day from pos.
			target := int(t.cum[pos]) + n
			i := sort.Search(t.days-pos, func(k int) bool { return int(t.cum[pos+k+1]) >= target })
			return dateOfDayNumber(t.first + pos + i)
		}
	}
	m := -n
	end := yday // days before end (exclusive) are candidates
	for {
		if end <= 0 {
			y--
			t = c.table(y)
			end = t.days
		}
		avail := int(t.cum[end])
		if m > avail {
			m -= avail
			end = 0
			continue
		}
		// The day i with cum[end]-cum[i] == m that is a working day is the last i with
		// cum[i] == target, that is the first i with cum[i] > target, less one.
		target := int(t.cum[end]) - m
		i := sort.Search(end+1, func(k int) bool { return int(t.cum[k]) > target }) - 1
		return dateOfDayNumber(t.first + i)
	}
}

// WorkingDaysBetween counts the working days after from up to and including to. When to is
// before from it returns minus the working days from to up to but not including from, so that
// WorkingDaysBetween(d, c.AddWorkingDays(d, n)) == n for every n.
func (c *Calendar) WorkingDaysBetween(from, to Date) int {
	a, b := dayNumber(from), dayNumber(to)
	switch {
	case a < b:
		return c.countRange(a+1, b+1)
	case b < a:
		return -c.countRange(b, a)
	}
	return 0
}

// countRange counts the working days in the day numbers [a, b), a <= b.
func (c *Calendar) countRange(a, b int) int {
	da, db := dateOfDayNumber(a), dateOfDayNumber(b)
	ta := c.table(da.Year)
	if da.Year == db.Year {
		tb := ta
		return int(tb.cum[b-tb.first]) - int(ta.cum[a-ta.first])
	}
	total := int(ta.cum[ta.days]) - int(ta.cum[a-ta.first])
	for y := da.Year + 1; y < db.Year; y++ {
		t := c.table(y)
		total += int(t.cum[t.days])
	}
	tb := c.table(db.Year)
	return total + int(tb.cum[b-tb.first])
}

var london = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		// time/tzdata is linked in, so this means a broken build rather than bad input.
		panic("calendar: Europe/London missing from the embedded zone database: " + err.Error())
	}
	return loc
})

// DeadlineAt returns the end of d, 23:59:59 Europe/London, the moment a deadline falling on d
// expires.
func (c *Calendar) DeadlineAt(d Date) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 23, 59, 59, 0, london())
}

// Deadline returns the nth working day after start and the moment it ends.
func (c *Calendar) Deadline(start Date, n int) (Date, time.Time) {
	d := c.AddWorkingDays(start, n)
	return d, c.DeadlineAt(d)
}

// locate returns the table of the year holding day number n and n's 0-based day in that year.
// It goes through the day number so that a Date with an out-of-range day, such as 2023-02-30,
// means what Date.AddDays would make of it rather than indexing past the table.
func (c *Calendar) locate(n int) (*yearTable, int) {
	t := c.table(dateOfDayNumber(n).Year)
	return t, n - t.first
}

// table returns year's table, building it on first use.
func (c *Calendar) table(year int) *yearTable {
	if i := year - firstCachedYear; i >= 0 && i < cacheYears {
		if t := c.near[i].Load(); t != nil {
			return t
		}
	} else if v, ok := c.far.Load(year); ok {
		return v.(*yearTable)
	}
	t, err := c.build(year)
	if err != nil {
		// Load built and cached every year that has exceptions, and rules alone were
		// validated, so no year built here can fail.
		panic(fmt.Sprintf("calendar: building %d for %s after Load: %v", year, c.region, err))
	}
	return c.store(year, t)
}

// store caches t for year and returns the cached table; when two goroutines build the same
// year at once, both tables are equal and the first stored wins.
func (c *Calendar) store(year int, t *yearTable) *yearTable {
	if i := year - firstCachedYear; i >= 0 && i < cacheYears {
		if c.near[i].CompareAndSwap(nil, t) {
			return t
		}
		return c.near[i].Load()
	}
	v, _ := c.far.LoadOrStore(year, t)
	return v.(*yearTable)
}

// build computes year's holidays from the rules, moves fixed-date holidays that fall on a
// weekend or a taken day forward to the next free weekday, then applies the exceptions.
func (c *Calendar) build(year int) (*yearTable, error) {
	first := dayNumber(Date{year, time.January, 1})
	days := daysIn(year)
	names := map[int]string{} // 0-based day of year -> name
	type fixed struct {
		yday int
		name string
	}
	var pending []fixed
	// Days set by movable rules cannot move, so they are placed first.
	for _, r := range c.rules {
		if !r.appliesIn(year) || r.Kind == kindFixed {
			continue
		}
		i := ruleDay(r, year) - first
		if i < 0 || i >= days {
			continue // only for years before the Gregorian computus means anything
		}
		if _, taken := names[i]; !taken {
			names[i] = r.Name
		}
	}
	for _, r := range c.rules {
		if r.appliesIn(year) && r.Kind == kindFixed {
			pending = append(pending, fixed{dayNumber(Date{year, time.Month(r.Month), r.Day}) - first, r.Name})
		}
	}
	sort.SliceStable(pending, func(i, j int) bool { return pending[i].yday < pending[j].yday })
	var moving []fixed
	for _, p := range pending {
		if _, taken := names[p.yday]; taken || isWeekend(first+p.yday) {
			moving = append(moving, p)
			continue
		}
		names[p.yday] = p.name
	}
	for _, p := range moving {
		d := p.yday + 1
		for {
			if _, taken := names[d]; !taken && !isWeekend(first+d) {
				break
			}
			d++
		}
		names[d] = p.name + " (substitute day)"
	}

	for _, x := range c.exceptions[year] {
		i := dayNumber(x.Date) - first
		name, exists := names[i]
		switch x.Action {
		case actionRemove:
			if !exists {
				return nil, x.errorf("no holiday in %s on that day (a %s) to remove", c.region, x.Date.Weekday())
			}
			delete(names, i)
		case actionAdd:
			if exists {
				return nil, x.errorf("already a holiday in %s (%s); remove it first or pick another day", c.region, name)
			}
			names[i] = x.Name
		}
	}

	t := &yearTable{first: first, days: days}
	for i := range names {
		t.yday = append(t.yday, i)
	}
	sort.Ints(t.yday)
	for _, i := range t.yday {
		t.holidays = append(t.holidays, Holiday{dateOfDayNumber(first + i), names[i]})
	}
	for i := 0; i < days; i++ {
		t.cum[i+1] = t.cum[i]
		if _, hol := names[i]; !hol && !isWeekend(first+i) {
			t.cum[i+1]++
		}
	}
	return t, nil
}

// ruleDay returns the day number a movable rule gives in year.
func ruleDay(r rule, year int) int {
	switch r.Kind {
	case kindEaster:
		return dayNumber(easterSunday(year)) + r.Offset
	case kindFirstMonday:
		n := dayNumber(Date{year, time.Month(r.Month), 1})
		return n + floorMod(int(time.Monday-weekdayOf(n)), 7)
	case kindLastMonday:
		n := dayNumber(Date{year, time.Month(r.Month), daysInMonth(time.Month(r.Month), year)})
		return n - floorMod(int(weekdayOf(n)-time.Monday), 7)
	}
	panic("calendar: ruleDay called with kind " + r.Kind)
}
