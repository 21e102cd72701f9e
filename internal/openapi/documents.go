// Package openapi builds the OpenAPI v2 and v3 documents skiff's API server publishes at
// /openapi/v2 and /openapi/v3, by reflection over the Go types of k8s.io/api, and serves them.
//
// kubectl reads them for `explain`, for the strategic merge patches of `apply` (the
// x-kubernetes-patch-* extensions), and to learn that the server validates fields (the
// fieldValidation parameter of PATCH); server-side apply can build its type converter from
// Schemas.
package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-sh/skiff/internal/registry"
)

// Documents holds every OpenAPI document of one API server, built once by Build; nothing in it
// changes afterwards. Protobuf and gzip forms are made on first request and then kept.
type Documents struct {
	v2      *servedDocument
	v3      map[string]*servedDocument // by index key: "api/v1", "apis/apps/v1", "version", ...
	v3Index *servedDocument
	schemas map[string]*spec.Schema
	built   time.Time
}

// servedDocument is one document in its JSON form, with its protobuf and gzip forms on demand.
type servedDocument struct {
	json []byte
	etag string // upper-case hex SHA-512 of json, as upstream computes it
	// toProto converts json to its gnostic protobuf form; nil when there is none.
	toProto func([]byte) ([]byte, error)

	proto     lazyBytes
	jsonGzip  lazyBytes
	protoGzip lazyBytes
}

// lazyBytes is a byte slice computed at most once, on first use.
type lazyBytes struct {
	once sync.Once
	b    []byte
	err  error
}

func (l *lazyBytes) get(compute func() ([]byte, error)) ([]byte, error) {
	l.once.Do(func() { l.b, l.err = compute() })
	return l.b, l.err
}

func newServedDocument(data []byte, toProto func([]byte) ([]byte, error)) *servedDocument {
	return &servedDocument{json: data, etag: fmt.Sprintf("%X", sha512.Sum512(data)), toProto: toProto}
}

func (d *servedDocument) protobuf() ([]byte, error) {
	return d.proto.get(func() ([]byte, error) {
		b, err := d.toProto(d.json)
		if err != nil {
			return nil, fmt.Errorf("convert OpenAPI document to protobuf: %w", err)
		}
		return b, nil
	})
}

func v2ToProto(data []byte) ([]byte, error) {
	doc, err := openapi_v2.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(doc)
}

func v3ToProto(data []byte) ([]byte, error) {
	doc, err := openapi_v3.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(doc)
}

func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("gzip OpenAPI document: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip OpenAPI document: %w", err)
	}
	return buf.Bytes(), nil
}

// v3IndexDocument is the body of /openapi/v3: where each group/version's document is.
type v3IndexDocument struct {
	Paths map[string]v3IndexEntry `json:"paths"`
}

type v3IndexEntry struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// Build generates all documents for the given resources; version is the server version the
// documents' info.version reports (e.g. "v1.37.2").
func Build(resources []*registry.Resource, version string) (*Documents, error) {
	surface, err := describeAPI(resources)
	if err != nil {
		return nil, fmt.Errorf("describe API paths: %w", err)
	}
	semantics, err := loadMergeSemantics()
	if err != nil {
		return nil, err
	}

	// The two versions spell references and a few scalars differently, so each gets its own
	// pass over the types; reflection is cheap next to serialisation.
	v2Models := newModelBuilder(dialectV2, semantics)
	if err := defineAll(v2Models, surface); err != nil {
		return nil, fmt.Errorf("build v2 definitions: %w", err)
	}
	v3Models := newModelBuilder(dialectV3, semantics)
	if err := defineAll(v3Models, surface); err != nil {
		return nil, fmt.Errorf("build v3 definitions: %w", err)
	}

	docs := &Documents{v3: map[string]*servedDocument{}, schemas: v3Models.defs, built: time.Now()}

	// Serialising is most of the cost: do v2 beside the v3 documents.
	var wg sync.WaitGroup
	var v2JSON []byte
	var v2Err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		v2JSON, v2Err = renderV2(surface, v2Models, version).MarshalJSON()
	}()
	v3Docs := renderV3(surface, v3Models, version)
	keys := make([]string, 0, len(v3Docs))
	for key := range v3Docs {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	index := v3IndexDocument{Paths: map[string]v3IndexEntry{}}
	schemaJSON := map[string][]byte{}
	for _, key := range keys {
		data, err := marshalV3Document(v3Docs[key], schemaJSON)
		if err != nil {
			wg.Wait()
			return nil, fmt.Errorf("serialise OpenAPI v3 document %s: %w", key, err)
		}
		doc := newServedDocument(data, v3ToProto)
		docs.v3[key] = doc
		index.Paths[key] = v3IndexEntry{ServerRelativeURL: v3DocumentURL(key, doc.etag)}
	}
	wg.Wait()
	if v2Err != nil {
		return nil, fmt.Errorf("serialise OpenAPI v2 document: %w", v2Err)
	}
	docs.v2 = newServedDocument(v2JSON, v2ToProto)

	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, fmt.Errorf("serialise OpenAPI v3 index: %w", err)
	}
	docs.v3Index = newServedDocument(indexJSON, nil)
	return docs, nil
}

// marshalV3Document serialises doc. The core definitions appear in the documents of most
// group/versions (everything holding a pod template reaches most of core/v1), so each definition is
// serialised once, into schemaJSON, and copied into every document that uses it; this halves the
// cost of Build.
func marshalV3Document(doc *spec3.OpenAPI, schemaJSON map[string][]byte) ([]byte, error) {
	info, err := json.Marshal(doc.Info)
	if err != nil {
		return nil, fmt.Errorf("info: %w", err)
	}
	paths, err := doc.Paths.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	securitySchemes, err := json.Marshal(doc.Components.SecuritySchemes)
	if err != nil {
		return nil, fmt.Errorf("security schemes: %w", err)
	}
	security, err := json.Marshal(doc.SecurityRequirement)
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for name := range doc.Components.Schemas {
		names = append(names, name)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	buf.Grow(len(paths) + 1024*len(names))
	version, _ := json.Marshal(doc.Version)
	buf.WriteString(`{"openapi":`)
	buf.Write(version)
	buf.WriteString(`,"info":`)
	buf.Write(info)
	buf.WriteString(`,"paths":`)
	buf.Write(paths)
	buf.WriteString(`,"components":{"schemas":{`)
	for i, name := range names {
		data, ok := schemaJSON[name]
		if !ok {
			data, err = doc.Components.Schemas[name].MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("schema %s: %w", name, err)
			}
			schemaJSON[name] = data
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		quoted, _ := json.Marshal(name)
		buf.Write(quoted)
		buf.WriteByte(':')
		buf.Write(data)
	}
	buf.WriteString(`},"securitySchemes":`)
	buf.Write(securitySchemes)
	buf.WriteString(`},"security":`)
	buf.Write(security)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// v3DocumentURL is the content-addressed URL of a v3 document, as the index lists it.
func v3DocumentURL(key, etag string) string {
	u := url.URL{Path: path.Join("/openapi/v3", key), RawQuery: url.Values{"hash": {etag}}.Encode()}
	return u.String()
}

// Schemas returns the v3 definitions keyed by name, e.g. for managedfields.NewTypeConverter.
// The map is the caller's; the schemas are shared and must not be modified.
func (d *Documents) Schemas() map[string]*spec.Schema {
	out := make(map[string]*spec.Schema, len(d.schemas))
	for name, s := range d.schemas {
		out[name] = s
	}
	return out
}
