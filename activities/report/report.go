// Package report renders a case review's report by the four questions and checks text for the children's and family's identifiers before it is published.
package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strings"

	"casereview/calendar"
	"casereview/review"
)

// View says who a rendered report is for.
type View string

// The views. There is no default: a caller must say which, so nobody publishes the internal
// report by leaving a field unset.
const (
	// Internal is everything recorded, for the partnership and reviewers.
	Internal View = "internal"
	// Public is the report for publication: nothing about the children or family, no source
	// record references, and reviewers' judgements only once the partnership has agreed them.
	Public View = "public"
)

// Errors returned by Render.
var (
	ErrNoCase      = errors.New("no case to render")
	ErrUnknownView = errors.New("unknown report view")
)

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Parse(reportTemplateText))

// Render renders the case's report as a complete HTML document in the given view, with a section
// for each of the four questions; a question with nothing recorded yet says so.
func Render(c *review.Case, v View) (string, error) {
	if v != Internal && v != Public {
		return "", fmt.Errorf("%w %q: use report.Internal or report.Public", ErrUnknownView, string(v))
	}
	if c == nil {
		return "", fmt.Errorf("%w: the case is nil", ErrNoCase)
	}
	if c.Revision == 0 || c.ID == "" {
		return "", fmt.Errorf("%w: the case has no notification; replay its events before rendering", ErrNoCase)
	}
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, buildPage(c, v)); err != nil {
		return "", fmt.Errorf("render %s report: %w", v, err)
	}
	return b.String(), nil
}

// page is everything the template shows, already filtered for the view.
type page struct {
	Public       bool
	Title        string
	Front        frontMatter
	Notification *notificationView
	WhatHappened whatHappened
	Why          why
	ShouldHave   shouldHave
	Prevention   prevention
}

type frontMatter struct {
	CaseRef, Framework, RulesVersion, Nature string
	AwareOn, NotificationSentOn              string
	Decision, DecidedOn                      string
}

type notificationView struct {
	NotifierAgency, IncidentDate, IncidentPlace, HomePlace, Outline string
	LinkedCases                                                     []string
	Children                                                        []childView
}

type childView struct {
	Name, DateOfBirth, Sex, Ethnicity                                         string
	Disability, LookedAfter, CareLeaver, ChildProtectionPlan, KnownToAgencies string
}

// status is how far a section answers its question: Empty shows "Not yet answered"; Missing,
// with some content, shows what is still needed.
type status struct {
	Empty   bool
	Missing string
}

type whatHappened struct {
	State                   status
	ShowSources, ShowMissed bool
	Rows                    []chronologyRow
	Episodes                []episodeView
}

type chronologyRow struct {
	DateText, DateTime                string
	Agencies                          string
	Descriptions                      []string
	ChildSeen, ChildViewsSought       string
	Significance, Episodes, SourceRef string
	MissedOpportunity                 string
}

type episodeView struct {
	Title, Period, Appraisal, Agencies, Description string
	Sources                                         []string
}

type why struct {
	State        status
	FactorGroups []factorGroup
	Findings     []findingView
}

type factorGroup struct {
	Category string
	Factors  []factorView
}

type factorView struct {
	Text, Evidence, Episodes string
}

type findingView struct {
	Number                                           int
	Statement, InThisCase, NotPeculiar, WhyItMatters string
	Questions                                        []string
	Factors                                          string
}

type shouldHave struct {
	State        status
	Appraisals   []appraisalView
	ShowMissed   bool
	MissedAgreed bool
	Missed       []missedView
}

type appraisalView struct {
	Standard, Text, Episode string
}

type missedView struct {
	DateText, Agencies, Rationale string
}

type prevention struct {
	State           status
	ShowOwnerPerson bool
	Recommendations []recommendationView
}

type recommendationView struct {
	Number   int
	Text     string
	Findings string
	Actions  []actionView
}

type actionView struct {
	Text, OwnerAgency, OwnerPerson, Due, MeasureOfSuccess, Status string
}

const notRecorded = "Not recorded"

