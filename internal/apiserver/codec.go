package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// maxBodyBytes is the largest request body accepted, as upstream (3 MiB).
const maxBodyBytes = 3 << 20

// codecs holds the scheme and serializers shared by all handlers; immutable after newCodecs.
type codecs struct {
	scheme *runtime.Scheme
	json   *jsonserializer.Serializer // lenient
	strict *jsonserializer.Serializer // reports unknown and duplicate fields
	yaml   *jsonserializer.Serializer // strict YAML
	proto  *protobuf.Serializer
	raw    *protobuf.RawSerializer // watch event frames
}

func newCodecs() (*codecs, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	mf := jsonserializer.DefaultMetaFactory
	return &codecs{
		scheme: s,
		json:   jsonserializer.NewSerializerWithOptions(mf, s, s, jsonserializer.SerializerOptions{}),
		strict: jsonserializer.NewSerializerWithOptions(mf, s, s, jsonserializer.SerializerOptions{Strict: true}),
		yaml:   jsonserializer.NewSerializerWithOptions(mf, s, s, jsonserializer.SerializerOptions{Yaml: true, Strict: true}),
		proto:  protobuf.NewSerializer(s, s),
		raw:    protobuf.NewRawSerializer(s, s),
	}, nil
}

// encodeJSON encodes a typed object (its TypeMeta must be set) or an unstructured one.
func (c *codecs) encodeJSON(obj runtime.Object) ([]byte, error) {
	if u, ok := obj.(runtime.Unstructured); ok {
		return json.Marshal(u)
	}
	var buf bytes.Buffer
	if err := c.json.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// encodeProto encodes a typed object (its TypeMeta must be set) as Kubernetes protobuf.
func (c *codecs) encodeProto(obj runtime.Object) ([]byte, error) {
	var out keptWrites
	if err := c.proto.Encode(obj, &out); err != nil {
		return nil, err
	}
	return out.data, nil
}

// keptWrites keeps what is written to it. The protobuf serializer writes an object in one Write
// of a buffer it allocated for that call alone, so the first write is kept as it is rather than
// copied into a growing bytes.Buffer (one allocation and copy less per encoded object; this runs
// for every object stored and every protobuf response).
type keptWrites struct {
	data   []byte
	writes int
}

func (k *keptWrites) Write(p []byte) (int, error) {
	if k.writes == 0 {
		k.data = p
	} else {
		k.data = append(k.data[:len(k.data):len(k.data)], p...) // never into the first buffer's spare room
	}
	k.writes++
	return len(p), nil
}

// storageCodec encodes objects of one kind for etcd: Kubernetes protobuf, which decodes several
// times faster than JSON; JSON values (written by older versions) still decode.
type storageCodec struct {
	c   *codecs
	gvk schema.GroupVersionKind
	new func() runtime.Object
}

func (s storageCodec) Encode(obj runtime.Object) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(s.gvk)
	return s.c.encodeProto(obj)
}

func (s storageCodec) Decode(data []byte) (runtime.Object, error) {
	into := s.new()
	dec := runtime.Decoder(s.c.proto)
	if len(data) > 0 && data[0] == '{' {
		dec = s.c.json
	}
	obj, _, err := dec.Decode(data, &s.gvk, into)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(s.gvk)
	return obj, nil
}

// readBody reads a request body within the size limit.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	if len(data) > maxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d bytes", maxBodyBytes))
	}
	return data, nil
}

// bodyToJSON turns a JSON or YAML request body into JSON, per its Content-Type.
func bodyToJSON(contentType string, body []byte) ([]byte, error) {
	mt := mediaType(contentType)
	switch mt {
	case "application/yaml", "application/apply-patch+yaml":
		out, err := yaml.YAMLToJSONStrict(body)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error converting YAML to JSON: %v", err))
		}
		return out, nil
	case "", "application/json", "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "*/*":
		if !json.Valid(body) {
			var v interface{}
			err := json.Unmarshal(body, &v)
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml: %v", err))
		}
		return body, nil
	}
	return nil, unsupportedMediaType(contentType)
}

func mediaType(contentType string) string {
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

const protobufType = "application/vnd.kubernetes.protobuf"

// decodeBody decodes a request body of any supported media type (JSON, YAML, protobuf) into
// into, whose kind is gvk. Field validation applies to JSON and YAML.
func (c *codecs) decodeBody(contentType string, body []byte, gvk schema.GroupVersionKind, into runtime.Object, fieldValidation string) (runtime.Object, []string, error) {
	if _, ok := into.(*unstructured.Unstructured); ok {
		u, err := decodeUnstructured(contentType, body, gvk)
		return u, nil, err
	}
	if mediaType(contentType) == protobufType {
		obj, _, err := c.proto.Decode(body, &gvk, into)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding protobuf request body: %v", err))
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		return obj, nil, nil
	}
	data, err := bodyToJSON(contentType, body)
	if err != nil {
		return nil, nil, err
	}
	return c.decodeTyped(data, gvk, into, fieldValidation)
}

// decodeOptions decodes a small options body (DeleteOptions, Binding, Eviction, Scale, ...) of
// any supported media type into into.
func (c *codecs) decodeOptions(contentType string, body []byte, into runtime.Object) error {
	if mediaType(contentType) == protobufType {
		if _, _, err := c.proto.Decode(body, nil, into); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("error decoding protobuf request body: %v", err))
		}
		return nil
	}
	data, err := bodyToJSON(contentType, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("error decoding request body: %v", err))
	}
	return nil
}

// decodeTyped decodes JSON (or, for custom resources, into an unstructured object) into a new object of the handler's kind, reporting unknown or
// duplicate fields per fieldValidation ("Strict" errors, "Warn" returns them as warnings).
func (c *codecs) decodeTyped(data []byte, gvk schema.GroupVersionKind, into runtime.Object, fieldValidation string) (runtime.Object, []string, error) {
	if _, ok := into.(*unstructured.Unstructured); ok {
		u, err := decodeUnstructured("application/json", data, gvk)
		return u, nil, err
	}
	dec := c.strict
	if fieldValidation == "Ignore" {
		dec = c.json
	}
	obj, _, err := dec.Decode(data, &gvk, into)
	var warnings []string
	if err != nil {
		if se, ok := runtime.AsStrictDecodingError(err); ok && obj != nil {
			for _, e := range se.Errors() {
				warnings = append(warnings, e.Error())
			}
			if fieldValidation == "Strict" {
				return nil, nil, apierrors.NewBadRequest("strict decoding error: " + strings.Join(warnings, ", "))
			}
		} else {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding request body: %v", err))
		}
	}
	got := obj.GetObjectKind().GroupVersionKind()
	if got.Kind != "" && got.Kind != gvk.Kind || (got.Version != "" && got.GroupVersion() != gvk.GroupVersion()) {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), gvk.GroupVersion()))
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, warnings, nil
}

func unsupportedMediaType(ct string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType,
		Reason: metav1.StatusReasonUnsupportedMediaType, Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got %q)", ct)}}
}

// writeJSON writes a JSON response.
func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	writeRaw(w, code, "application/json", data)
}

func writeRaw(w http.ResponseWriter, code int, contentType string, data []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeError writes err as a Kubernetes Status with its HTTP code.
func writeError(w http.ResponseWriter, err error) {
	status := apierrors.APIStatus(nil)
	if s, ok := err.(apierrors.APIStatus); ok {
		status = s
	} else {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	writeJSON(w, int(st.Code), st)
}
