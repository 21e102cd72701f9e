package store

import (
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Object is a stored object as read: the decoded object (read-only: DeepCopy before changing it)
// and its JSON encoding, computed once and shared by every list and watch that sends it.
type Object struct {
	Obj   runtime.Object
	raw   atomic.Pointer[[]byte]
	proto atomic.Pointer[[]byte]
}

func newObject(obj runtime.Object) *Object { return &Object{Obj: obj} }

// JSON returns the object's encoding by enc, cached after the first call. enc must be the same
// function for every caller of one Object (the storage-version JSON encoder).
func (o *Object) JSON(enc func(runtime.Object) ([]byte, error)) ([]byte, error) {
	if p := o.raw.Load(); p != nil {
		return *p, nil
	}
	data, err := enc(o.Obj)
	if err != nil {
		return nil, err
	}
	o.raw.Store(&data)
	return data, nil
}

// Protobuf returns the object's protobuf encoding by enc, cached like JSON.
func (o *Object) Protobuf(enc func(runtime.Object) ([]byte, error)) ([]byte, error) {
	if p := o.proto.Load(); p != nil {
		return *p, nil
	}
	data, err := enc(o.Obj)
	if err != nil {
		return nil, err
	}
	o.proto.Store(&data)
	return data, nil
}

// Event is one watch event.
type Event struct {
	Type   watch.EventType
	Object *Object
}
