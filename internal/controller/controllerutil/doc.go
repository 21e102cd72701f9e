// Package controllerutil holds the small pieces every workload controller needs and that upstream
// Kubernetes keeps in its controller package: controller references (adopt/release), pod
// readiness and availability, creation/deletion expectations, slow-start batching, template hashing,
// ControllerRevision history, event recording, the routing of owned objects' events to their
// owners (OwnedEvents) and the worker loop around a workqueue (Workers) that every controller runs.
//
// Everything here is stateless or owned by the controller instance that created it; there is no
// package-level mutable state.
package controllerutil
