package projections

import (
	"cmp"
	"slices"
	"time"

	"casereview/calendar"
	"casereview/review"
)

// The derive functions turn a folded case into a read model's rows. They hold no dates relative
// to today: whatever depends on today (working days left, RAG, overdue) is computed at read time.

// dueItem is a running clock's deadline as the board keeps it.
type dueItem struct {
	Clock string        `json:"clock"`
	Key   string        `json:"key,omitempty"`
	Title string        `json:"title"`
	Kind  string        `json:"kind"`
	Due   calendar.Date `json:"due"`
}

// requestDue is an agency request still waiting on the agency.
type requestDue struct {
	RequestID string        `json:"requestId"`
	Agency    string        `json:"agency"`
	Kind      string        `json:"kind"`
	Due       calendar.Date `json:"due,omitzero"`
	Status    string        `json:"status"`
}

// boardDoc is a board row as stored.
type boardDoc struct {
	CaseID         string        `json:"caseId"`
	Framework      string        `json:"framework"`
	RulesVersion   string        `json:"rulesVersion"`
	Title          string        `json:"title"`
	Stage          string        `json:"stage"`
	StageTitle     string        `json:"stageTitle"`
	Nature         string        `json:"nature"`
	Outcome        string        `json:"outcome,omitempty"`
	AwarenessDate  calendar.Date `json:"awarenessDate"`
	IncidentDate   calendar.Date `json:"incidentDate"`
	NotifiedAt     time.Time     `json:"notifiedAt"`
	CalendarRegion string        `json:"calendarRegion"`
	Closed         bool          `json:"closed,omitempty"`
	Published      bool          `json:"published,omitempty"`
	Deadlines      []dueItem     `json:"deadlines,omitempty"`
	Waiting        []requestDue  `json:"waiting,omitempty"`
}

func (b boardDoc) summary(position uint64) CaseSummary {
	return CaseSummary{ID: b.CaseID, Framework: b.Framework, Stage: b.Stage, Nature: b.Nature,
		AwarenessDate: b.AwarenessDate.String(), IncidentDate: b.IncidentDate.String(), NotifiedAt: b.NotifiedAt, Position: position}
}

func boardOf(c *review.Case) boardDoc {
	rs := c.Rules()
	b := boardDoc{CaseID: c.ID, Framework: c.Framework, RulesVersion: c.RulesVersion, Title: rs.Title, Stage: c.Stage,
		Nature: string(c.Notification.Nature), AwarenessDate: c.Notification.AwarenessDate, IncidentDate: c.Notification.IncidentDate,
		NotifiedAt: c.NotifiedAt.UTC(), CalendarRegion: rs.CalendarRegion, Closed: c.Closed != nil, Published: c.Publication != nil}
	if st, ok := rs.Stage(c.Stage); ok {
		b.StageTitle = st.Title
	}
	if c.Decision != nil {
		b.Outcome = c.Decision.Outcome
	}
	for _, k := range c.RunningClocks() {
		b.Deadlines = append(b.Deadlines, dueItem{Clock: k.Clock, Key: k.Key, Title: k.Title, Kind: k.Kind, Due: k.Due})
	}
	slices.SortStableFunc(b.Deadlines, func(x, y dueItem) int { return compareDates(x.Due, y.Due) })
	for _, r := range c.Requests {
		if waitingOnAgency(r.Status) {
			b.Waiting = append(b.Waiting, requestDue{RequestID: r.ID, Agency: r.Agency, Kind: r.Kind, Due: r.Due, Status: r.Status})
		}
	}
	return b
}

// waitingOnAgency reports whether a request in this status needs the agency to act.
func waitingOnAgency(status string) bool {
	return status == review.RequestOpen || status == review.RequestReturned
}

func compareDates(x, y calendar.Date) int {
	return cmp.Or(cmp.Compare(x.Year, y.Year), cmp.Compare(x.Month, y.Month), cmp.Compare(x.Day, y.Day))
}

