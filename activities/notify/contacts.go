package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"sort"
	"strings"
	"unicode"
)

// ErrInvalidContacts is returned for a contacts file or value that cannot be used.
var ErrInvalidContacts = errors.New("invalid contacts")

// Contacts maps a contact key (an agency id such as "police-north" or a
// role such as "partnership-manager") to where its messages go.
type Contacts map[string]Contact

// Contact lists the channels of one recipient. Every channel receives
// every message.
type Contact struct {
	Email   []string         // bare addresses, e.g. safeguarding@police.example
	Webhook *WebhookEndpoint // nil when the recipient has no webhook
}

// WebhookEndpoint is where a recipient's webhook requests go.
type WebhookEndpoint struct {
	URL    string
	Secret []byte // HMAC-SHA256 key shared with the receiver
}

// contactFile is the JSON shape of one recipient in a contacts file.
type contactFile struct {
	Email   []string     `json:"email"`
	Webhook *webhookFile `json:"webhook"`
}

type webhookFile struct {
	URL       string `json:"url"`
	SecretEnv string `json:"secretEnv"`
}

// LoadContacts reads a contacts file such as
//
//	{"police-north": {
//	    "email": ["safeguarding@police.example"],
//	    "webhook": {"url": "https://hooks.police.example/casereview",
//	                "secretEnv": "CASEREVIEW_WEBHOOK_SECRET_POLICE"}}}
//
// Webhook secrets are never stored in the file: each is read from the
// environment variable the file names, and an unset or empty variable is
// an error.
func LoadContacts(path string) (Contacts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidContacts, err)
	}
	c, err := parseContacts(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("contacts file %s: %w", path, err)
	}
	return c, nil
}

func parseContacts(data []byte, lookupEnv func(string) (string, bool)) (Contacts, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	// Unknown fields are refused so that a typo, or a secret pasted in
	// as "secret", is reported rather than silently ignored.
	dec.DisallowUnknownFields()
	var file map[string]contactFile
	if err := dec.Decode(&file); err != nil {
		if strings.Contains(err.Error(), `unknown field "secret"`) {
			return nil, fmt.Errorf("%w: webhook secrets must not be stored in the file: put the secret in an environment variable and name it in \"secretEnv\"", ErrInvalidContacts)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidContacts, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidContacts)
	}
	if file == nil {
		return nil, fmt.Errorf("%w: want a JSON object mapping contact keys to channels", ErrInvalidContacts)
	}
	contacts := make(Contacts, len(file))
	for _, key := range sortedKeys(file) {
		f := file[key]
		c := Contact{Email: f.Email}
		if f.Webhook != nil {
			if f.Webhook.SecretEnv == "" {
				return nil, fmt.Errorf("%w: recipient %q: webhook.secretEnv is empty: name the environment variable that holds the signing secret", ErrInvalidContacts, key)
			}
			secret, ok := lookupEnv(f.Webhook.SecretEnv)
			if !ok || secret == "" {
				return nil, fmt.Errorf("%w: recipient %q: webhook.secretEnv: environment variable %s is not set: set it to the signing secret shared with the receiver", ErrInvalidContacts, key, f.Webhook.SecretEnv)
			}
			c.Webhook = &WebhookEndpoint{URL: f.Webhook.URL, Secret: []byte(secret)}
		}
		contacts[key] = c
	}
	if err := contacts.Validate(); err != nil {
		return nil, err
	}
	return contacts, nil
}

// Validate reports the first unusable entry, naming the recipient and the
// field. Errors match ErrInvalidContacts.
func (cs Contacts) Validate() error {
	if len(cs) == 0 {
		return fmt.Errorf("%w: no recipients", ErrInvalidContacts)
	}
	for _, key := range sortedKeys(cs) {
		if err := cs[key].validate(key); err != nil {
			return err
		}
	}
	return nil
}

func (c Contact) validate(key string) error {
	if strings.TrimSpace(key) == "" || strings.IndexFunc(key, unicode.IsSpace) >= 0 {
		return fmt.Errorf("%w: recipient %q: a contact key must be non-empty and contain no spaces", ErrInvalidContacts, key)
	}
	if len(c.Email) == 0 && c.Webhook == nil {
		return fmt.Errorf("%w: recipient %q: no channel: give at least one of \"email\" or \"webhook\"", ErrInvalidContacts, key)
	}
	seen := make(map[string]bool, len(c.Email))
	for i, addr := range c.Email {
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || a.Name != "" {
			return fmt.Errorf("%w: recipient %q: email[%d] %q is not a bare e-mail address like name@agency.example", ErrInvalidContacts, key, i, addr)
		}
		if seen[strings.ToLower(addr)] {
			return fmt.Errorf("%w: recipient %q: email[%d] %q is listed twice", ErrInvalidContacts, key, i, addr)
		}
		seen[strings.ToLower(addr)] = true
	}
	if w := c.Webhook; w != nil {
		u, err := url.Parse(w.URL)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return fmt.Errorf("%w: recipient %q: webhook.url %q is not an absolute URL", ErrInvalidContacts, key, w.URL)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
			// Plain HTTP only to this machine, e.g. a local relay or a test.
		default:
			return fmt.Errorf("%w: recipient %q: webhook.url %q: use https (plain http is allowed only to localhost)", ErrInvalidContacts, key, w.URL)
		}
		if u.User != nil {
			return fmt.Errorf("%w: recipient %q: webhook.url must not carry credentials: requests are signed with the secret instead", ErrInvalidContacts, key)
		}
		if len(w.Secret) == 0 {
			return fmt.Errorf("%w: recipient %q: webhook secret is empty", ErrInvalidContacts, key)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
