package apiserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/printers"
	"github.com/skiff-sh/skiff/internal/store"
)

// outputMode is the response shape the client's Accept header asks for.
type outputMode int

const (
	outputJSON outputMode = iota
	outputYAML
	outputTable
	outputMetadata
	outputProtobuf
	// outputMetadataProtobuf is PartialObjectMetadata(List) as protobuf, what client-go's
	// metadata client (the garbage collector's informers) asks for first.
	outputMetadataProtobuf
)

// output is the response shape for this resource: custom resources have no protobuf form.
func (h *resourceHandler) output(r *http.Request) outputMode {
	m := outputFor(r)
	if m == outputProtobuf && h.custom {
		return outputJSON
	}
	return m
}

func outputFor(r *http.Request) outputMode {
	accept := r.Header.Get("Accept")
	// The first acceptable entry wins; clients list their preferences in order.
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		mt := mediaType(part)
		switch {
		case strings.Contains(part, "as=Table"):
			if mt == "application/json" {
				return outputTable
			}
		case strings.Contains(part, "as=PartialObjectMetadata"):
			switch mt {
			case "application/json":
				return outputMetadata
			case protobufType:
				return outputMetadataProtobuf
			}
		case mt == "application/yaml":
			return outputYAML
		case mt == protobufType && !strings.Contains(part, "as="):
			return outputProtobuf
		case mt == "application/json", mt == "*/*", mt == "application/*", mt == "":
			return outputJSON
		}
	}
	return outputJSON
}

// toServed converts a stored object to the served version (a no-op for most resources).
func (h *resourceHandler) toServed(obj runtime.Object) runtime.Object {
	if h.conv == nil {
		return obj
	}
	return h.conv.fromStorage(obj)
}

func (h *resourceHandler) encodeItemProto(o *store.Object) ([]byte, error) {
	if h.conv == nil {
		return o.Protobuf(h.s.codecs.encodeProto)
	}
	return h.s.codecs.encodeProto(h.conv.fromStorage(o.Obj))
}

func (h *resourceHandler) encodeItem(o *store.Object) ([]byte, error) {
	if h.conv == nil {
		return o.JSON(h.s.codecs.encodeJSON)
	}
	return h.s.codecs.encodeJSON(h.conv.fromStorage(o.Obj))
}

// writeStored writes one stored object, reusing the encodings cached with it (shared with
// watch events) when the client takes the object whole.
func (h *resourceHandler) writeStored(w http.ResponseWriter, r *http.Request, code int, o *store.Object) {
	var data []byte
	var err error
	switch h.output(r) {
	case outputProtobuf:
		data, err = h.encodeItemProto(o)
		if err == nil {
			writeRaw(w, code, protobufType, data)
		}
	case outputJSON:
		data, err = h.encodeItem(o)
		if err == nil {
			writeRaw(w, code, "application/json", data)
		}
	default:
		h.writeObject(w, r, code, o.Obj)
		return
	}
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
	}
}

// writeObject writes one stored object in the shape the client asked for.
func (h *resourceHandler) writeObject(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	obj = h.toServed(obj)
	switch mode := h.output(r); mode {
	case outputTable:
		t, err := printers.ToTable(h.printer, []runtime.Object{obj}, r.URL.Query().Get("includeObject"), time.Now())
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		t.Kind, t.APIVersion = "Table", "meta.k8s.io/v1"
		if acc, err := meta.Accessor(obj); err == nil {
			t.ResourceVersion = acc.GetResourceVersion()
		}
		writeJSON(w, code, t)
	case outputMetadata:
		writeJSON(w, code, partialMetadata(obj))
	case outputProtobuf, outputMetadataProtobuf:
		if mode == outputMetadataProtobuf {
			obj = partialMetadata(obj)
		}
		data, err := h.s.codecs.encodeProto(obj)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeRaw(w, code, protobufType, data)
	case outputYAML:
		data, err := h.s.codecs.encodeJSON(obj)
		if err == nil {
			data, err = yaml.JSONToYAML(data)
		}
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeRaw(w, code, "application/yaml", data)
	default:
		data, err := h.s.codecs.encodeJSON(obj)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeRaw(w, code, "application/json", data)
	}
}

