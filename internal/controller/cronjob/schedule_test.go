package cronjob

import (
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		spec string
		loc  *time.Location
		from string
		want string // "" for no activation
	}{
		{"*/1 * * * *", time.UTC, "2025-01-01T10:00:30Z", "2025-01-01T10:01:00Z"},
		{"* * * * *", time.UTC, "2025-01-01T10:00:00Z", "2025-01-01T10:01:00Z"},
		{"*/15 * * * *", time.UTC, "2025-01-01T10:16:00Z", "2025-01-01T10:30:00Z"},
		{"5/20 * * * *", time.UTC, "2025-01-01T10:26:00Z", "2025-01-01T10:45:00Z"},
		{"0 * * * *", time.UTC, "2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z"},
		{"@hourly", time.UTC, "2025-01-01T10:59:59Z", "2025-01-01T11:00:00Z"},
		{"@daily", time.UTC, "2025-01-01T10:00:00Z", "2025-01-02T00:00:00Z"},
		{"@weekly", time.UTC, "2025-01-01T10:00:00Z", "2025-01-05T00:00:00Z"}, // a Sunday
		{"@monthly", time.UTC, "2025-01-31T10:00:00Z", "2025-02-01T00:00:00Z"},
		{"@yearly", time.UTC, "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"30 6-16/4 * * 1-5", time.UTC, "2025-01-03T15:00:00Z", "2025-01-06T06:30:00Z"}, // Fri after last run -> Mon
		{"0 0 * JAN,feb MON", time.UTC, "2025-01-31T00:00:00Z", "2025-02-03T00:00:00Z"},
		// Both day fields restricted: the 13th OR a Friday.
		{"0 0 13 * 5", time.UTC, "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z"},
		{"0 0 13 * 5", time.UTC, "2025-01-10T00:00:00Z", "2025-01-13T00:00:00Z"},
		// One restricted, the other '*': AND.
		{"0 0 13 * *", time.UTC, "2025-01-01T00:00:00Z", "2025-01-13T00:00:00Z"},
		{"0 9 * * *", ny, "2025-01-01T00:00:00Z", "2025-01-01T14:00:00Z"},
		{"TZ=America/New_York 0 9 * * *", time.UTC, "2025-07-01T00:00:00Z", "2025-07-01T13:00:00Z"},
		{"0 0 30 2 *", time.UTC, "2025-01-01T00:00:00Z", ""},
	}
	for _, tc := range tests {
		t.Run(tc.spec+"@"+tc.from, func(t *testing.T) {
			s, err := ParseSchedule(tc.spec, tc.loc)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := s.Next(at(tc.from))
			if tc.want == "" {
				if !got.IsZero() {
					t.Fatalf("Next = %v, want none", got)
				}
				return
			}
			if !got.Equal(at(tc.want)) {
				t.Fatalf("Next = %v, want %v", got.UTC(), tc.want)
			}
		})
	}
}

func TestScheduleParseErrors(t *testing.T) {
	for _, spec := range []string{"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
		"* * * * 7", "*/0 * * * *", "5-1 * * * *", "@every 5m", "@often", "a * * * *", "TZ=Nowhere/Land * * * * *"} {
		if _, err := ParseSchedule(spec, time.UTC); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", spec)
		}
	}
}
