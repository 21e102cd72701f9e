package openapi

import (
	"sort"

	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const (
	docTitle           = "Kubernetes"
	bearerTokenName    = "BearerToken"
	bearerTokenSummary = "Bearer Token authentication"
)

// operationExtensions are the x-kubernetes-action and x-kubernetes-group-version-kind of op.
func operationExtensions(op *operation) spec.Extensions {
	if op.action == "" {
		return nil
	}
	return spec.Extensions{
		extAction: op.action,
		extGVK:    map[string]interface{}{"group": op.gvk.Group, "version": op.gvk.Version, "kind": op.gvk.Kind},
	}
}

// renderV2 assembles the swagger 2.0 document from the surface and the v2 definitions.
func renderV2(surface *apiSurface, b *modelBuilder, version string) *spec.Swagger {
	paths := &spec.Paths{Paths: make(map[string]spec.PathItem, len(surface.items))}
	for _, item := range surface.items {
		pi := spec.PathItem{}
		for _, p := range item.params {
			pi.Parameters = append(pi.Parameters, v2Param(p))
		}
		for _, op := range item.ops {
			o := &spec.Operation{
				OperationProps: spec.OperationProps{
					Description: op.description,
					Consumes:    op.consumes,
					Produces:    op.produces,
					Schemes:     []string{"https"},
					Tags:        []string{op.tag},
					ID:          op.id,
					Responses:   &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{}}},
				},
				VendorExtensible: spec.VendorExtensible{Extensions: operationExtensions(op)},
			}
			if op.body != nil {
				ref := b.ref(modelName(op.body))
				o.Parameters = append(o.Parameters, spec.Parameter{ParamProps: spec.ParamProps{
					Name: "body", In: "body", Required: !op.bodyOptional, Schema: &ref,
				}})
			}
			for _, p := range op.params {
				o.Parameters = append(o.Parameters, v2Param(p))
			}
			for _, r := range op.responses {
				resp := spec.Response{ResponseProps: spec.ResponseProps{Description: r.description}}
				if s := responseSchema(b, r); s != nil {
					resp.Schema = s
				}
				o.Responses.StatusCodeResponses[r.code] = resp
			}
			setOperation(&pi.PathItemProps, op.method, o)
		}
		paths.Paths[item.path] = pi
	}

	defs := make(spec.Definitions, len(b.defs))
	for name, s := range b.defs {
		defs[name] = *s
	}
	return &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: docTitle, Version: version}},
		Paths:       paths,
		Definitions: defs,
		SecurityDefinitions: spec.SecurityDefinitions{bearerTokenName: &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
			Type: "apiKey", Name: "authorization", In: "header", Description: bearerTokenSummary,
		}}},
		Security: []map[string][]string{{bearerTokenName: {}}},
	}}
}

func v2Param(p param) spec.Parameter {
	return spec.Parameter{
		ParamProps:        spec.ParamProps{Name: p.name, In: p.in, Description: p.description, Required: p.required},
		SimpleSchema:      spec.SimpleSchema{Type: p.typ},
		CommonValidations: spec.CommonValidations{UniqueItems: true},
	}
}

func setOperation(pi *spec.PathItemProps, method string, o *spec.Operation) {
	switch method {
	case "get":
		pi.Get = o
	case "put":
		pi.Put = o
	case "post":
		pi.Post = o
	case "delete":
		pi.Delete = o
	case "patch":
		pi.Patch = o
	case "head":
		pi.Head = o
	case "options":
		pi.Options = o
	}
}

func responseSchema(b *modelBuilder, r response) *spec.Schema {
	switch {
	case r.model != nil:
		s := b.ref(modelName(r.model))
		return &s
	case r.scalar != "":
		s := scalar(r.scalar, "")
		return &s
	}
	return nil
}