func boardRows(c *review.Case) ([]row, error) {
	b := boardOf(c)
	r, err := jsonRow("", false, b.NotifiedAt.Format(time.RFC3339Nano), b)
	return []row{r}, err
}

// Parties are everyone with a part in the case.
type Parties struct {
	NotifierAgency   string                     `json:"notifierAgency,omitempty"`
	RequiredPartners []string                   `json:"requiredPartners"`
	AgenciesInvolved []string                   `json:"agenciesInvolved,omitempty"`
	RequestedFrom    []string                   `json:"requestedFrom,omitempty"`
	Reviewers        []review.ReviewerAppointed `json:"reviewers,omitempty"`
}

// SignOffs are the partners' sign-offs of the rapid review and approvals of the report.
type SignOffs struct {
	RapidReviewSignedBy  []string `json:"rapidReviewSignedBy,omitempty"`
	RapidReviewAwaiting  []string `json:"rapidReviewAwaiting,omitempty"`
	ReportApprovedBy     []string `json:"reportApprovedBy,omitempty"`
	ReportAwaiting       []string `json:"reportAwaiting,omitempty"`
	DraftVersion         string   `json:"draftVersion,omitempty"`
	RapidReviewSubmitted string   `json:"rapidReviewSubmitted,omitempty"`
}

// Decisions are the proposals, responses and decisions on whether to review.
type Decisions struct {
	ProposedOutcome   string           `json:"proposedOutcome,omitempty"`
	ProposedRationale string           `json:"proposedRationale,omitempty"`
	PanelResponse     string           `json:"panelResponse,omitempty"`
	PanelComments     string           `json:"panelComments,omitempty"`
	Decision          *review.Decision `json:"decision,omitempty"`
	ReportedToPanelOn calendar.Date    `json:"reportedToPanelOn,omitzero"`
}

// CaseFile is a case's history, parties, requests, decisions and sign-offs, as the case page shows them.
type CaseFile struct {
	CaseID           string                         `json:"caseId"`
	Framework        string                         `json:"framework"`
	RulesVersion     string                         `json:"rulesVersion"`
	Stage            string                         `json:"stage"`
	History          []review.StageVisit            `json:"history"`
	Notification     review.Notification            `json:"notification"`
	NotifiedAt       time.Time                      `json:"notifiedAt"`
	Parties          Parties                        `json:"parties"`
	Requests         []review.Request               `json:"requests,omitempty"`
	Decisions        Decisions                      `json:"decisions"`
	SignOffs         SignOffs                       `json:"signOffs"`
	Clocks           []review.ClockState            `json:"clocks,omitempty"`
	TermsOfReference *review.TermsOfReferenceAgreed `json:"termsOfReference,omitempty"`
	CompletedStages  []string                       `json:"completedStages,omitempty"`
	Publication      *review.ReportPublished        `json:"publication,omitempty"`
	Deferrals        []review.PublicationDeferred   `json:"deferrals,omitempty"`
	Closed           *review.CaseClosed             `json:"closed,omitempty"`
}

func missing(required, have []string) []string {
	var out []string
	for _, p := range required {
		if !slices.Contains(have, p) {
			out = append(out, p)
		}
	}
	return out
}

