package registry

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronSchedule is a parsed standard cron schedule: five fields (minute, hour, day of month,
// month, day of week) as bit sets, or a fixed interval for "@every <duration>". It accepts the
// syntax upstream's CronJob validation accepts: ranges, steps, lists, "*" and "?", month and
// weekday names, the @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly descriptors,
// and a leading TZ= or CRON_TZ= zone.
type cronSchedule struct {
	minute, hour, dom, month, dow uint64
	every                         time.Duration
	location                      *time.Location
}

// cronField describes the values one field accepts.
type cronField struct {
	min, max int
	names    map[string]int
}

var (
	cronMinute = cronField{min: 0, max: 59}
	cronHour   = cronField{min: 0, max: 23}
	cronDom    = cronField{min: 1, max: 31}
	cronMonth  = cronField{min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	cronDow = cronField{min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}

	cronDescriptors = map[string]string{
		"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
		"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
	}
)

// parseCronSchedule parses a schedule, reporting the first problem found.
func parseCronSchedule(spec string) (cronSchedule, error) {
	var s cronSchedule
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return s, fmt.Errorf("empty spec string")
	}
	s.location = time.Local
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		zone, rest, _ := strings.Cut(spec, " ")
		_, name, _ := strings.Cut(zone, "=")
		loc, err := time.LoadLocation(name)
		if err != nil {
			return s, fmt.Errorf("provided bad location %s: %v", name, err)
		}
		s.location = loc
		spec = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(spec, "@") {
		if d, ok := strings.CutPrefix(spec, "@every "); ok {
			every, err := time.ParseDuration(strings.TrimSpace(d))
			if err != nil {
				return s, fmt.Errorf("failed to parse duration %s: %s", spec, err)
			}
			s.every = every
			return s, nil
		}
		expanded, ok := cronDescriptors[strings.ToLower(spec)]
		if !ok {
			return s, fmt.Errorf("unrecognized descriptor: %s", spec)
		}
		spec = expanded
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return s, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	var err error
	for i, target := range []struct {
		set   *uint64
		field cronField
	}{{&s.minute, cronMinute}, {&s.hour, cronHour}, {&s.dom, cronDom}, {&s.month, cronMonth}, {&s.dow, cronDow}} {
		if *target.set, err = parseCronField(fields[i], target.field); err != nil {
			return s, err
		}
	}
	return s, nil
}

// parseCronField parses a comma-separated list of ranges into a bit set.
func parseCronField(expr string, f cronField) (uint64, error) {
	var bits uint64
	for _, r := range strings.Split(expr, ",") {
		b, err := parseCronRange(r, f)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

// parseCronRange parses "*", "?", "a", "a-b", each optionally followed by "/step".
func parseCronRange(expr string, f cronField) (uint64, error) {
	rangeAndStep := strings.Split(expr, "/")
	if len(rangeAndStep) > 2 {
		return 0, fmt.Errorf("too many slashes: %s", expr)
	}
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	if len(lowAndHigh) > 2 {
		return 0, fmt.Errorf("too many hyphens: %s", expr)
	}
	var start, end int
	var err error
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end = f.min, f.max
	} else {
		if start, err = parseCronValue(lowAndHigh[0], f, expr); err != nil {
			return 0, err
		}
		end = start
		if len(lowAndHigh) == 2 {
			if end, err = parseCronValue(lowAndHigh[1], f, expr); err != nil {
				return 0, err
			}
		}
	}
	step := 1
	if len(rangeAndStep) == 2 {
		if step, err = parseCronNumber(rangeAndStep[1], expr); err != nil {
			return 0, err
		}
		if step == 0 {
			return 0, fmt.Errorf("step of range should be a positive number: %s", expr)
		}
		// "a/step" means from a to the end of the field.
		if len(lowAndHigh) == 1 && lowAndHigh[0] != "*" && lowAndHigh[0] != "?" {
			end = f.max
		}
	}
	switch {
	case start < f.min:
		return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, f.min, expr)
	case end > f.max:
		return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, f.max, expr)
	case start > end:
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	}
	var bits uint64
	for v := start; v <= end; v += step {
		bits |= 1 << uint(v)
	}
	return bits, nil
}

// parseCronValue parses a number or, where the field has them, a name such as "mon" or "JAN".
func parseCronValue(s string, f cronField, expr string) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	return parseCronNumber(s, expr)
}

func parseCronNumber(s, expr string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, expr)
	}
	return n, nil
}