// renderV3 assembles one OpenAPI 3.0 document per group/version (and per discovery path) from the
// surface and the v3 definitions; each document carries only the definitions its paths reach.
func renderV3(surface *apiSurface, b *modelBuilder, version string) map[string]*spec3.OpenAPI {
	docs := map[string]*spec3.OpenAPI{}
	roots := map[string]map[string]struct{}{}
	for _, item := range surface.items {
		doc, ok := docs[item.doc]
		if !ok {
			doc = &spec3.OpenAPI{
				Version:             "3.0.0",
				Info:                &spec.Info{InfoProps: spec.InfoProps{Title: docTitle, Version: version}},
				Paths:               &spec3.Paths{Paths: map[string]*spec3.Path{}},
				SecurityRequirement: []map[string][]string{{bearerTokenName: {}}},
			}
			docs[item.doc] = doc
			roots[item.doc] = map[string]struct{}{}
		}
		path := &spec3.Path{}
		for _, p := range item.params {
			path.Parameters = append(path.Parameters, v3Param(p))
		}
		for _, op := range item.ops {
			o := &spec3.Operation{
				OperationProps: spec3.OperationProps{
					Tags:        []string{op.tag},
					Description: op.description,
					OperationId: op.id,
					Responses:   &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{}}},
				},
				VendorExtensible: spec.VendorExtensible{Extensions: operationExtensions(op)},
			}
			for _, p := range op.params {
				o.Parameters = append(o.Parameters, v3Param(p))
			}
			if op.body != nil {
				name := modelName(op.body)
				roots[item.doc][name] = struct{}{}
				o.RequestBody = &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{
					Content: mediaContent(op.consumes, b.ref(name)), Required: !op.bodyOptional,
				}}
			}
			for _, r := range op.responses {
				resp := &spec3.Response{ResponseProps: spec3.ResponseProps{Description: r.description}}
				if s := responseSchema(b, r); s != nil {
					resp.Content = mediaContent(op.produces, *s)
				}
				if r.model != nil {
					roots[item.doc][modelName(r.model)] = struct{}{}
				}
				o.Responses.StatusCodeResponses[r.code] = resp
			}
			setOperationV3(&path.PathProps, op.method, o)
		}
		doc.Paths.Paths[item.path] = path
	}

	for key, doc := range docs {
		names := make([]string, 0, len(roots[key]))
		for name := range roots[key] {
			names = append(names, name)
		}
		sort.Strings(names)
		schemas := map[string]*spec.Schema{}
		for name := range b.closure(names) {
			schemas[name] = b.defs[name]
		}
		doc.Components = &spec3.Components{
			Schemas: schemas,
			SecuritySchemes: spec3.SecuritySchemes{bearerTokenName: &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
				Type: "apiKey", Name: "authorization", In: "header", Description: bearerTokenSummary,
			}}},
		}
	}
	return docs
}

func v3Param(p param) *spec3.Parameter {
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: p.name, In: p.in, Description: p.description, Required: p.required,
		Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{p.typ}, UniqueItems: true}},
	}}
}

func mediaContent(mediaTypes []string, s spec.Schema) map[string]*spec3.MediaType {
	content := make(map[string]*spec3.MediaType, len(mediaTypes))
	for _, mt := range mediaTypes {
		schemaCopy := s
		content[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: &schemaCopy}}
	}
	return content
}

func setOperationV3(pp *spec3.PathProps, method string, o *spec3.Operation) {
	switch method {
	case "get":
		pp.Get = o
	case "put":
		pp.Put = o
	case "post":
		pp.Post = o
	case "delete":
		pp.Delete = o
	case "patch":
		pp.Patch = o
	case "head":
		pp.Head = o
	case "options":
		pp.Options = o
	}
}

// defineAll builds the definitions of every root type and tags the kinds with their GVKs.
func defineAll(b *modelBuilder, surface *apiSurface) error {
	for _, t := range surface.roots {
		if _, err := b.define(t); err != nil {
			return err
		}
	}
	for t, gvks := range surface.kinds {
		name := modelName(t)
		for _, gvk := range gvks {
			b.addGVK(name, gvk.Group, gvk.Version, gvk.Kind)
		}
	}
	return nil
}
