package store

import (
	"slices"
	"testing"
)

func TestHistoryGrowsThenEvictsOldest(t *testing.T) {
	tests := []struct {
		name       string
		limit      int
		events     int
		wantLen    int // ring size after the events
		wantRevs   []int64
		wantOldest int64 // every event after this revision is kept
	}{
		{name: "none", limit: 100, events: 0, wantLen: 0, wantRevs: nil, wantOldest: 0},
		{name: "first ring", limit: 1000, events: 3, wantLen: minHistory, wantRevs: []int64{1, 2, 3}, wantOldest: 0},
		{name: "doubles", limit: 1000, events: minHistory + 1, wantLen: 2 * minHistory, wantRevs: revs(1, minHistory+1), wantOldest: 0},
		{name: "stops at the limit", limit: 100, events: 100, wantLen: 100, wantRevs: revs(1, 100), wantOldest: 0},
		{name: "full ring drops the oldest", limit: 100, events: 250, wantLen: 100, wantRevs: revs(151, 250), wantOldest: 150},
		{name: "limit below the first ring", limit: 5, events: 7, wantLen: 5, wantRevs: revs(3, 7), wantOldest: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(nil, tt.limit)
			for r := int64(1); r <= int64(tt.events); r++ {
				c.appendLocked(event{rev: r})
			}
			if len(c.history) != tt.wantLen {
				t.Errorf("ring size %d, want %d", len(c.history), tt.wantLen)
			}
			var got []int64
			for i := 0; i < c.size; i++ {
				got = append(got, c.history[(c.head+i)%len(c.history)].rev)
			}
			if !slices.Equal(got, tt.wantRevs) {
				t.Errorf("history %v, want %v", got, tt.wantRevs)
			}
			if c.oldest != tt.wantOldest {
				t.Errorf("oldest %d, want %d", c.oldest, tt.wantOldest)
			}
		})
	}
}

func revs(from, to int64) []int64 {
	var r []int64
	for i := from; i <= to; i++ {
		r = append(r, i)
	}
	return r
}
