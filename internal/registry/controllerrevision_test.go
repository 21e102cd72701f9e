package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestControllerRevision(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "controllerrevisions")
	cr := &appsv1.ControllerRevision{ObjectMeta: meta("web-1"), Revision: 1, Data: runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}}
	checkErrors(t, create(s, cr))
	checkErrors(t, create(s, &appsv1.ControllerRevision{ObjectMeta: meta("bad"), Revision: -1}), "Required data", "Invalid revision")

	changed := cr.DeepCopy()
	changed.Data.Raw = []byte(`{"spec":{"x":1}}`)
	checkErrors(t, update(s, changed, cr), "Invalid data")
	relabeled := cr.DeepCopy()
	relabeled.Labels = map[string]string{"a": "b"}
	checkErrors(t, update(s, relabeled, cr))
}
