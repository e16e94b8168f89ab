package notify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "contacts.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadContacts(t *testing.T) {
	t.Setenv("CASEREVIEW_WEBHOOK_SECRET_POLICE", "s3cret")
	path := writeFile(t, `{
		"police-north": {
			"email": ["safeguarding@police.example", "duty@police.example"],
			"webhook": {"url": "https://hooks.police.example/casereview", "secretEnv": "CASEREVIEW_WEBHOOK_SECRET_POLICE"}
		},
		"partnership-manager": {"email": ["manager@partnership.example"]}
	}`)
	got, err := LoadContacts(path)
	if err != nil {
		t.Fatalf("LoadContacts: %v", err)
	}
	police := got["police-north"]
	if len(police.Email) != 2 || police.Email[1] != "duty@police.example" {
		t.Errorf("police-north email = %v", police.Email)
	}
	if police.Webhook == nil || police.Webhook.URL != "https://hooks.police.example/casereview" || string(police.Webhook.Secret) != "s3cret" {
		t.Errorf("police-north webhook = %+v, want the URL and the secret from the environment", police.Webhook)
	}
	if m := got["partnership-manager"]; len(m.Email) != 1 || m.Webhook != nil {
		t.Errorf("partnership-manager = %+v", m)
	}
}

func TestLoadContactsErrors(t *testing.T) {
	t.Setenv("SECRET_SET", "x")
	t.Setenv("SECRET_EMPTY", "")
	tests := []struct {
		name    string
		content string
		want    []string // fragments the error must contain
	}{
		{"not JSON", `{"police-north": `, []string{"unexpected EOF"}},
		{"array", `[]`, []string{"cannot unmarshal array"}},
		{"null", `null`, []string{"want a JSON object"}},
		{"empty object", `{}`, []string{"no recipients"}},
		{"trailing data", `{"a": {"email": ["a@b.example"]}} {}`, []string{"trailing data"}},
		{"unknown field", `{"a": {"emails": ["a@b.example"]}}`, []string{`unknown field "emails"`}},
		{"secret in file", `{"a": {"webhook": {"url": "https://h.example", "secret": "x"}}}`, []string{"must not be stored in the file", "secretEnv"}},
		{"unset secret variable", `{"police-north": {"webhook": {"url": "https://h.example", "secretEnv": "SECRET_UNSET_XYZ"}}}`,
			[]string{`"police-north"`, "webhook.secretEnv", "SECRET_UNSET_XYZ", "not set"}},
		{"empty secret variable", `{"a": {"webhook": {"url": "https://h.example", "secretEnv": "SECRET_EMPTY"}}}`, []string{"SECRET_EMPTY", "not set"}},
		{"no secretEnv", `{"a": {"webhook": {"url": "https://h.example"}}}`, []string{`"a"`, "webhook.secretEnv is empty"}},
		{"no channel", `{"health-icb": {}}`, []string{`"health-icb"`, "no channel"}},
		{"bad address", `{"health-icb": {"email": ["ok@icb.example", "not-an-address"]}}`, []string{`"health-icb"`, "email[1]", "not-an-address"}},
		{"display name", `{"a": {"email": ["Duty <duty@a.example>"]}}`, []string{"email[0]", "bare e-mail address"}},
		{"duplicate address", `{"a": {"email": ["x@a.example", "X@a.example"]}}`, []string{"email[1]", "listed twice"}},
		{"relative webhook URL", `{"a": {"webhook": {"url": "/hook", "secretEnv": "SECRET_SET"}}}`, []string{"webhook.url", "not an absolute URL"}},
		{"plain http to another host", `{"a": {"webhook": {"url": "http://hooks.example/x", "secretEnv": "SECRET_SET"}}}`, []string{"webhook.url", "use https"}},
		{"credentials in URL", `{"a": {"webhook": {"url": "https://u:p@hooks.example/x", "secretEnv": "SECRET_SET"}}}`, []string{"must not carry credentials"}},
		{"space in key", `{"police north": {"email": ["a@b.example"]}}`, []string{`"police north"`, "no spaces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadContacts(writeFile(t, tt.content))
			if !errors.Is(err, ErrInvalidContacts) {
				t.Fatalf("LoadContacts() = %v, want ErrInvalidContacts", err)
			}
			for _, frag := range tt.want {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("LoadContacts() = %q, want it to contain %q", err, frag)
				}
			}
		})
	}
}

func TestLoadContactsMissingFile(t *testing.T) {
	_, err := LoadContacts(filepath.Join(t.TempDir(), "absent.json"))
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrInvalidContacts) {
		t.Fatalf("LoadContacts() = %v, want ErrNotExist and ErrInvalidContacts", err)
	}
}

func TestContactsInCode(t *testing.T) {
	cs := Contacts{
		"police-north": {Email: []string{"a@police.example"}},
		"local":        {Webhook: &WebhookEndpoint{URL: "http://127.0.0.1:9/hook", Secret: []byte("k")}},
	}
	if err := cs.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	cs["local"].Webhook.Secret = nil
	if err := cs.Validate(); !errors.Is(err, ErrInvalidContacts) || !strings.Contains(err.Error(), "secret is empty") {
		t.Fatalf("Validate() = %v, want an empty-secret error", err)
	}
}
