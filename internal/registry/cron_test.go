package registry

import "testing"

func TestParseCronSchedule(t *testing.T) {
	valid := []string{
		"* * * * *", "*/5 * * * *", "0 0 * * 0", "0 9-17 * * mon-fri", "15,45 */2 1 JAN,jul ?",
		"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@every 1h30m",
		"5/15 * * * *", "CRON_TZ=UTC 0 0 * * *",
	}
	for _, spec := range valid {
		if _, err := parseCronSchedule(spec); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
	invalid := map[string]string{
		"":               "empty spec string",
		"* * * *":        "expected exactly 5 fields, found 4: [* * * *]",
		"* * * * * *":    "expected exactly 5 fields, found 6: [* * * * * *]",
		"60 * * * *":     "end of range (60) above maximum (59): 60",
		"* * 0 * *":      "beginning of range (0) below minimum (1): 0",
		"* * * * 7":      "end of range (7) above maximum (6): 7",
		"5-1 * * * *":    "beginning of range (5) beyond end of range (1): 5-1",
		"*/0 * * * *":    "step of range should be a positive number: */0",
		"1-2-3 * * * *":  "too many hyphens: 1-2-3",
		"*/2/2 * * * *":  "too many slashes: */2/2",
		"x * * * *":      `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`,
		"@fortnightly":   "unrecognized descriptor: @fortnightly",
		"@every forever": `failed to parse duration @every forever: time: invalid duration "forever"`,
		"* * * smarch *": `failed to parse int from smarch: strconv.Atoi: parsing "smarch": invalid syntax`,
	}
	for spec, want := range invalid {
		_, err := parseCronSchedule(spec)
		if err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %q", spec, err, want)
		}
	}
}

func TestParseCronScheduleBits(t *testing.T) {
	s, err := parseCronSchedule("0,30 9-11 * feb mon/2")
	if err != nil {
		t.Fatal(err)
	}
	if s.minute != 1|1<<30 || s.hour != 1<<9|1<<10|1<<11 || s.month != 1<<2 || s.dow != 1<<1|1<<3|1<<5 {
		t.Errorf("bits = %+v", s)
	}
}
