package server

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"casereview/auth"
	"casereview/review"
)

// newTestServer builds a Server with a real authenticator and dev sign-in and no case backend:
// enough to route requests and serve the documents that need no read models.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	store, err := auth.OpenStore(context.Background(), filepath.Join(t.TempDir(), "auth.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a, err := auth.New(auth.Config{Store: store, InsecureCookies: true, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := auth.NewDevSignIn(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Auth: a, SignIn: dev, Logger: zerolog.Nop()})
	t.Cleanup(s.Close)
	return s
}

// fetchOpenAPI gets the document the way a client does, through the whole handler.
func fetchOpenAPI(t *testing.T, s *Server) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("the OpenAPI document is not valid JSON: %v", err)
	}
	return doc
}

// samplePath fills a path template's parameters with values the router accepts.
func samplePath(template string) string {
	r := strings.NewReplacer("{id}", "CR-0000TEST", "{name}", "SendNotification")
	return r.Replace(template)
}

func TestOpenAPIDocumentIsServedAndValid(t *testing.T) {
	doc := fetchOpenAPI(t, newTestServer(t))
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == "" || info["version"] == "" {
		t.Errorf("info = %v: title and version are required", info)
	}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("the document has no paths")
	}
	ids := map[string]string{}
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if id == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if prev, dup := ids[id]; dup {
				t.Errorf("operationId %q is used by %s and %s %s", id, prev, method, path)
			}
			ids[id] = method + " " + path
			if responses, _ := o["responses"].(map[string]any); len(responses) == 0 {
				t.Errorf("%s %s documents no responses", method, path)
			}
			// Every {param} in the path is declared, and nothing else.
			var declared []string
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				declared = append(declared, p.(map[string]any)["name"].(string))
			}
			var inPath []string
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				inPath = append(inPath, m[1])
			}
			if !slices.Equal(declared, inPath) {
				t.Errorf("%s %s declares path parameters %v; the path has %v", method, path, declared, inPath)
			}
		}
	}
	// Every $ref points at a schema that exists.
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	raw, _ := json.Marshal(doc)
	for _, m := range regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := schemas[m[1]]; !ok {
			t.Errorf("$ref to missing schema %q", m[1])
		}
	}
}

// TestOpenAPIMatchesRouter checks the document against the router both ways: every documented
// operation is routed to exactly its own pattern (not to the /api/ catch-all, not a 405), and every
// /api/ pattern registered in the server's and auth's source is documented.
func TestOpenAPIMatchesRouter(t *testing.T) {
	s := newTestServer(t)
	doc := fetchOpenAPI(t, s)
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			pattern := strings.ToUpper(method) + " " + path
			documented[pattern] = true
			req := httptest.NewRequest(strings.ToUpper(method), samplePath(path), nil)
			if _, got := s.mux.Handler(req); got != pattern {
				t.Errorf("documented %s is routed to %q", pattern, got)
			}
		}
	}

	registered := registeredAPIPatterns(t, ".", filepath.Join("..", "auth"))
	if len(registered) < len(apiOperations)/2 {
		t.Fatalf("found only %d registered /api/ patterns in the source (%v): the scan is broken", len(registered), registered)
	}
	for _, pattern := range registered {
		method, path, _ := strings.Cut(pattern, " ")
		req := httptest.NewRequest(method, samplePath(path), nil)
		if _, got := s.mux.Handler(req); got != pattern {
			// A pattern in the source that the server does not route is dead code or a helper's
			// string; either way the router, not the scan, is the truth.
			t.Errorf("%s appears in a Handle call but the server routes it to %q", pattern, got)
			continue
		}
		if !documented[pattern] {
			t.Errorf("the server serves %s but the OpenAPI document does not list it; add it to apiOperations", pattern)
		}
	}
}