func buildPage(c *review.Case, v View) page {
	public := v == Public
	questions := c.FourQuestions()
	episodeTitles := map[string]string{}
	for _, e := range c.Episodes {
		episodeTitles[e.EpisodeID] = e.Title
	}
	// A missed opportunity is a reviewer's judgement until the partnership agrees the report.
	agreed := reportAgreed(c)
	p := page{
		Public: public,
		Title:  "Case review report " + c.ID,
		Front:  buildFront(c),
	}
	if !public {
		p.Notification = buildNotification(c.Notification)
	}

	wh := whatHappened{ShowSources: !public, ShowMissed: !public || agreed}
	for _, r := range c.Chronology() {
		row := chronologyRow{
			DateText:         r.DateText,
			DateTime:         machineDate(r.Date),
			Agencies:         strings.Join(r.Agencies, ", "),
			Descriptions:     r.Descriptions,
			ChildSeen:        yesNo(r.ChildSeen),
			ChildViewsSought: yesNo(r.ChildViewsSought),
			Significance:     label(r.Significance),
			Episodes:         titlesOf(r.EpisodeIDs, episodeTitles),
		}
		if wh.ShowSources {
			row.SourceRef = r.SourceRef
		}
		if wh.ShowMissed {
			row.MissedOpportunity = yesNo(r.MissedOpportunity)
		}
		wh.Rows = append(wh.Rows, row)
	}
	for _, e := range c.Episodes {
		ev := episodeView{
			Title:       e.Title,
			Period:      period(e.From, e.To),
			Appraisal:   label(e.Appraisal),
			Agencies:    strings.Join(e.Agencies, ", "),
			Description: e.Description,
		}
		if !public {
			ev.Sources = e.Sources
		}
		wh.Episodes = append(wh.Episodes, ev)
	}
	wh.State = sectionStatus(len(wh.Rows)+len(wh.Episodes) == 0, questions.WhatHappened)
	p.WhatHappened = wh

	var w why
	factorByID := map[string]review.ContributoryFactorRecorded{}
	for _, cat := range categoryOrder(c.Factors) {
		g := factorGroup{Category: categoryLabel(cat)}
		for _, f := range c.Factors {
			if f.Category == cat {
				g.Factors = append(g.Factors, factorView{Text: f.Text, Evidence: f.Evidence, Episodes: titlesOf(f.EpisodeIDs, episodeTitles)})
			}
		}
		w.FactorGroups = append(w.FactorGroups, g)
	}
	for _, f := range c.Factors {
		factorByID[f.FactorID] = f
	}
	findingNumbers := map[string]int{}
	for i, f := range c.Findings {
		findingNumbers[f.FindingID] = i + 1
		var cats []string
		for _, id := range f.FactorIDs {
			if fac, ok := factorByID[id]; ok && !slices.Contains(cats, categoryLabel(fac.Category)) {
				cats = append(cats, categoryLabel(fac.Category))
			}
		}
		w.Findings = append(w.Findings, findingView{
			Number:       i + 1,
			Statement:    f.Statement,
			InThisCase:   orNotRecorded(f.InThisCase),
			NotPeculiar:  orNotRecorded(f.NotPeculiar),
			WhyItMatters: orNotRecorded(f.WhyItMatters),
			Questions:    f.Questions,
			Factors:      strings.Join(cats, ", "),
		})
	}
	w.State = sectionStatus(len(w.FactorGroups)+len(w.Findings) == 0, questions.Why)
	p.Why = w

	sh := shouldHave{ShowMissed: wh.ShowMissed, MissedAgreed: agreed}
	for _, a := range c.Appraisals {
		if a.Text == "" {
			continue
		}
		sh.Appraisals = append(sh.Appraisals, appraisalView{Standard: a.Standard, Text: a.Text, Episode: titlesOf([]string{a.EpisodeID}, episodeTitles)})
	}
	if sh.ShowMissed {
		for _, m := range c.MissedOpportunities() {
			sh.Missed = append(sh.Missed, missedView{DateText: m.DateText, Agencies: strings.Join(m.Agencies, ", "), Rationale: orNotRecorded(m.Rationale)})
		}
	}
	sh.State = sectionStatus(len(sh.Appraisals)+len(sh.Missed) == 0, questions.WhatShouldHaveHappened)
	p.ShouldHave = sh

	pr := prevention{ShowOwnerPerson: !public}
	for i, rec := range c.Recommendations {
		rv := recommendationView{Number: i + 1, Text: rec.Text}
		var refs []string
		for _, id := range rec.FindingIDs {
			if n, ok := findingNumbers[id]; ok {
				refs = append(refs, fmt.Sprintf("Finding %d", n))
			}
		}
		rv.Findings = strings.Join(refs, ", ")
		for _, a := range c.Actions {
			if a.RecommendationID != rec.RecommendationID {
				continue
			}
			av := actionView{
				Text:             a.Text,
				OwnerAgency:      orNotRecorded(a.OwnerAgency),
				Due:              longDate(a.Due),
				MeasureOfSuccess: orNotRecorded(a.MeasureOfSuccess),
				Status:           actionStatus(a),
			}
			if public && a.PublicSummary != "" {
				av.Text = a.PublicSummary
			}
			if !public {
				av.OwnerPerson = orNotRecorded(a.OwnerPerson)
			}
			rv.Actions = append(rv.Actions, av)
		}
		pr.Recommendations = append(pr.Recommendations, rv)
	}
	pr.State = sectionStatus(len(pr.Recommendations) == 0, questions.Prevention)
	p.Prevention = pr
	return p
}

