package scheduler

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// podSelector matches pod labels. Most selectors in affinity terms and
// spread constraints are plain matchLabels; those are compiled to
// key/value pairs checked with one map lookup each, because the filters
// evaluate them against every pod in the cluster. Anything else falls back
// to the apimachinery selector.
type podSelector struct {
	equal   []labelPair
	general labels.Selector // nil when equal says it all
	nothing bool            // a nil LabelSelector selects nothing
}

type labelPair struct{ key, value string }

func newPodSelector(ls *metav1.LabelSelector) (podSelector, error) {
	if ls == nil {
		return podSelector{nothing: true}, nil
	}
	if len(ls.MatchExpressions) == 0 {
		ps := podSelector{equal: make([]labelPair, 0, len(ls.MatchLabels))}
		for k, v := range ls.MatchLabels {
			ps.equal = append(ps.equal, labelPair{k, v})
		}
		// Validate like LabelSelectorAsSelector would.
		if _, err := metav1.LabelSelectorAsSelector(ls); err != nil {
			return podSelector{}, err
		}
		return ps, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return podSelector{}, err
	}
	return podSelector{general: sel}, nil
}

func (s *podSelector) matches(l map[string]string) bool {
	switch {
	case s.nothing:
		return false
	case s.general != nil:
		return s.general.Matches(labels.Set(l))
	}
	for _, p := range s.equal {
		if v, ok := l[p.key]; !ok || v != p.value {
			return false
		}
	}
	return true
}