func detailRows(c *review.Case) ([]row, error) {
	rs := c.Rules()
	required := rs.Parameters.RequiredPartners
	d := CaseFile{CaseID: c.ID, Framework: c.Framework, RulesVersion: c.RulesVersion, Stage: c.Stage, History: c.History,
		Notification: c.Notification, NotifiedAt: c.NotifiedAt.UTC(), Requests: c.Requests, Clocks: c.Clocks,
		TermsOfReference: c.TermsOfReference, CompletedStages: c.CompletedStages, Publication: c.Publication,
		Deferrals: c.Deferrals, Closed: c.Closed}
	d.Parties = Parties{NotifierAgency: c.Notification.NotifierAgency, RequiredPartners: required,
		AgenciesInvolved: c.RapidReview.AgenciesInvolved, Reviewers: c.Reviewers}
	for _, r := range c.Requests {
		if !slices.Contains(d.Parties.RequestedFrom, r.Agency) {
			d.Parties.RequestedFrom = append(d.Parties.RequestedFrom, r.Agency)
		}
	}
	d.Decisions = Decisions{ProposedOutcome: c.RapidReview.ProposedOutcome, ProposedRationale: c.RapidReview.ProposedRationale,
		PanelResponse: c.PanelResponse, PanelComments: c.PanelComments, Decision: c.Decision, ReportedToPanelOn: c.DecisionReportedOn}
	d.SignOffs = SignOffs{RapidReviewSignedBy: c.RapidReview.SignedOffBy, RapidReviewAwaiting: missing(required, c.RapidReview.SignedOffBy),
		ReportApprovedBy: c.Approvals}
	if !c.RapidReview.SubmittedOn.IsZero() {
		d.SignOffs.RapidReviewSubmitted = c.RapidReview.SubmittedOn.String()
	}
	if c.Draft != nil {
		d.SignOffs.DraftVersion = c.Draft.DraftVersion
		d.SignOffs.ReportAwaiting = missing(required, c.Approvals)
	}
	r, err := jsonRow("", false, "", d)
	return []row{r}, err
}