func sectionStatus(empty bool, q review.QuestionStatus) status {
	if empty {
		return status{Empty: true, Missing: q.Missing}
	}
	if q.Complete {
		return status{}
	}
	return status{Missing: q.Missing}
}

// reportAgreed reports whether every partner whose sign-off the rule set requires has approved
// the current draft, which is when the reviewers' judgements become the partnership's.
func reportAgreed(c *review.Case) bool {
	if c.Draft == nil || len(c.Approvals) == 0 {
		return false
	}
	rules := c.Rules()
	if rules == nil {
		var err error
		if rules, err = review.RulesVersion(c.Framework, c.RulesVersion); err != nil {
			return false
		}
	}
	if len(rules.Parameters.RequiredPartners) == 0 {
		return false
	}
	for _, partner := range rules.Parameters.RequiredPartners {
		if !slices.Contains(c.Approvals, partner) {
			return false
		}
	}
	return true
}

func buildFront(c *review.Case) frontMatter {
	f := frontMatter{
		CaseRef:            c.ID,
		Framework:          c.Framework,
		RulesVersion:       orNotRecorded(c.RulesVersion),
		Nature:             label(string(c.Notification.Nature)),
		AwareOn:            longDate(c.Notification.AwarenessDate),
		NotificationSentOn: longDate(c.NotificationSentOn),
		Decision:           "Not yet decided",
		DecidedOn:          notRecorded,
	}
	if rules := c.Rules(); rules != nil && rules.Title != "" {
		f.Framework = rules.Title + " (" + c.Framework + ")"
	} else if rules, err := review.RulesVersion(c.Framework, c.RulesVersion); err == nil && rules.Title != "" {
		f.Framework = rules.Title + " (" + c.Framework + ")"
	}
	if d := c.Decision; d != nil {
		f.Decision = outcomeLabel(d.Outcome)
		f.DecidedOn = longDate(d.DecidedOn)
	}
	return f
}

func buildNotification(n review.Notification) *notificationView {
	nv := &notificationView{
		NotifierAgency: orNotRecorded(n.NotifierAgency),
		IncidentDate:   longDate(n.IncidentDate),
		IncidentPlace:  orNotRecorded(n.IncidentPlace),
		HomePlace:      orNotRecorded(n.HomePlace),
		Outline:        orNotRecorded(n.Outline),
		LinkedCases:    n.LinkedCases,
	}
	for _, ch := range n.Children {
		nv.Children = append(nv.Children, childView{
			Name:                orNotRecorded(ch.Name),
			DateOfBirth:         longDate(ch.DateOfBirth),
			Sex:                 orNotRecorded(ch.Sex),
			Ethnicity:           orNotRecorded(ch.Ethnicity),
			Disability:          yesNo(ch.Disability),
			LookedAfter:         yesNo(ch.LookedAfter),
			CareLeaver:          yesNo(ch.CareLeaver),
			ChildProtectionPlan: yesNo(ch.ChildProtectionPlan),
			KnownToAgencies:     yesNo(ch.KnownToAgencies),
		})
	}
	return nv
}

