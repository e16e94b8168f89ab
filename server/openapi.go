package server

import (
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"casereview/calendar"
	"casereview/review"
)

// operation documents one route of the API.
type operation struct {
	method, path, summary string
	public                bool  // needs no sign-in
	responses             []int // besides 401/403 for non-public routes
	body                  string
}

// apiOperations is the API as documented. A test checks it against the router both ways.
var apiOperations = []operation{
	{"POST", "/api/v1/cases", "Notify a serious incident and open a case", false, []int{201, 400, 415, 422}, "Notification"},
	{"GET", "/api/v1/cases", "The board: every case the user may see, with stage, next deadline, working days left and RAG", false, []int{200, 304, 400}, ""},
	{"GET", "/api/v1/cases/{id}", "Case detail: stage history, parties, requests, decisions and sign-offs", false, []int{200, 304, 404}, ""},
	{"GET", "/api/v1/cases/{id}/chronology", "The merged multi-agency chronology with missed opportunities", false, []int{200, 304, 404}, ""},
	{"GET", "/api/v1/cases/{id}/analysis", "The Learning Together analysis: episodes, factors, findings, appraisals", false, []int{200, 304, 404}, ""},
	{"GET", "/api/v1/cases/{id}/action-plan", "The internal action plan", false, []int{200, 304, 404}, ""},
	{"GET", "/api/v1/cases/{id}/status", "The case workflow's process state: stage, running clocks, next wake", false, []int{200, 404}, ""},
	{"GET", "/api/v1/cases/{id}/audit", "Every event of the case with its actor", false, []int{200, 304, 400}, ""},
	{"GET", "/api/v1/cases/{id}/as-of", "The case as it stood at ?at=, replayed from the log", false, []int{200, 400, 404}, ""},
	{"POST", "/api/v1/cases/{id}/commands/{name}", "Perform a lifecycle command (a Temporal Update)", false, []int{200, 400, 404, 409, 413, 422}, "Command"},
	{"GET", "/api/v1/inbox", "The signed-in agency's open requests and actions", false, []int{200, 304, 400}, ""},
	{"GET", "/api/v1/audit/log", "Every event of the whole log with its actor", false, []int{200, 304, 400}, ""},
	{"POST", "/api/v1/audit/verify", "Verify the hash chain of the whole log", false, []int{200}, ""},
	{"GET", "/api/v1/live", "Websocket: position-stamped read-model changes after ?since=", false, []int{101, 400}, ""},
	{"GET", "/api/v1/register", "The public register of published reviews", true, []int{200, 304}, ""},
	{"GET", "/api/v1/register/{id}", "A published review: its public report and public action plan", true, []int{200, 304, 404}, ""},
	{"GET", "/api/v1/openapi.json", "This document", true, []int{200}, ""},
	{"POST", "/api/v1/tokens", "Create an API token for a machine client (shown once)", false, []int{201, 400}, ""},
	{"GET", "/api/v1/tokens", "List API tokens", false, []int{200}, ""},
	{"DELETE", "/api/v1/tokens/{id}", "Revoke an API token", false, []int{204, 404}, ""},
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, openAPIDocument())
}

// openAPIDocument builds the OpenAPI 3.1 document; command bodies are derived from the domain's
// command types, so the document cannot drift from what the server decodes.
func openAPIDocument() map[string]any {
	paths := map[string]any{}
	for _, op := range apiOperations {
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		responses := map[string]any{}
		codes := op.responses
		if !op.public {
			codes = append(append([]int{}, codes...), 401, 403)
		}
		for _, c := range codes {
			resp := map[string]any{"description": http.StatusText(c)}
			if c >= 400 {
				resp["content"] = map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}}
			}
			responses[itoa(c)] = resp
		}
		o := map[string]any{"summary": op.summary, "responses": responses, "operationId": operationID(op)}
		var params []any
		for _, seg := range strings.Split(op.path, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}")
				schema := map[string]any{"type": "string"}
				if name == "name" {
					schema["enum"] = commandNames()
				}
				params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": schema})
			}
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.public {
			o["security"] = []any{}
		}
		switch op.body {
		case "Notification":
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(NotificationRequest{}))}}}
		case "Command":
			var one []any
			for _, name := range commandNames() {
				one = append(one, ref("command."+name))
			}
			o["requestBody"] = map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"oneOf": one}}}}
		}
		item[strings.ToLower(op.method)] = o
	}
	schemas := map[string]any{
		"Problem": map[string]any{"type": "object", "description": "RFC 9457 problem document", "properties": map[string]any{
			"type": str(), "title": str(), "status": map[string]any{"type": "integer"}, "detail": str(), "instance": str(), "rule": str(),
			"errors": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"field": str(), "detail": str()}}},
		}},
	}
	for _, name := range commandNames() {
		cmd, _ := review.DecodeCommand(name, review.Actor{}, nil)
		sc := schemaOf(reflect.TypeOf(cmd))
		sc["title"] = name
		schemas["command."+name] = sc
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "casereview API", "version": "1",
			"description": "Runs multi-agency safeguarding case reviews. Sign in with a session cookie (plus X-CSRF-Token on state-changing requests) or an API token (Authorization: Bearer crt_...)."},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}, "session": map[string]any{"type": "apiKey", "in": "cookie", "name": "__Host-casereview"}}},
		"security":   []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}},
	}
}

func commandNames() []string {
	var names []string
	for n := range commandActions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func operationID(op operation) string {
	id := strings.ToLower(op.method)
	for _, seg := range strings.Split(strings.TrimPrefix(op.path, "/api/v1/"), "/") {
		seg = strings.Trim(seg, "{}.")
		seg = strings.ReplaceAll(seg, "-", "")
		seg = strings.ReplaceAll(seg, ".json", "")
		if seg != "" {
			id += strings.ToUpper(seg[:1]) + seg[1:]
		}
	}
	return id
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
func str() map[string]any            { return map[string]any{"type": "string"} }
func itoa(n int) string              { return strconv.Itoa(n) }

var (
	dateType = reflect.TypeOf(calendar.Date{})
	timeType = reflect.TypeOf(time.Time{})
	actorBy  = reflect.TypeOf(review.By{})
)

// schemaOf derives a JSON Schema from a Go type as encoding/json would encode it.
func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == dateType:
		return map[string]any{"type": "string", "format": "date"}
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return str()
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return map[string]any{"type": "integer"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		addFields(t, props)
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type == actorBy {
			continue // the actor is whoever is signed in, never part of the body
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct && f.Type != dateType {
			addFields(f.Type, props)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type)
	}
}
