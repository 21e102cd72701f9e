package garbagecollector

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Discovery is the part of the discovery client the garbage collector uses.
type Discovery interface {
	ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error)
	ServerPreferredResources() ([]*metav1.APIResourceList, error)
}

// mapping is where objects of one kind live.
type mapping struct {
	resource   schema.GroupVersionResource
	namespaced bool
}

// restMapper maps the apiVersion/kind of owner references to resources, refreshing from
// discovery when it meets a kind it does not know (a CRD installed since the last look).
type restMapper struct {
	discovery   Discovery
	minInterval time.Duration

	mu          sync.Mutex
	byKind      map[schema.GroupVersionKind]mapping
	lastRefresh time.Time
}

func newRESTMapper(d Discovery) *restMapper {
	return &restMapper{discovery: d, minInterval: 5 * time.Second, byKind: map[schema.GroupVersionKind]mapping{}}
}

// refresh reloads all group versions. Partial discovery failures keep what was found.
func (m *restMapper) refresh() error {
	_, lists, err := m.discovery.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("discovering resources: %w", err)
	}
	byKind := map[schema.GroupVersionKind]mapping{}
	eachResource(lists, func(gv schema.GroupVersion, r metav1.APIResource) {
		byKind[gv.WithKind(r.Kind)] = mapping{resource: gv.WithResource(r.Name), namespaced: r.Namespaced}
	})
	m.mu.Lock()
	m.byKind = byKind
	m.lastRefresh = time.Now()
	m.mu.Unlock()
	return nil
}

// lookup returns the mapping of apiVersion/kind.
func (m *restMapper) lookup(apiVersion, kind string) (mapping, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return mapping{}, fmt.Errorf("parsing apiVersion %q: %w", apiVersion, err)
	}
	gvk := gv.WithKind(kind)
	m.mu.Lock()
	mp, ok := m.byKind[gvk]
	stale := time.Since(m.lastRefresh) > m.minInterval
	m.mu.Unlock()
	if ok {
		return mp, nil
	}
	if stale {
		if err := m.refresh(); err != nil {
			return mapping{}, err
		}
		m.mu.Lock()
		mp, ok = m.byKind[gvk]
		m.mu.Unlock()
		if ok {
			return mp, nil
		}
	}
	return mapping{}, fmt.Errorf("no resource known for %s", gvk)
}

// deletableResources lists the preferred-version resources the collector must watch: those
// that can be listed, watched and deleted, except ignored ones.
func deletableResources(d Discovery, ignored []schema.GroupResource) (map[schema.GroupVersionResource]string, error) {
	lists, err := d.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discovering preferred resources: %w", err)
	}
	out := map[schema.GroupVersionResource]string{}
	eachResource(lists, func(gv schema.GroupVersion, r metav1.APIResource) {
		if !slices.Contains(r.Verbs, "delete") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "watch") {
			return
		}
		gvr := gv.WithResource(r.Name)
		if !slices.Contains(ignored, gvr.GroupResource()) {
			out[gvr] = r.Kind
		}
	})
	return out, err
}

// eachResource calls f for every resource of a discovery answer, skipping subresources and
// groups whose version does not parse.
func eachResource(lists []*metav1.APIResourceList, f func(schema.GroupVersion, metav1.APIResource)) {
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if !strings.Contains(r.Name, "/") {
				f(gv, r)
			}
		}
	}
}
