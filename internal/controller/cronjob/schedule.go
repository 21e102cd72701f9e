package cronjob

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed standard cron expression: minute, hour, day of month, month and day of
// week, each a bit set of the values it matches. The semantics are those of the
// github.com/robfig/cron/v3 standard parser upstream's CronJob controller uses, including its
// rule that when both day fields are restricted a day matching either one qualifies.
type Schedule struct {
	minute, hour, dom, month, dow uint64
	loc                           *time.Location
}

// starBit marks a field given as "*" or "?" (unrestricted); it decides how the two day fields
// combine.
const starBit = 1 << 63

type bounds struct {
	min, max int
	names    map[string]int
}

var (
	minuteBounds = bounds{0, 59, nil}
	hourBounds   = bounds{0, 23, nil}
	domBounds    = bounds{1, 31, nil}
	monthBounds  = bounds{1, 12, map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	dowBounds = bounds{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// ParseSchedule parses a 5-field cron expression or a descriptor (@hourly, @daily, @weekly,
// @monthly, @yearly/@annually, @midnight), evaluated in loc. A leading "TZ=zone " or
// "CRON_TZ=zone " overrides loc.
func ParseSchedule(spec string, loc *time.Location) (*Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		tz, rest, _ := strings.Cut(spec, " ")
		_, name, _ := strings.Cut(tz, "=")
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("provided bad location %s: %w", name, err)
		}
		loc, spec = l, strings.TrimSpace(rest)
	}
	if loc == nil {
		loc = time.Local
	}
	if strings.HasPrefix(spec, "@") {
		expanded, ok := descriptors[strings.ToLower(spec)]
		if !ok {
			return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
		}
		spec = expanded
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), spec)
	}
	s := &Schedule{loc: loc}
	var err error
	for i, target := range []struct {
		set *uint64
		b   bounds
	}{{&s.minute, minuteBounds}, {&s.hour, hourBounds}, {&s.dom, domBounds}, {&s.month, monthBounds}, {&s.dow, dowBounds}} {
		if *target.set, err = parseField(fields[i], target.b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// parseField parses a comma-separated list of ranges.
func parseField(field string, b bounds) (uint64, error) {
	var bitsSet uint64
	for _, expr := range strings.Split(field, ",") {
		r, err := parseRange(expr, b)
		if err != nil {
			return 0, err
		}
		bitsSet |= r
	}
	return bitsSet, nil
}

// parseRange parses "*", "?", "n", "a-b", each optionally followed by "/step"; "n/step" means
// "n-max/step".
func parseRange(expr string, b bounds) (uint64, error) {
	rangePart, stepPart, hasStep := strings.Cut(expr, "/")
	lowStr, highStr, isRange := strings.Cut(rangePart, "-")
	var start, end int
	var extra uint64
	var err error
	if lowStr == "*" || lowStr == "?" {
		if isRange {
			return 0, fmt.Errorf("invalid range: %s", expr)
		}
		start, end, extra = b.min, b.max, starBit
	} else {
		if start, err = parseValue(lowStr, b); err != nil {
			return 0, err
		}
		end = start
		if isRange {
			if end, err = parseValue(highStr, b); err != nil {
				return 0, err
			}
		}
	}
	step := 1
	if hasStep {
		if step, err = strconv.Atoi(stepPart); err != nil || step <= 0 {
			return 0, fmt.Errorf("invalid step in %q", expr)
		}
		if !isRange && extra == 0 {
			end = b.max
		}
		if step > 1 {
			extra = 0
		}
	}
	if start < b.min || end > b.max || start > end {
		return 0, fmt.Errorf("value out of range (%d-%d) in %q", b.min, b.max, expr)
	}
	var r uint64
	for v := start; v <= end; v += step {
		r |= 1 << uint(v)
	}
	return r | extra, nil
}

func parseValue(s string, b bounds) (int, error) {
	if b.names != nil {
		if v, ok := b.names[strings.ToLower(s)]; ok {
			return v, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("failed to parse %q", s)
	}
	if v > b.max {
		return 0, fmt.Errorf("value %d out of range (%d-%d)", v, b.min, b.max)
	}
	return v, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

func (s *Schedule) dayMatches(t time.Time) bool {
	domMatch := has(s.dom, t.Day())
	dowMatch := has(s.dow, int(t.Weekday()))
	if s.dom&starBit != 0 || s.dow&starBit != 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}

// Next returns the first activation strictly after t, or the zero time if there is none within
// five years (e.g. "0 0 30 2 *").
func (s *Schedule) Next(t time.Time) time.Time {
	origLoc := t.Location()
	t = t.In(s.loc)
	// Start at the next whole minute.
	t = t.Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	yearLimit := t.Year() + 5
	added := false
wrap:
	if t.Year() > yearLimit {
		return time.Time{}
	}
	for !has(s.month, int(t.Month())) {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, s.loc)
		}
		t = t.AddDate(0, 1, 0)
		if t.Month() == time.January {
			goto wrap
		}
	}
	for !s.dayMatches(t) {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.loc)
		}
		t = t.AddDate(0, 0, 1)
		// A daylight-saving change can leave midnight at another hour: go back to it.
		if h := t.Hour(); h != 0 {
			if h > 12 {
				t = t.Add(time.Duration(24-h) * time.Hour)
			} else {
				t = t.Add(-time.Duration(h) * time.Hour)
			}
		}
		if t.Day() == 1 {
			goto wrap
		}
	}
	for !has(s.hour, t.Hour()) {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, s.loc)
		}
		t = t.Add(time.Hour)
		if t.Hour() == 0 {
			goto wrap
		}
	}
	for !has(s.minute, t.Minute()) {
		if !added {
			added = true
			t = t.Truncate(time.Minute)
		}
		t = t.Add(time.Minute)
		if t.Minute() == 0 {
			goto wrap
		}
	}
	return t.In(origLoc)
}
