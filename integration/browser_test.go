package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"casereview/calendar"
	"casereview/eventstore"
	"casereview/review"
)

// chromiumPath finds Chromium: $CHROMIUM, else the usual names on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium, chromium-browser or google-chrome on PATH and $CHROMIUM unset; install Debian's chromium package (apt-get install chromium) to run the browser tests")
}

// axeSource reads axe-core: $CASEREVIEW_AXE, else .ci/node/node_modules/axe-core/axe.min.js as
// .ci/run installs it.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CASEREVIEW_AXE")
	if path == "" {
		path = filepath.Join("..", ".ci", "node", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v; install it with: npm install --prefix .ci/node axe-core@4 (or set CASEREVIEW_AXE to axe.min.js)", err)
	}
	return string(b)
}

// artifactsDir is where screenshots go: $CASEREVIEW_ARTIFACTS, else test-artifacts/screenshots at
// the repository root, which CI keeps.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CASEREVIEW_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserRig holds what every browser session of a test shares.
type browserRig struct {
	t        *testing.T
	sys      *system
	chromium string
	axe      string
	shots    string
}

// session is one browser with its own profile, so its own cookies: one signed-in person.
func (b *browserRig) session() context.Context {
	b.t.Helper()
	// The profile is removed by hand once the browser has gone: Chromium's helper processes may
	// still be writing to it when the test's own temporary directories are removed.
	profile, err := os.MkdirTemp("", "casereview-chromium-")
	if err != nil {
		b.t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(b.chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b.t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first Run starts the browser and must use the session's own context, which lives as
	// long as the test: a Run under a shorter context would end the browser with it. The pages'
	// Content-Security-Policy stays in force, so the live feed is tested under it; axe is injected
	// through the DevTools protocol, which that policy does not govern.
	if err := chromedp.Run(ctx); err != nil {
		b.t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs actions with a time limit, failing the test with what was being done.
func (b *browserRig) run(ctx context.Context, what string, actions ...chromedp.Action) {
	b.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(tctx, actions...); err != nil {
		// Say where the browser was and what it showed: a timeout alone says nothing.
		var where, shown string
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		defer dcancel()
		chromedp.Run(dctx, chromedp.Location(&where), chromedp.Evaluate(`document.body ? document.body.innerText.slice(0, 2000) : ""`, &shown))
		b.t.Fatalf("%s: %v\nat %s showing:\n%s", what, err, where, shown)
	}
}

// signIn signs the session in as a dev user and waits for the board (or inbox) to load.
func (b *browserRig) signIn(ctx context.Context, userID string) {
	b.t.Helper()
	b.run(ctx, "sign in as "+userID,
		chromedp.Navigate(b.sys.http.URL+"/signin"),
		chromedp.WaitReady(`form`),
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector('input[name="user"][value=%q]').form.submit()`, userID), nil),
		chromedp.WaitVisible(`a.skip-link`, chromedp.ByQuery),
	)
}

// axeViolation is one serious or critical finding of axe-core.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// check runs axe-core on the page and fails on serious or critical violations; it saves a
// screenshot at full width and one at 320 CSS pixels, where the page must not scroll sideways.
func (b *browserRig) check(ctx context.Context, name string) {
	b.t.Helper()
	var raw string
	script := b.axe + `;
axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  return JSON.stringify(r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; })
    .map(function (v) { return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) { return n.target.join(" "); })}; }));
})`
	b.run(ctx, "axe on "+name, chromedp.Evaluate(script, &raw, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	var violations []axeViolation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		b.t.Fatalf("axe on %s: %v", name, err)
	}
	for _, v := range violations {
		b.t.Errorf("page %s: axe %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
	}
	var full, narrow []byte
	var scrollWidth int
	var wide []string
	b.run(ctx, "screenshot "+name,
		chromedp.FullScreenshot(&full, 100),
		chromedp.EmulateViewport(320, 800),
		chromedp.Evaluate(`document.documentElement.scrollWidth`, &scrollWidth),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("body *")).filter(function (e) {
  return e.getBoundingClientRect().right > 321 && !e.closest(".table-wrap");
}).slice(0, 5).map(function (e) { return e.tagName + "." + e.className + " " + (e.id || ""); })`, &wide),
		chromedp.FullScreenshot(&narrow, 100),
		chromedp.EmulateViewport(1280, 900),
	)
	if scrollWidth > 320 {
		b.t.Errorf("page %s: at 320px wide the page is %dpx wide; it must reflow without sideways scrolling; too wide: %v", name, scrollWidth, wide)
	}
	for file, img := range map[string][]byte{name + ".png": full, name + "-320.png": narrow} {
		if err := os.WriteFile(filepath.Join(b.shots, file), img, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// waitText waits until the element's text contains want, as a live update delivers it.
func (b *browserRig) waitText(ctx context.Context, sel, want string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := chromedp.Run(tctx, chromedp.Text(sel, &got, chromedp.ByQuery))
		cancel()
		if err == nil && strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s shows %q; want %q", sel, got, want)
}

func (b *browserRig) text(ctx context.Context, sel string) string {
	b.t.Helper()
	var s string
	b.run(ctx, "read "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// TestBrowser drives the pages in headless Chromium as a coordinator, an agency lead, an auditor
// and a member of the public would.
func TestBrowser(t *testing.T) {
	chromium, err := chromiumPath()
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal(err) // .ci/run installs Chromium: in CI its absence is a broken set-up, not a skip
	}
	if err != nil {
		t.Skip("Chromium absent: " + err.Error())
	}
	axe := axeSource(t)
	sys, clock := startBrowserSystem(t)
	const published = "CR-PUBL1SHD"
	seedPublishedCase(t, sys, clock, published)
	b := &browserRig{t: t, sys: sys, chromium: chromium, axe: axe, shots: artifactsDir(t)}

	t.Run("CaseAppearsLive", func(t *testing.T) {
		b := &browserRig{t: t, sys: b.sys, chromium: b.chromium, axe: b.axe, shots: b.shots}
		watcher := b.session()
		b.signIn(watcher, "dev-partner-la")
		b.run(watcher, "open the board", chromedp.Navigate(sys.http.URL+"/"), chromedp.WaitVisible(`#case-rows`, chromedp.ByQuery),
			chromedp.Evaluate(`window.notReloaded = true`, nil))
		b.check(watcher, "board")

		coord := b.session()
		b.signIn(coord, "dev-coordinator")
		b.run(coord, "open the new case form", chromedp.Navigate(sys.http.URL+"/cases/new"), chromedp.WaitVisible(`#outline`, chromedp.ByQuery))
		b.check(coord, "new-case")
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		// Without an outline the form comes back with the error beside the field.
		b.run(coord, "send a notification without an outline",
			chromedp.SetValue(`#framework`, "lcspr/wt2023", chromedp.ByQuery),
			chromedp.SetValue(`#awarenessDate`, yesterday, chromedp.ByQuery),
			chromedp.SetValue(`#incidentDate`, yesterday, chromedp.ByQuery),
			chromedp.SetValue(`#nature`, "serious-harm", chromedp.ByQuery),
			chromedp.Submit(`#outline`, chromedp.ByQuery),
			chromedp.WaitVisible(`#outline-error`, chromedp.ByQuery),
		)
		var describedBy string
		var ok bool
		b.run(coord, "read the outline's description", chromedp.AttributeValue(`#outline`, "aria-describedby", &describedBy, &ok, chromedp.ByQuery))
		if !strings.Contains(describedBy, "outline-error") {
			t.Errorf("outline aria-describedby = %q, want it to name outline-error", describedBy)
		}
		b.check(coord, "new-case-errors")
		b.run(coord, "send the notification",
			chromedp.SetValue(`#outline`, "Invented outline for a browser test.", chromedp.ByQuery),
			chromedp.Submit(`#outline`, chromedp.ByQuery),
			chromedp.WaitVisible(`#process`, chromedp.ByQuery),
		)
		h1 := b.text(coord, "h1")
		id := strings.TrimPrefix(h1, "Case ")
		if !strings.HasPrefix(id, "CR-") {
			t.Fatalf("case page heading %q", h1)
		}
		b.check(coord, "case")

		b.run(watcher, "see the new case on the board", chromedp.WaitVisible("#case-"+id, chromedp.ByID))
		var still bool
		b.run(watcher, "check the board did not reload", chromedp.Evaluate(`window.notReloaded === true`, &still))
		if !still {
			t.Error("the board reloaded; it should update in place")
		}

		// The coordinator moves the case on from its page; the board follows without a reload.
		b.run(coord, "send the notification to the Panel",
			chromedp.Click(`details:has(#form-SendNotification) summary`, chromedp.ByQuery),
			chromedp.SetValue(`#f-SendNotification-reference`, "SIN-1", chromedp.ByQuery),
			chromedp.Submit(`#f-SendNotification-reference`, chromedp.ByQuery),
			chromedp.WaitVisible(`.notice`, chromedp.ByQuery),
		)
		if got := b.text(coord, ".notice"); !strings.Contains(got, "Recorded: Send notification") {
			t.Errorf("notice %q", got)
		}
		if got := b.text(coord, `[aria-current="step"]`); !strings.Contains(got, "Rapid review") {
			t.Errorf("current stage %q, want the rapid review", got)
		}
		b.waitText(watcher, "#case-"+id, "Rapid review")

		// A command the rules refuse comes back with the message beside its field.
		b.run(coord, "record rapid review facts without facts",
			chromedp.Click(`details:has(#form-RecordRapidReviewFacts) summary`, chromedp.ByQuery),
			chromedp.Submit(`#f-RecordRapidReviewFacts-facts`, chromedp.ByQuery),
			chromedp.WaitVisible(`#f-RecordRapidReviewFacts-facts-error`, chromedp.ByQuery),
		)
		b.run(coord, "read the facts field's description", chromedp.AttributeValue(`#f-RecordRapidReviewFacts-facts`, "aria-describedby", &describedBy, &ok, chromedp.ByQuery))
		if !strings.Contains(describedBy, "f-RecordRapidReviewFacts-facts-error") {
			t.Errorf("facts aria-describedby = %q", describedBy)
		}
		b.check(coord, "case-command-error")
		b.run(coord, "record the rapid review facts",
			chromedp.SetValue(`#f-RecordRapidReviewFacts-facts`, "Invented facts.", chromedp.ByQuery),
			chromedp.SetValue(`#f-RecordRapidReviewFacts-agenciesInvolved`, "police-north\nhealth-visiting", chromedp.ByQuery),
			chromedp.Submit(`#f-RecordRapidReviewFacts-facts`, chromedp.ByQuery),
			chromedp.WaitVisible(`.notice`, chromedp.ByQuery),
		)
		if got := b.text(coord, ".notice"); !strings.Contains(got, "Recorded: Record rapid review facts") {
			t.Errorf("notice %q", got)
		}
	})

	t.Run("AgencyUploadsChronology", func(t *testing.T) {
		b := &browserRig{t: t, sys: b.sys, chromium: b.chromium, axe: b.axe, shots: b.shots}
		id := caseAwaitingEvidence(t, sys, "police-north")
		lead := b.session()
		b.signIn(lead, "dev-lead-police-north")
		b.run(lead, "open the inbox", chromedp.Navigate(sys.http.URL+"/inbox"), chromedp.WaitVisible(`#upload-file`, chromedp.ByQuery))
		b.check(lead, "inbox")
		// One entry by form: a date that does not exist comes back beside the date field.
		b.run(lead, "add an entry with an impossible date",
			chromedp.SetValue(`#entry-case`, id, chromedp.ByQuery),
			chromedp.SetValue(`#entry-entry_id`, "PN-0", chromedp.ByQuery),
			chromedp.SetValue(`#entry-date`, "2021-02-30", chromedp.ByQuery),
			chromedp.SetValue(`#entry-description`, "Home visit", chromedp.ByQuery),
			chromedp.Submit(`#entry-description`, chromedp.ByQuery),
			chromedp.WaitVisible(`#entry-date-error`, chromedp.ByQuery),
		)
		var describedBy string
		var ok bool
		b.run(lead, "read the date field's description", chromedp.AttributeValue(`#entry-date`, "aria-describedby", &describedBy, &ok, chromedp.ByQuery))
		if !strings.Contains(describedBy, "entry-date-error") {
			t.Errorf("date aria-describedby = %q", describedBy)
		}
		b.check(lead, "inbox-entry-error")
		b.run(lead, "add the entry with its date corrected",
			chromedp.SetValue(`#entry-date`, "2021-02-03", chromedp.ByQuery),
			chromedp.Submit(`#entry-description`, chromedp.ByQuery),
			chromedp.WaitVisible(`.notice`, chromedp.ByQuery),
		)
		if got := b.text(lead, ".notice"); !strings.Contains(got, "1 chronology entry recorded") {
			t.Errorf("notice %q", got)
		}

		dir := t.TempDir()
		bad := filepath.Join(dir, "bad.csv")
		good := filepath.Join(dir, "good.csv")
		header := "entry_id,date,source_ref,description,child_seen,child_views_sought,significance\n"
		writeFile(t, bad, header+"PN-1,2021-05-14,POL-7,\"Call-out to the home, no arrest\",yes,no,key\nPN-2,2021-13-02,,Welfare check,no,no,background\n")
		writeFile(t, good, header+"PN-1,2021-05-14,POL-7,\"Call-out to the home, no arrest\",yes,no,key\nPN-2,~2021-06,,Welfare check,no,no,background\n")
		b.run(lead, "upload a file with a bad row",
			chromedp.SetValue(`#upload-case`, id, chromedp.ByQuery),
			chromedp.SetUploadFiles(`#upload-file`, []string{bad}, chromedp.ByQuery),
			chromedp.Submit(`#upload-file`, chromedp.ByQuery),
			chromedp.WaitVisible(`#row-errors`, chromedp.ByQuery),
		)
		if got := b.text(lead, "#row-errors tbody"); !strings.Contains(got, "3") || !strings.Contains(got, "date") || !strings.Contains(got, "2021-13-02") {
			t.Errorf("row errors %q, want row 3's date named", got)
		}
		b.check(lead, "inbox-upload-errors")
		if v, err := sys.db.Chronology(context.Background(), id); err != nil || len(v.Entries) != 1 {
			t.Fatalf("after a bad upload the chronology holds %d entries (%v); want only the one added by form", len(v.Entries), err)
		}
		b.run(lead, "upload the corrected file",
			chromedp.SetValue(`#upload-case`, id, chromedp.ByQuery),
			chromedp.SetUploadFiles(`#upload-file`, []string{good}, chromedp.ByQuery),
			chromedp.Submit(`#upload-file`, chromedp.ByQuery),
			chromedp.WaitVisible(`.notice`, chromedp.ByQuery),
		)
		if got := b.text(lead, ".notice"); !strings.Contains(got, "2 chronology entries recorded") {
			t.Errorf("notice %q", got)
		}
		v, err := sys.db.Chronology(context.Background(), id)
		if err != nil || len(v.Entries) != 3 {
			t.Fatalf("chronology after upload: %+v (%v), want 3 entries", v.Entries, err)
		}
		b.run(lead, "open the case", chromedp.Navigate(sys.http.URL+"/cases/"+id), chromedp.WaitVisible(`.timeline`, chromedp.ByQuery))
		if got := b.text(lead, ".timeline"); !strings.Contains(got, "Call-out to the home, no arrest") || !strings.Contains(got, "c. June 2021") {
			t.Errorf("timeline %q", got)
		}
		b.check(lead, "case-agency")
	})

	t.Run("AuditorVerifiesAndReplays", func(t *testing.T) {
		b := &browserRig{t: t, sys: b.sys, chromium: b.chromium, axe: b.axe, shots: b.shots}
		auditor := b.session()
		b.signIn(auditor, "dev-auditor")
		b.run(auditor, "open the audit page", chromedp.Navigate(sys.http.URL+"/audit"), chromedp.WaitVisible(`#verify`, chromedp.ByQuery))
		b.check(auditor, "audit")
		b.run(auditor, "verify the log", chromedp.Submit(`form[action="/audit/verify"] button`, chromedp.ByQuery), chromedp.WaitVisible(`#head-hash`, chromedp.ByQuery))
		shown := b.text(auditor, "#head-hash")
		res, err := eventstore.Verify(context.Background(), sys.store, sys.store.ChainScope())
		if err != nil {
			t.Fatal(err)
		}
		// Events (access records) may land after the page's check, so the page's head is at most the latest.
		if shown == "" || len(shown) != len(res.HeadHash) {
			t.Errorf("head hash shown %q; the log's head is %q", shown, res.HeadHash)
		}
		if got := b.text(auditor, "#verify-result"); !strings.Contains(got, "intact") {
			t.Errorf("verification says %q", got)
		}
		b.check(auditor, "audit-verified")
		b.run(auditor, "open the published case as of 4 October 2022",
			chromedp.SetValue(`#audit-case-id`, published, chromedp.ByQuery),
			chromedp.SetValue(`#audit-case-at`, "2022-10-04", chromedp.ByQuery),
			chromedp.Submit(`#audit-case-id`, chromedp.ByQuery),
			chromedp.WaitVisible(`#as-of-stage`, chromedp.ByQuery),
		)
		rules, err := review.Rules("lcspr/wt2023")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := rules.Stage("terms-of-reference")
		if got := b.text(auditor, "#as-of-stage"); got != want.Title {
			t.Errorf("as of 4 October 2022 the case is at %q, want %q", got, want.Title)
		}
		b.check(auditor, "audit-case-as-of")
	})

	t.Run("PublicRegister", func(t *testing.T) {
		b := &browserRig{t: t, sys: b.sys, chromium: b.chromium, axe: b.axe, shots: b.shots}
		public := b.session()
		b.run(public, "open the sign-in page", chromedp.Navigate(sys.http.URL+"/signin"), chromedp.WaitVisible(`h1`, chromedp.ByQuery))
		b.check(public, "signin")
		b.run(public, "open the register", chromedp.Navigate(sys.http.URL+"/register"), chromedp.WaitVisible(`.register`, chromedp.ByQuery))
		b.check(public, "register")
		b.run(public, "open the published review", chromedp.Click(`a[href="/register/`+published+`"]`, chromedp.ByQuery), chromedp.WaitVisible(`#action-plan`, chromedp.ByQuery))
		plan := b.text(public, "#action-plan")
		for _, want := range []string{"Police tell health visitors", "audit shows 90% of call-outs shared", "audit: 94% of call-outs shared", "Completed awaiting evidence"} {
			if !strings.Contains(plan, want) {
				t.Errorf("public action plan lacks %q: %q", want, plan)
			}
		}
		if got := b.text(public, ".report-text"); !strings.Contains(got, "Agencies did not share") || strings.Contains(got, "Invented Child") {
			t.Errorf("published text %q", got)
		}
		b.check(public, "published-review")
		// The public sees nothing else.
		resp, err := http.Get(sys.http.URL + "/cases/" + published)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request.URL.Path != "/signin" {
			t.Errorf("anonymous case page ended at %s, want the sign-in page", resp.Request.URL.Path)
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// caseAwaitingEvidence notifies a case through the API and takes it, with the partners' and
// coordinator's commands, to the evidence stage with a chronology request to the agency.
func caseAwaitingEvidence(t *testing.T, s *system, agency string) string {
	t.Helper()
	coord := s.as(t, "dev-coordinator")
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	resp, created := s.post(t, coord, "/api/v1/cases", `{"framework":"lcspr/wt2023","awarenessDate":"`+yesterday+`","incidentDate":"`+yesterday+`","nature":"serious-harm","outline":"Invented test case."}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create case: %d %v", resp.StatusCode, created)
	}
	id := created["id"].(string)
	partners := map[string]string{"la": "dev-partner-la", "icb": "dev-partner-icb", "police": "dev-partner-police"}
	steps := []struct{ who, name, body string }{
		{"", "SendNotification", `{"reference":"SIN-1"}`},
		{"", "RecordRapidReviewFacts", `{"facts":"facts","agenciesInvolved":["` + agency + `"]}`},
		{"", "SummariseKeyPracticeEpisodes", `{"summary":"summary"}`},
		{"", "ProposeDecision", `{"outcome":"lcspr","rationale":"criteria met"}`},
		{"la", "SignOffRapidReview", `{}`},
		{"icb", "SignOffRapidReview", `{}`},
		{"police", "SignOffRapidReview", `{}`},
		{"", "SubmitRapidReview", `{}`},
		{"", "RecordPanelResponse", `{"response":"agree"}`},
		{"", "RecordDecision", `{"outcome":"lcspr","rationale":"learning"}`},
		{"", "AppointReviewer", `{"reviewerId":"dev-reviewer","name":"Riya Reviewer","lead":true,"independence":"no prior involvement"}`},
		{"", "AgreeTermsOfReference", `{"terms":{"scope":"scope","agencies":["` + agency + `"],"keyLinesOfEnquiry":["information sharing"],"method":"Learning Together"}}`},
		{"", "RequestFromAgency", `{"requestId":"r1","agency":"` + agency + `","kind":"chronology"}`},
	}
	for _, st := range steps {
		c := coord
		if st.who != "" {
			c = s.as(t, partners[st.who])
		}
		resp, out := s.post(t, c, "/api/v1/cases/"+id+"/commands/"+st.name, st.body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", st.name, resp.StatusCode, out)
		}
	}
	eventually(t, "the request in the agency's inbox", func() error {
		items, err := s.db.Inbox(context.Background(), agency, calendar.DateOf(time.Now().UTC()))
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.CaseID == id {
				return nil
			}
		}
		return fmt.Errorf("no inbox item for case %s", id)
	})
	return id
}
