package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/munnerz/goautoneg"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Media types of the documents. Clients ask for the protobuf forms under both spellings; the
// response names the dotted one, as upstream does.
const (
	mediaJSON          = "application/json"
	mediaV2Proto       = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaV2ProtoLegacy = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mediaV3Proto       = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
	mediaV3ProtoLegacy = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
)

// gzipMinSize is the smallest body worth compressing.
const gzipMinSize = 1400

// representation is one media type a document can be served as.
type representation struct {
	accept      string // as it appears in Accept
	contentType string // as the response names it
	protobuf    bool
}

var (
	v2Representations = []representation{
		{accept: mediaJSON, contentType: mediaJSON},
		{accept: mediaV2ProtoLegacy, contentType: mediaV2Proto, protobuf: true},
		{accept: mediaV2Proto, contentType: mediaV2Proto, protobuf: true},
	}
	v3Representations = []representation{
		{accept: mediaJSON, contentType: mediaJSON},
		{accept: mediaV3Proto, contentType: mediaV3Proto, protobuf: true},
		{accept: mediaV3ProtoLegacy, contentType: mediaV3Proto, protobuf: true},
	}
)

// ServeHTTP serves /openapi/v2, the /openapi/v3 index and /openapi/v3/<group-version> documents,
// in JSON or protobuf by the Accept header, with ETags (conditional requests answer 304),
// gzip when asked, and long-lived caching of v3 documents requested by their ?hash=. Anything
// else is 404.
func (d *Documents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/openapi/v2":
		d.serve(w, r, d.v2, v2Representations)
	case p == "/openapi/v3" || p == "/openapi/v3/":
		d.serve(w, r, d.v3Index, v3Representations[:1])
	case strings.HasPrefix(p, "/openapi/v3/"):
		key := strings.TrimPrefix(p, "/openapi/v3/")
		doc, ok := d.v3[key]
		if !ok {
			notFound(w)
			return
		}
		if hash := r.URL.Query().Get("hash"); hash != "" {
			if hash != doc.etag {
				// The client holds a stale index: send it to the current document.
				http.Redirect(w, r, v3DocumentURL(key, doc.etag), http.StatusMovedPermanently)
				return
			}
			// The URL names the content, so it can be cached for good.
			w.Header().Set("Cache-Control", "public, immutable")
			w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
		}
		d.serve(w, r, doc, v3Representations)
	default:
		notFound(w)
	}
}

// serve writes doc in the first of reps the request accepts.
func (d *Documents) serve(w http.ResponseWriter, r *http.Request, doc *servedDocument, reps []representation) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Accept-Encoding")
	rep, ok := negotiate(r.Header.Get("Accept"), reps)
	if !ok && len(reps) == 1 {
		// A document with a single form (the v3 index) is sent whatever Accept says, as upstream does.
		rep, ok = reps[0], true
	}
	if !ok {
		http.Error(w, "none of the accepted media types is offered; use "+reps[0].accept, http.StatusNotAcceptable)
		return
	}
	body, lazyGzip := doc.json, &doc.jsonGzip
	if rep.protobuf {
		b, err := doc.protobuf()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body, lazyGzip = b, &doc.protoGzip
	}
	if len(body) >= gzipMinSize && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		zipped, err := lazyGzip.get(func() ([]byte, error) { return gzipped(body) })
		if err == nil {
			body = zipped
			w.Header().Set("Content-Encoding", "gzip")
		}
	}
	w.Header().Set("Content-Type", rep.contentType)
	// Every representation shares the JSON's ETag: Vary keeps caches from mixing them up.
	w.Header().Set("Etag", strconv.Quote(doc.etag))
	http.ServeContent(w, r, "", d.built, bytes.NewReader(body))
}

// negotiate picks the representation of the most preferred Accept clause; no Accept header means
// anything.
func negotiate(accept string, reps []representation) (representation, bool) {
	if strings.TrimSpace(accept) == "" {
		accept = "*/*"
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		if clause.Q <= 0 {
			continue
		}
		for _, rep := range reps {
			typ, sub, _ := strings.Cut(rep.accept, "/")
			if (clause.Type == typ || clause.Type == "*") && (clause.SubType == sub || clause.SubType == "*") {
				return rep, true
			}
		}
	}
	return representation{}, false
}

func acceptsGzip(acceptEncoding string) bool {
	for _, part := range strings.Split(acceptEncoding, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// notFound answers as the API server does for paths it does not serve: a NotFound Status.
func notFound(w http.ResponseWriter) {
	status := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  "the server could not find the requested resource",
		Reason:   metav1.StatusReasonNotFound,
		Details:  &metav1.StatusDetails{},
		Code:     http.StatusNotFound,
	}
	body, _ := json.Marshal(status)
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}