func chronologyRows(c *review.Case) ([]row, error) {
	var rows []row
	for _, t := range c.Chronology() {
		r, err := jsonRow("", false, t.DateText, t)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Analysis is a case's Learning Together analysis.
type Analysis struct {
	CaseID            string                              `json:"caseId"`
	EpisodesSummary   string                              `json:"episodesSummary,omitempty"`
	Episodes          []review.KeyPracticeEpisodeRecorded `json:"episodes,omitempty"`
	Factors           []review.ContributoryFactorRecorded `json:"factors,omitempty"`
	Findings          []review.FindingRecorded            `json:"findings,omitempty"`
	Appraisals        []review.AppraisalRecorded          `json:"appraisals,omitempty"`
	FamilyInvolvement *review.FamilyInvolvementRecorded   `json:"familyInvolvement,omitempty"`
	Recommendations   []review.RecommendationMade         `json:"recommendations,omitempty"`
	FourQuestions     review.FourQuestionsReport          `json:"fourQuestions"`
}

func analysisRows(c *review.Case) ([]row, error) {
	a := Analysis{CaseID: c.ID, EpisodesSummary: c.RapidReview.EpisodesSummary, Episodes: c.Episodes, Factors: c.Factors,
		Findings: c.Findings, Appraisals: c.Appraisals, FamilyInvolvement: c.FamilyInvolvement,
		Recommendations: c.Recommendations, FourQuestions: c.FourQuestions()}
	r, err := jsonRow("", false, "", a)
	return []row{r}, err
}

// Inbox item kinds.
const (
	InboxRequest = "request"
	InboxAction  = "action"
)

// inboxDoc is an inbox item as stored.
type inboxDoc struct {
	CaseID           string         `json:"caseId"`
	Agency           string         `json:"agency"`
	Kind             string         `json:"kind"` // InboxRequest or InboxAction
	ID               string         `json:"id"`
	RequestKind      string         `json:"requestKind,omitempty"`
	Text             string         `json:"text,omitempty"`
	OwnerPerson      string         `json:"ownerPerson,omitempty"`
	Due              calendar.Date  `json:"due,omitzero"`
	Status           string         `json:"status"`
	PendingExtension *calendar.Date `json:"pendingExtension,omitempty"`
	ReturnReasons    []string       `json:"returnReasons,omitempty"`
	CalendarRegion   string         `json:"calendarRegion"`
}

func actionOpen(status string) bool {
	switch status {
	case review.ActionStatusVerified, review.ActionStatusClosed, review.ActionStatusNotImplemented:
		return false
	}
	return true
}

func inboxRows(c *review.Case) ([]row, error) {
	if c.Closed != nil {
		return nil, nil
	}
	region := c.Rules().CalendarRegion
	var docs []inboxDoc
	for _, r := range c.Requests {
		if waitingOnAgency(r.Status) {
			docs = append(docs, inboxDoc{CaseID: c.ID, Agency: r.Agency, Kind: InboxRequest, ID: r.ID, RequestKind: r.Kind,
				Due: r.Due, Status: r.Status, PendingExtension: r.PendingExtension, ReturnReasons: r.ReturnReasons, CalendarRegion: region})
		}
	}
	for _, a := range c.Actions {
		if actionOpen(a.Status) {
			docs = append(docs, inboxDoc{CaseID: c.ID, Agency: a.OwnerAgency, Kind: InboxAction, ID: a.ID, Text: a.Text,
				OwnerPerson: a.OwnerPerson, Due: a.Due, Status: a.Status, CalendarRegion: region})
		}
	}
	// Rows of one agency sit together so that each agency's rows form one audience group.
	slices.SortStableFunc(docs, func(x, y inboxDoc) int { return cmp.Compare(x.Agency, y.Agency) })
	rows := make([]row, 0, len(docs))
	for _, d := range docs {
		r, err := jsonRow(d.Agency, false, dueKey(d.Due), d)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// dueKey sorts items without a due date last.
func dueKey(d calendar.Date) string {
	if d.IsZero() {
		return "9999-12-31"
	}
	return d.String()
}

// planDoc is an action plan row as stored.
type planDoc struct {
	CaseID             string        `json:"caseId"`
	Action             review.Action `json:"action"`
	RecommendationText string        `json:"recommendationText,omitempty"`
}

// publiclyVisible reports whether anything of the case may be shown to the public.
func publiclyVisible(c *review.Case) bool { return c.Publication != nil }

func actionPlanRows(c *review.Case) ([]row, error) {
	public := publiclyVisible(c)
	var rows []row
	for _, a := range c.Actions {
		p := planDoc{CaseID: c.ID, Action: a}
		for _, rec := range c.Recommendations {
			if rec.RecommendationID == a.RecommendationID {
				p.RecommendationText = rec.Text
			}
		}
		r, err := jsonRow("", public, dueKey(a.Due), p)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// RegisterEntry is one published review in the public register. It carries nothing about the
// child or family beyond what the published report itself does.
type RegisterEntry struct {
	CaseID           string        `json:"caseId"`
	Framework        string        `json:"framework"`
	Title            string        `json:"title"`
	PublishedOn      calendar.Date `json:"publishedOn"`
	Location         string        `json:"location"`
	ImprovementsOnly bool          `json:"improvementsOnly,omitempty"`
	Justification    string        `json:"justification,omitempty"`
	KeepPublicUntil  calendar.Date `json:"keepPublicUntil,omitzero"`
}

func registerRows(c *review.Case) ([]row, error) {
	if !publiclyVisible(c) {
		return nil, nil
	}
	p := c.Publication
	e := RegisterEntry{CaseID: c.ID, Framework: c.Framework, Title: c.Rules().Title, PublishedOn: p.PublishedOn,
		Location: p.Location, ImprovementsOnly: p.ImprovementsOnly, Justification: p.Justification, KeepPublicUntil: p.KeepPublicUntil}
	r, err := jsonRow("", true, p.PublishedOn.String(), registerDoc{RegisterEntry: e, PublicText: p.PublicText})
	return []row{r}, err
}

// registerDoc is a register row as stored: the entry and the published text, which only
// PublicReport returns.
type registerDoc struct {
	RegisterEntry
	PublicText string `json:"publicText,omitempty"`
}
