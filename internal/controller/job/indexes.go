package job

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
)

// parseIndexes reads a completedIndexes string such as "1,3-5,7", keeping indexes below limit.
func parseIndexes(s string, limit int) sets.Set[int] {
	out := sets.New[int]()
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < limit; i++ {
			if i >= 0 {
				out.Insert(i)
			}
		}
	}
	return out
}

// formatIndexes renders indexes in increasing order, runs of three or more as "first-last".
func formatIndexes(ix sets.Set[int]) string {
	sorted := sets.List(ix)
	var parts []string
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, strconv.Itoa(sorted[i])+"-"+strconv.Itoa(sorted[j]))
		case j-i == 1:
			parts = append(parts, strconv.Itoa(sorted[i]), strconv.Itoa(sorted[j]))
		default:
			parts = append(parts, strconv.Itoa(sorted[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
