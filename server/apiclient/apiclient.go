// Package apiclient is a small Go client of the casereview HTTP API, signed in as a dev user or with an API token.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// Client calls the API as one user.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	csrf    string
	token   string
}

// SignInDev signs in as one of the dev users (dev mode only) and fetches the CSRF token.
func SignInDev(ctx context.Context, baseURL, userID string) (*Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Jar: jar}}
	form := url.Values{"user": {userID}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sign in as %s: %w", userID, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in as %s: status %d", userID, resp.StatusCode)
	}
	c.HTTP.CheckRedirect = nil
	var me struct {
		CSRFToken string `json:"csrfToken"`
	}
	if status, err := c.Get(ctx, "/auth/me", &me); err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("who am I after signing in as %s: status %d: %v", userID, status, err)
	}
	c.csrf = me.CSRFToken
	return c, nil
}

// WithToken returns a client that authenticates with an API token.
func WithToken(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{}, token: token}
}

// Send sends a request with a raw JSON body (nil for none) and returns the response to read and close.
func (c *Client) Send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	return c.SendWith(ctx, method, path, body, nil)
}

// SendWith is Send with extra request headers, such as Idempotency-Key.
func (c *Client) SendWith(ctx context.Context, method, path string, body []byte, header http.Header) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, r)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.HTTP.Do(req)
}

// Do sends a request with a JSON body (nil for none) and decodes a JSON answer into out (nil to
// discard). It returns the status; a problem body is decoded into out like any other.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var b []byte
	if body != nil {
		var ok bool
		if b, ok = body.([]byte); !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return 0, err
			}
		}
	}
	resp, err := c.Send(ctx, method, path, b)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer (status %d): %w", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, nil
}

// Get is Do with GET.
func (c *Client) Get(ctx context.Context, path string, out any) (int, error) {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Post is Do with POST.
func (c *Client) Post(ctx context.Context, path string, body, out any) (int, error) {
	return c.Do(ctx, http.MethodPost, path, body, out)
}

// Command sends a lifecycle command to a case.
func (c *Client) Command(ctx context.Context, caseID, name string, payload, out any) (int, error) {
	if payload == nil {
		payload = []byte("{}")
	}
	return c.Post(ctx, "/api/v1/cases/"+caseID+"/commands/"+name, payload, out)
}

// Cookies are the client's cookies for the server, e.g. to open the live feed.
func (c *Client) Cookies() []*http.Cookie {
	if c.HTTP.Jar == nil {
		return nil // a token client has no cookies
	}
	u, _ := url.Parse(c.BaseURL)
	return c.HTTP.Jar.Cookies(u)
}

// Header returns headers that authenticate a websocket handshake as this client.
func (c *Client) Header() http.Header {
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
		return h
	}
	var parts []string
	for _, ck := range c.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	h.Set("Cookie", strings.Join(parts, "; "))
	return h
}