func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	acc, _ := meta.Accessor(obj)
	p := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}}
	if om, ok := acc.(*metav1.ObjectMeta); ok {
		p.ObjectMeta = *om
	} else if acc != nil {
		p.ObjectMeta = metav1.ObjectMeta{Name: acc.GetName(), Namespace: acc.GetNamespace(), UID: acc.GetUID(),
			ResourceVersion: acc.GetResourceVersion(), Generation: acc.GetGeneration(), CreationTimestamp: acc.GetCreationTimestamp(),
			DeletionTimestamp: acc.GetDeletionTimestamp(), DeletionGracePeriodSeconds: acc.GetDeletionGracePeriodSeconds(),
			Labels: acc.GetLabels(), Annotations: acc.GetAnnotations(), OwnerReferences: acc.GetOwnerReferences(),
			Finalizers: acc.GetFinalizers(), ManagedFields: acc.GetManagedFields(), GenerateName: acc.GetGenerateName()}
	}
	return p
}

func listMeta(res *store.ListResult) metav1.ListMeta {
	return metav1.ListMeta{ResourceVersion: strconv.FormatInt(res.ResourceVersion, 10), Continue: res.Continue, RemainingItemCount: res.Remaining}
}

// writeList writes a list; plain JSON lists are assembled from each object's cached encoding.
func (h *resourceHandler) writeList(w http.ResponseWriter, r *http.Request, res *store.ListResult) {
	lm := listMeta(res)
	switch mode := h.output(r); mode {
	case outputTable:
		objs := make([]runtime.Object, len(res.Items))
		for i, it := range res.Items {
			objs[i] = h.toServed(it.Obj)
		}
		t, err := printers.ToTable(h.printer, objs, r.URL.Query().Get("includeObject"), time.Now())
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		t.Kind, t.APIVersion = "Table", "meta.k8s.io/v1"
		t.ListMeta = lm
		writeJSON(w, http.StatusOK, t)
		return
	case outputProtobuf:
		list := h.res.NewList()
		list.GetObjectKind().SetGroupVersionKind(h.res.GroupVersion().WithKind(h.res.ListKind))
		objs := make([]runtime.Object, len(res.Items))
		for i, it := range res.Items {
			objs[i] = h.toServed(it.Obj)
		}
		if err := meta.SetList(list, objs); err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		if la, err := meta.ListAccessor(list); err == nil {
			la.SetResourceVersion(lm.ResourceVersion)
			la.SetContinue(lm.Continue)
			la.SetRemainingItemCount(lm.RemainingItemCount)
		}
		data, err := h.s.codecs.encodeProto(list)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeRaw(w, http.StatusOK, protobufType, data)
		return
	case outputMetadata, outputMetadataProtobuf:
		l := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"}, ListMeta: lm}
		l.Items = make([]metav1.PartialObjectMetadata, len(res.Items))
		for i, it := range res.Items {
			l.Items[i] = *partialMetadata(it.Obj)
		}
		if mode == outputMetadata {
			writeJSON(w, http.StatusOK, l)
			return
		}
		data, err := h.s.codecs.encodeProto(l)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeRaw(w, http.StatusOK, protobufType, data)
		return
	case outputYAML, outputJSON:
		var buf bytes.Buffer
		apiVersion := h.res.Version
		if h.res.Group != "" {
			apiVersion = h.res.Group + "/" + h.res.Version
		}
		lmData, _ := json.Marshal(lm)
		fmt.Fprintf(&buf, `{"kind":%q,"apiVersion":%q,"metadata":%s,"items":[`, h.res.ListKind, apiVersion, lmData)
		for i, it := range res.Items {
			if i > 0 {
				buf.WriteByte(',')
			}
			data, err := h.encodeItem(it)
			if err != nil {
				writeError(w, apierrors.NewInternalError(err))
				return
			}
			buf.Write(data)
		}
		buf.WriteString("]}")
		if mode == outputYAML {
			data, err := yaml.JSONToYAML(buf.Bytes())
			if err != nil {
				writeError(w, apierrors.NewInternalError(err))
				return
			}
			writeRaw(w, http.StatusOK, "application/yaml", data)
			return
		}
		writeRaw(w, http.StatusOK, "application/json", buf.Bytes())
	}
}