// categoryOrder returns the categories the factors use, in SCIE's order, then any others as first used.
func categoryOrder(factors []review.ContributoryFactorRecorded) []review.FactorCategory {
	used := map[review.FactorCategory]bool{}
	for _, f := range factors {
		used[f.Category] = true
	}
	var out []review.FactorCategory
	for _, cat := range review.FactorCategories() {
		if used[cat] {
			out = append(out, cat)
			delete(used, cat)
		}
	}
	for _, f := range factors {
		if used[f.Category] {
			out = append(out, f.Category)
			delete(used, f.Category)
		}
	}
	return out
}

var categoryLabels = map[review.FactorCategory]string{
	review.FactorFamily:               "Family",
	review.FactorRole:                 "Role",
	review.FactorConditionsOfWork:     "Conditions of work",
	review.FactorPersonal:             "Personal",
	review.FactorOwnTeam:              "Own team",
	review.FactorInterAgencyTeam:      "Inter-agency team",
	review.FactorCultureAndManagement: "Organisational culture and management",
	review.FactorWiderContext:         "Wider political context",
	review.FactorOther:                "Other",
}

func categoryLabel(c review.FactorCategory) string {
	if l, ok := categoryLabels[c]; ok {
		return l
	}
	return label(string(c))
}

var outcomeLabels = map[string]string{
	review.OutcomeLCSPR:           "Local child safeguarding practice review",
	review.OutcomeSCR:             "Serious case review",
	review.OutcomeLocalReview:     "Local review",
	review.OutcomeNoFurtherReview: "No further review",
	review.OutcomeNationalReview:  "National review",
}

func outcomeLabel(o string) string {
	if l, ok := outcomeLabels[o]; ok {
		return l
	}
	return label(o)
}

var actionStatusLabels = map[string]string{
	review.ActionNotStarted:           "Not started",
	review.ActionInProgress:           "In progress",
	review.ActionAwaitingEvidence:     "Completed, awaiting evidence",
	review.ActionStatusVerified:       "Verified",
	review.ActionStatusClosed:         "Closed",
	review.ActionStatusNotImplemented: "Not implemented",
}

func actionStatus(a review.Action) string {
	s, ok := actionStatusLabels[a.Status]
	if !ok {
		s = label(a.Status)
	}
	if a.Reason != "" && (a.Status == review.ActionStatusClosed || a.Status == review.ActionStatusNotImplemented) {
		s += ": " + a.Reason
	}
	if a.Status == review.ActionStatusVerified && !a.VerifiedOn.IsZero() {
		s += " on " + longDate(a.VerifiedOn)
	}
	return s
}

// label turns a stored value such as "serious-harm" into "Serious harm".
func label(s string) string {
	if s == "" {
		return notRecorded
	}
	s = strings.ReplaceAll(s, "-", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

func titlesOf(ids []string, titles map[string]string) string {
	var out []string
	for _, id := range ids {
		if id == "" {
			continue
		}
		if t, ok := titles[id]; ok && t != "" {
			out = append(out, t)
		} else {
			out = append(out, id)
		}
	}
	return strings.Join(out, ", ")
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func orNotRecorded(s string) string {
	if strings.TrimSpace(s) == "" {
		return notRecorded
	}
	return s
}

// longDate writes a date the GOV.UK way: "4 March 2019".
func longDate(d calendar.Date) string {
	if d.IsZero() {
		return notRecorded
	}
	return fmt.Sprintf("%d %s %d", d.Day, d.Month, d.Year)
}

func period(from, to calendar.Date) string {
	switch {
	case from.IsZero() && to.IsZero():
		return notRecorded
	case to.IsZero() || from == to:
		return longDate(from)
	case from.IsZero():
		return "Until " + longDate(to)
	}
	return longDate(from) + " to " + longDate(to)
}

// machineDate is the datetime attribute for a chronology date. Approximate dates get none: a
// machine-readable date would claim a precision the record does not have.
func machineDate(d review.EventDate) string {
	switch d.Precision {
	case review.PrecisionDay:
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	case review.PrecisionMonth:
		return fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
	}
	return ""
}