// registeredAPIPatterns returns every "METHOD /api/..." string literal passed as the first argument
// of a Handle or HandleFunc call in the non-test Go files of dirs. Scanning the source is how the
// test sees registrations, since http.ServeMux cannot list its patterns.
func registeredAPIPatterns(t *testing.T, dirs ...string) []string {
	t.Helper()
	apiPattern := regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE) /api/`)
	var out []string
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				v, err := strconv.Unquote(lit.Value)
				if err == nil && apiPattern.MatchString(v) && !slices.Contains(out, v) {
					out = append(out, v)
				}
				return true
			})
		}
	}
	return out
}

// TestOpenAPICommandSchemasDecode builds, for every command in the document, a body holding every
// property of its schema with a value of the documented type, and checks that review.DecodeCommand
// accepts it: a property the schema names but the decoder does not know, or a type it documents
// wrongly, fails here. It also checks that the documented commands are exactly the decodable ones
// people may send.
func TestOpenAPICommandSchemasDecode(t *testing.T) {
	doc := fetchOpenAPI(t, newTestServer(t))
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	cmdPath := doc["paths"].(map[string]any)["/api/v1/cases/{id}/commands/{name}"].(map[string]any)["post"].(map[string]any)
	var enum []string
	for _, p := range cmdPath["parameters"].([]any) {
		if p := p.(map[string]any); p["name"] == "name" {
			for _, v := range p["schema"].(map[string]any)["enum"].([]any) {
				enum = append(enum, v.(string))
			}
		}
	}
	if len(enum) == 0 {
		t.Fatal("the command path documents no command names")
	}
	oneOf := cmdPath["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["oneOf"].([]any)
	if len(oneOf) != len(enum) {
		t.Errorf("%d command bodies for %d command names", len(oneOf), len(enum))
	}
	known := review.CommandNames()
	actor := review.Actor{UserID: "u-test", Role: review.RoleBusinessUnit, Agency: "partnership"}
	for _, name := range enum {
		t.Run(name, func(t *testing.T) {
			if !slices.Contains(known, name) {
				t.Fatalf("documented command %s is not a domain command (review.CommandNames)", name)
			}
			schema, ok := schemas["command."+name].(map[string]any)
			if !ok {
				t.Fatalf("no schema command.%s", name)
			}
			// Commands such as SignOffRapidReview carry nothing but the signed-in actor: an
			// object with no properties, but always an object that refuses others.
			props, ok := schema["properties"].(map[string]any)
			if !ok || schema["type"] != "object" || schema["additionalProperties"] != false {
				t.Fatalf("schema command.%s = %v; want an object with properties and additionalProperties false", name, schema)
			}
			body, err := json.Marshal(sampleValue(schema))
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := review.DecodeCommand(name, actor, body)
			if err != nil {
				t.Fatalf("a body built from the documented schema does not decode: %v\nbody: %s", err, body)
			}
			if cmd.CommandName() != name || review.ActorOf(cmd) != actor {
				t.Errorf("decoded %s by %+v", cmd.CommandName(), review.ActorOf(cmd))
			}
			// The round trip: what the command encodes to holds every documented property.
			back, _ := json.Marshal(cmd)
			var encoded map[string]any
			json.Unmarshal(back, &encoded)
			for p := range props {
				if _, ok := encoded[p]; !ok && !embeddedIn(encoded, p) {
					t.Errorf("documented property %q is not in the command's JSON %s", p, back)
				}
			}
			// And the decoder refuses what the document says is not allowed.
			var extra map[string]any
			json.Unmarshal(body, &extra)
			extra["notAField"] = true
			bad, _ := json.Marshal(extra)
			if _, err := review.DecodeCommand(name, actor, bad); err == nil {
				t.Errorf("a property outside the schema was accepted; the schema says additionalProperties false")
			}
		})
	}
}

// embeddedIn reports whether key appears one level down, as an embedded struct's fields do when the
// command type marshals through a nested object.
func embeddedIn(m map[string]any, key string) bool {
	for _, v := range m {
		if sub, ok := v.(map[string]any); ok {
			if _, ok := sub[key]; ok {
				return true
			}
		}
	}
	return false
}

// sampleValue returns a non-empty value of the type a schema documents.
func sampleValue(schema map[string]any) any {
	switch schema["type"] {
	case "string":
		switch schema["format"] {
		case "date":
			return "2024-03-01"
		case "date-time":
			return "2024-03-01T12:00:00Z"
		}
		if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
			return enum[0]
		}
		return "sample"
	case "integer":
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "array":
		items, _ := schema["items"].(map[string]any)
		return []any{sampleValue(items)}
	case "object":
		out := map[string]any{}
		if props, ok := schema["properties"].(map[string]any); ok {
			for name, p := range props {
				out[name] = sampleValue(p.(map[string]any))
			}
		} else if ap, ok := schema["additionalProperties"].(map[string]any); ok {
			out["key"] = sampleValue(ap)
		}
		return out
	}
	return nil
}