// watch streams events as newline-delimited JSON WatchEvents.
func (h *resourceHandler) watch(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	q := r.URL.Query()
	sel, err := h.parseSelection(r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts := store.WatchOptions{Predicate: h.predicate(sel), Bookmarks: q.Get("allowWatchBookmarks") == "true",
		SendInitialEvents: q.Get("sendInitialEvents") == "true", NewObject: h.newServedEmpty}
	if ri.namespace != "" {
		opts.Prefix = ri.namespace + "/"
	}
	opts.Consistent = q.Get("resourceVersion") == ""
	if rv := q.Get("resourceVersion"); rv != "" && rv != "0" {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv)))
			return
		}
		opts.ResourceVersion = n
	}
	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if ts := q.Get("timeoutSeconds"); ts != "" {
		n, err := strconv.Atoi(ts)
		if err != nil || n < 0 {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", ts)))
			return
		}
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	watcher, err := h.storage.Watch(ctx, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	defer watcher.Stop()
	mode := h.output(r)
	flusher, _ := w.(http.Flusher)
	protoStream := mode == outputProtobuf || mode == outputMetadataProtobuf
	if protoStream {
		w.Header().Set("Content-Type", protobufType+";stream=watch")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	includeObject := q.Get("includeObject")
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return
			}
			buf.Reset()
			if protoStream {
				if err := h.encodeProtoEvent(&buf, ev, mode == outputMetadataProtobuf); err != nil {
					return
				}
			} else {
				fmt.Fprintf(&buf, `{"type":%q,"object":`, ev.Type)
				if err := h.encodeEvent(&buf, ev, mode, includeObject); err != nil {
					return
				}
				buf.WriteString("}\n")
			}
			// Drain whatever else is queued before flushing, to batch bursts into one write.
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			if len(watcher.ResultChan()) == 0 && flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// encodeProtoEvent writes one length-prefixed protobuf WatchEvent frame, as client-go reads
// watch streams of application/vnd.kubernetes.protobuf; metadata events carry the object's
// PartialObjectMetadata.
func (h *resourceHandler) encodeProtoEvent(buf *bytes.Buffer, ev store.Event, metadataOnly bool) error {
	var data []byte
	var err error
	switch {
	case metadataOnly:
		data, err = h.s.codecs.encodeProto(partialMetadata(ev.Object.Obj))
	case ev.Type == watch.Bookmark:
		data, err = h.s.codecs.encodeProto(ev.Object.Obj)
	default:
		data, err = h.encodeItemProto(ev.Object)
	}
	if err != nil {
		return err
	}
	var frame bytes.Buffer
	we := &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: data}}
	if err := h.s.codecs.raw.Encode(we, &frame); err != nil {
		return err
	}
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(frame.Len()))
	buf.Write(size[:])
	buf.Write(frame.Bytes())
	return nil
}

func (h *resourceHandler) newServedEmpty() runtime.Object {
	obj := h.res.New()
	obj.GetObjectKind().SetGroupVersionKind(h.res.GVK())
	return obj
}

func (h *resourceHandler) encodeEvent(buf *bytes.Buffer, ev store.Event, mode outputMode, includeObject string) error {
	switch mode {
	case outputTable:
		if ev.Type == watch.Bookmark {
			data, err := json.Marshal(partialMetadata(ev.Object.Obj))
			buf.Write(data)
			return err
		}
		t, err := printers.ToTable(h.printer, []runtime.Object{h.toServed(ev.Object.Obj)}, includeObject, time.Now())
		if err != nil {
			return err
		}
		t.Kind, t.APIVersion = "Table", "meta.k8s.io/v1"
		data, err := json.Marshal(t)
		buf.Write(data)
		return err
	case outputMetadata:
		data, err := json.Marshal(partialMetadata(ev.Object.Obj))
		buf.Write(data)
		return err
	}
	if ev.Type == watch.Bookmark {
		data, err := h.s.codecs.encodeJSON(ev.Object.Obj)
		buf.Write(data)
		return err
	}
	data, err := h.encodeItem(ev.Object)
	buf.Write(data)
	return err
}
