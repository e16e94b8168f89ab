package review

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"casereview/calendar"
)

// Roles named by the rule sets. A rule set lists the roles it uses; these are the ones the code
// itself relies on.
const (
	RoleBusinessUnit = "business-unit"
	RolePartner      = "safeguarding-partner"
	RoleReviewer     = "reviewer"
	RoleAgencyLead   = "agency-lead"
	RolePractitioner = "practitioner"
	RoleAuditor      = "auditor"
	RolePanel        = "panel"
	RoleSystem       = "system"
)

// Duration units.
const (
	UnitWorkingDays  = "working-days"
	UnitCalendarDays = "calendar-days"
	UnitMonths       = "months"
)

// Clock kinds.
const (
	KindDeadline   = "deadline"
	KindExpectedBy = "expected-by"
)

// Conditions a transition or clock may test on the case.
const (
	// ConditionCareLeaverDeath holds when every child notified is a care leaver who died.
	ConditionCareLeaverDeath = "care-leaver-death"
)

var conditions = map[string]func(*Case) bool{
	ConditionCareLeaverDeath: func(c *Case) bool { return c.Notification.CareLeaverDeath() },
}

// Duration is a length of time in working days, calendar days or months.
type Duration struct {
	N    int    `json:"n"`
	Unit string `json:"unit"`
}

func (d Duration) String() string {
	unit := strings.ReplaceAll(d.Unit, "-", " ")
	if d.N == 1 || d.N == -1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	return fmt.Sprintf("%d %s", d.N, unit)
}

// Role is a role a rule set gives permissions to.
type Role struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Stage is one stage of a review.
type Stage struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Owner       string   `json:"owner"`
	Description string   `json:"description"`
	Requires    []string `json:"requires,omitempty"`
}

// Transition moves a case from one stage to another when an event is recorded.
type Transition struct {
	From    string `json:"from"`
	On      string `json:"on"`
	Outcome string `json:"outcome,omitempty"`
	If      string `json:"if,omitempty"`
	Unless  string `json:"unless,omitempty"`
	To      string `json:"to"`
}

// Permission says which roles may perform a command, in which stages ("*" for any open stage).
type Permission struct {
	Command string   `json:"command"`
	Roles   []string `json:"roles"`
	Stages  []string `json:"stages"`
}

// Trigger names an event (and optionally its outcome and a condition on the case) that starts or stops a clock.
type Trigger struct {
	Event   string `json:"event"`
	Outcome string `json:"outcome,omitempty"`
	If      string `json:"if,omitempty"`
	Unless  string `json:"unless,omitempty"`
}

// EscalationStep notifies a role a number of working days after a clock fell due.
type EscalationStep struct {
	After  int    `json:"after"`
	Notify string `json:"notify"`
}

// Clock is a timed obligation.
type Clock struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Start       Trigger          `json:"start"`
	Stop        []Trigger        `json:"stop"`
	Duration    Duration         `json:"duration"`
	Kind        string           `json:"kind"`
	Notify      string           `json:"notify"`
	Reminders   []int            `json:"reminders,omitempty"`
	Escalations []EscalationStep `json:"escalations,omitempty"`
	Source      string           `json:"source,omitempty"`
}

// Parameters are the rule set's tunable values; values the brief marks [C] live here, not in code.
type Parameters struct {
	RequiredPartners     []string `json:"requiredPartners"`
	PrePublicationNotice Duration `json:"prePublicationNotice"`
	KeepPublic           Duration `json:"keepPublic"`
	DecisionOutcomes     []string `json:"decisionOutcomes"`
	PanelResponses       []string `json:"panelResponses,omitempty"`
	// PublicationAfterOutcome is the decision outcome that leads to a published report.
	PublicationAfterOutcome string `json:"publicationAfterOutcome"`
}

// RuleSet is one version of the rules of one review framework.
type RuleSet struct {
	Framework      string       `json:"framework"`
	Version        string       `json:"version"`
	Effective      string       `json:"effective"`
	Title          string       `json:"title"`
	CalendarRegion string       `json:"calendarRegion"`
	Sources        []string     `json:"sources,omitempty"`
	Roles          []Role       `json:"roles"`
	Stages         []Stage      `json:"stages"`
	InitialStage   string       `json:"initialStage"`
	ClosedStage    string       `json:"closedStage"`
	Transitions    []Transition `json:"transitions"`
	Permissions    []Permission `json:"permissions"`
	Clocks         []Clock      `json:"clocks"`
	Parameters     Parameters   `json:"parameters"`
}

// Artefacts a stage may require before it closes, each with the rule ID reported when it is missing.
var artefacts = map[string]struct {
	rule    string
	message string
	present func(*Case) bool
}{
	"rapid-review-facts":    {"facts-missing", "record the facts and agency involvement", func(c *Case) bool { return c.RapidReview.Facts != "" }},
	"rapid-review-episodes": {"episodes-missing", "summarise the key practice episodes", func(c *Case) bool { return c.RapidReview.EpisodesSummary != "" }},
	"rapid-review-decision": {"decision-proposal-missing", "propose a decision on next steps", func(c *Case) bool { return c.RapidReview.ProposedOutcome != "" }},
	"rapid-review-signoffs": {"signoffs-incomplete", "every required safeguarding partner must sign off", func(c *Case) bool { return len(c.missingPartners(c.RapidReview.SignedOffBy)) == 0 }},
	"reviewer":              {"reviewer-missing", "appoint a reviewer", func(c *Case) bool { return len(c.Reviewers) > 0 }},
	"terms-of-reference":    {"terms-of-reference-missing", "agree terms of reference", func(c *Case) bool { return c.TermsOfReference != nil }},
	"agency-requests":       {"requests-missing", "send at least one agency request", func(c *Case) bool { return len(c.Requests) > 0 }},
	"agency-submissions-accepted": {"submissions-outstanding", "accept every agency's submission", func(c *Case) bool {
		for _, r := range c.Requests {
			if r.Status != RequestAccepted {
				return false
			}
		}
		return true
	}},
	"chronology-entries":    {"chronology-empty", "record chronology entries", func(c *Case) bool { return len(c.Entries) > 0 }},
	"key-practice-episodes": {"episodes-missing", "record key practice episodes", func(c *Case) bool { return len(c.Episodes) > 0 }},
	"contributory-factors":  {"factors-missing", "record contributory factors", func(c *Case) bool { return len(c.Factors) > 0 }},
	"findings":              {"findings-missing", "record findings", func(c *Case) bool { return len(c.Findings) > 0 }},
	"family-involvement":    {"family-involvement-missing", "record how the family was invited and involved", func(c *Case) bool { return c.FamilyInvolvement != nil }},
	"four-questions":        {"four-questions-incomplete", "answer all four questions", func(c *Case) bool { return c.FourQuestions().Complete() }},
	"partner-approvals":     {"approvals-incomplete", "every required partner must approve the report", func(c *Case) bool { return len(c.missingPartners(c.Approvals)) == 0 }},
	"actions-resolved": {"actions-open", "verify, close or mark not implemented every action", func(c *Case) bool {
		for _, a := range c.Actions {
			if !a.resolved() {
				return false
			}
		}
		return true
	}},
}

//go:embed rulesets/*.json
var rulesetFiles embed.FS

// registry holds every embedded rule set, versions of one framework sorted oldest first. It is
// loaded in init, not in its declaration, because validating a rule set consults the event codecs,
// one of which (the CaseNotified upcaster) consults the registry.
var registry map[string][]*RuleSet

func init() { registry = mustLoadRegistry() }

func mustLoadRegistry() map[string][]*RuleSet {
	reg, err := loadRegistry(rulesetFiles)
	if err != nil {
		panic(err) // the embedded data is tested; a failure here is a build defect
	}
	return reg
}

func loadRegistry(fsys fs.FS) (map[string][]*RuleSet, error) {
	paths, err := fs.Glob(fsys, "rulesets/*.json")
	if err != nil {
		return nil, err
	}
	reg := make(map[string][]*RuleSet)
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		rs, err := ParseRuleSet(b)
		if err != nil {
			return nil, fmt.Errorf("rule set %s: %w", p, err)
		}
		for _, other := range reg[rs.Framework] {
			if other.Version == rs.Version {
				return nil, fmt.Errorf("rule set %s: %s version %s defined twice", p, rs.Framework, rs.Version)
			}
		}
		reg[rs.Framework] = append(reg[rs.Framework], rs)
	}
	for _, versions := range reg {
		slices.SortFunc(versions, func(a, b *RuleSet) int { return cmp.Compare(a.Effective, b.Effective) })
	}
	return reg, nil
}

// Frameworks returns the framework IDs with embedded rule sets, sorted.
func Frameworks() []string {
	ids := make([]string, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ErrUnknownRules is matched by errors for a framework or version that has no rule set.
var ErrUnknownRules = errors.New("unknown rule set")

// Rules returns the current rule set of a framework.
func Rules(framework string) (*RuleSet, error) {
	versions := registry[framework]
	if len(versions) == 0 {
		return nil, fmt.Errorf("framework %q: %w; valid frameworks: %s", framework, ErrUnknownRules, strings.Join(Frameworks(), ", "))
	}
	return versions[len(versions)-1], nil
}

// RulesVersion returns one version of a framework's rule set, current or older, so that history
// replays under the rules in force when it was recorded.
func RulesVersion(framework, version string) (*RuleSet, error) {
	if _, err := Rules(framework); err != nil {
		return nil, err
	}
	var known []string
	for _, rs := range registry[framework] {
		if rs.Version == version {
			return rs, nil
		}
		known = append(known, rs.Version)
	}
	return nil, fmt.Errorf("framework %q version %q: %w; valid versions: %s", framework, version, ErrUnknownRules, strings.Join(known, ", "))
}

// RulesVersions returns the versions of a framework's rule set, oldest first.
func RulesVersions(framework string) []string {
	var out []string
	for _, rs := range registry[framework] {
		out = append(out, rs.Version)
	}
	return out
}

// rulesVersionInForce returns the version of a framework's rules in force on a date: the latest
// effective on or before it, or the first version for a date before them all. It dates events
// that were recorded without naming their rule-set version.
func rulesVersionInForce(framework string, on calendar.Date) string {
	versions := registry[framework]
	if len(versions) == 0 {
		return ""
	}
	v := versions[0].Version
	for _, rs := range versions {
		if rs.Effective <= on.String() {
			v = rs.Version
		}
	}
	return v
}

// ParseRuleSet decodes and validates a rule set. Every fault is reported, each naming where it is.
func ParseRuleSet(data []byte) (*RuleSet, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rs RuleSet
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("rule set JSON: %w", err)
	}
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	return &rs, nil
}

// Validate checks the rule set's references and values.
func (rs *RuleSet) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	required := map[string]string{"framework": rs.Framework, "version": rs.Version, "effective": rs.Effective,
		"title": rs.Title, "calendarRegion": rs.CalendarRegion}
	for _, k := range []string{"framework", "version", "effective", "title", "calendarRegion"} {
		if required[k] == "" {
			bad("%s: missing", k)
		}
	}
	if rs.Effective != "" {
		if _, err := calendar.ParseDate(rs.Effective); err != nil {
			bad("effective: %v", err)
		}
	}
	roles := map[string]bool{}
	for i, r := range rs.Roles {
		if r.ID == "" || roles[r.ID] {
			bad("roles[%d]: id %q is empty or repeated", i, r.ID)
		}
		roles[r.ID] = true
	}
	roleOK := func(where, id string) {
		if !roles[id] {
			bad("%s: unknown role %q; valid roles: %s", where, id, strings.Join(sortedKeys(roles), ", "))
		}
	}
	stages := map[string]bool{}
	for i, s := range rs.Stages {
		if s.ID == "" || stages[s.ID] {
			bad("stages[%d]: id %q is empty or repeated", i, s.ID)
		}
		stages[s.ID] = true
		if s.Title == "" {
			bad("stages[%d] (%s): title missing", i, s.ID)
		}
		roleOK(fmt.Sprintf("stages[%d] (%s).owner", i, s.ID), s.Owner)
		for _, a := range s.Requires {
			if _, ok := artefacts[a]; !ok {
				bad("stages[%d] (%s).requires: unknown artefact %q; valid artefacts: %s", i, s.ID, a, strings.Join(sortedKeys(artefacts), ", "))
			}
		}
	}
	if len(rs.Stages) == 0 {
		bad("stages: none defined")
	}
	stageOK := func(where, id string) {
		if !stages[id] {
			bad("%s: unknown stage %q; valid stages: %s", where, id, strings.Join(sortedKeys(stages), ", "))
		}
	}
	stageOK("initialStage", rs.InitialStage)
	stageOK("closedStage", rs.ClosedStage)
	eventOK := func(where, typ string) {
		if _, ok := eventCodecs[typ]; !ok {
			bad("%s: unknown event %q; valid events: %s", where, typ, strings.Join(EventTypes(), ", "))
		}
	}
	condOK := func(where, c string) {
		if _, ok := conditions[c]; c != "" && !ok {
			bad("%s: unknown condition %q; valid conditions: %s", where, c, strings.Join(sortedKeys(conditions), ", "))
		}
	}
	for i, t := range rs.Transitions {
		where := fmt.Sprintf("transitions[%d] (%s -> %s)", i, t.From, t.To)
		stageOK(where+".from", t.From)
		stageOK(where+".to", t.To)
		eventOK(where+".on", t.On)
		condOK(where+".if", t.If)
		condOK(where+".unless", t.Unless)
	}
	for i, p := range rs.Permissions {
		where := fmt.Sprintf("permissions[%d] (%s)", i, p.Command)
		if _, ok := commandNames[p.Command]; !ok {
			bad("%s.command: unknown command %q; valid commands: %s", where, p.Command, strings.Join(CommandNames(), ", "))
		}
		if len(p.Roles) == 0 || len(p.Stages) == 0 {
			bad("%s: needs at least one role and one stage", where)
		}
		for _, r := range p.Roles {
			roleOK(where+".roles", r)
		}
		for _, s := range p.Stages {
			if s != "*" {
				stageOK(where+".stages", s)
			}
		}
	}
	clocks := map[string]bool{}
	for i, c := range rs.Clocks {
		where := fmt.Sprintf("clocks[%d] (%s)", i, c.ID)
		if c.ID == "" || clocks[c.ID] {
			bad("%s: id is empty or repeated", where)
		}
		clocks[c.ID] = true
		eventOK(where+".start.event", c.Start.Event)
		condOK(where+".start.if", c.Start.If)
		condOK(where+".start.unless", c.Start.Unless)
		if len(c.Stop) == 0 {
			bad("%s.stop: no stopping event", where)
		}
		for j, s := range c.Stop {
			eventOK(fmt.Sprintf("%s.stop[%d].event", where, j), s.Event)
		}
		if err := c.Duration.validate(); err != nil {
			bad("%s.duration: %v", where, err)
		}
		if c.Kind != KindDeadline && c.Kind != KindExpectedBy {
			bad("%s.kind: %q is not %q or %q", where, c.Kind, KindDeadline, KindExpectedBy)
		}
		roleOK(where+".notify", c.Notify)
		for _, r := range c.Reminders {
			if r < 1 {
				bad("%s.reminders: %d is not a positive number of working days before due", where, r)
			}
		}
		for j, e := range c.Escalations {
			if e.After < 0 {
				bad("%s.escalations[%d].after: %d is negative", where, j, e.After)
			}
			roleOK(fmt.Sprintf("%s.escalations[%d].notify", where, j), e.Notify)
		}
	}
	p := rs.Parameters
	for _, d := range []struct {
		name string
		d    Duration
	}{{"prePublicationNotice", p.PrePublicationNotice}, {"keepPublic", p.KeepPublic}} {
		if err := d.d.validate(); err != nil {
			bad("parameters.%s: %v", d.name, err)
		}
	}
	if len(p.RequiredPartners) == 0 {
		bad("parameters.requiredPartners: none listed")
	}
	if len(p.DecisionOutcomes) == 0 {
		bad("parameters.decisionOutcomes: none listed")
	}
	if p.PublicationAfterOutcome != "" && !slices.Contains(p.DecisionOutcomes, p.PublicationAfterOutcome) {
		bad("parameters.publicationAfterOutcome: %q is not among decisionOutcomes", p.PublicationAfterOutcome)
	}
	if len(errs) > 0 {
		return fmt.Errorf("rule set %s %s is invalid: %w", rs.Framework, rs.Version, errors.Join(errs...))
	}
	return nil
}

func (d Duration) validate() error {
	if d.N < 1 {
		return fmt.Errorf("n must be at least 1, got %d", d.N)
	}
	switch d.Unit {
	case UnitWorkingDays, UnitCalendarDays, UnitMonths:
		return nil
	}
	return fmt.Errorf("unit %q is not one of %s, %s, %s", d.Unit, UnitWorkingDays, UnitCalendarDays, UnitMonths)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Stage returns the stage with the given ID.
func (rs *RuleSet) Stage(id string) (Stage, bool) {
	for _, s := range rs.Stages {
		if s.ID == id {
			return s, true
		}
	}
	return Stage{}, false
}

// Clock returns the clock with the given ID.
func (rs *RuleSet) Clock(id string) (Clock, bool) {
	for _, c := range rs.Clocks {
		if c.ID == id {
			return c, true
		}
	}
	return Clock{}, false
}

func (rs *RuleSet) stageIndex(id string) int {
	return slices.IndexFunc(rs.Stages, func(s Stage) bool { return s.ID == id })
}

func (rs *RuleSet) roleTitle(id string) string {
	for _, r := range rs.Roles {
		if r.ID == id {
			return r.Title
		}
	}
	return id
}

// WriteProcessMap prints the rule set as a readable process map: numbered stages with their owners,
// what each needs before it closes and where it leads; the clocks; who may do what; the parameters.
func (rs *RuleSet) WriteProcessMap(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", rs.Framework, rs.Title)
	fmt.Fprintf(&b, "Rule-set version %s (in force from %s); working days per the %s calendar.\n", rs.Version, rs.Effective, rs.CalendarRegion)
	b.WriteString("\nStages\n")
	for i, s := range rs.Stages {
		fmt.Fprintf(&b, "%3d. %s [%s]  owner: %s\n", i+1, s.Title, s.ID, rs.roleTitle(s.Owner))
		if s.Description != "" {
			fmt.Fprintf(&b, "     %s\n", s.Description)
		}
		if len(s.Requires) > 0 {
			var need []string
			for _, a := range s.Requires {
				need = append(need, artefacts[a].message)
			}
			fmt.Fprintf(&b, "     before it closes: %s\n", strings.Join(need, "; "))
		}
		for _, t := range rs.Transitions {
			if t.From != s.ID {
				continue
			}
			when := t.On
			if t.Outcome != "" {
				when += " (" + t.Outcome + ")"
			}
			if t.If != "" {
				when += " if " + t.If
			}
			if t.Unless != "" {
				when += " unless " + t.Unless
			}
			fmt.Fprintf(&b, "     on %s -> %d. %s\n", when, rs.stageIndex(t.To)+1, t.To)
		}
	}
	b.WriteString("\nClocks\n")
	for _, c := range rs.Clocks {
		kind := "hard deadline"
		if c.Kind == KindExpectedBy {
			kind = "expected by (not a deadline)"
		}
		start := c.Start.Event
		if c.Start.Outcome != "" {
			start += " (" + c.Start.Outcome + ")"
		}
		if c.Start.Unless != "" {
			start += " unless " + c.Start.Unless
		}
		var stops []string
		for _, s := range c.Stop {
			stops = append(stops, s.Event)
		}
		fmt.Fprintf(&b, "  - %s [%s]: %s from %s until %s; %s; owner %s\n", c.Title, c.ID, c.Duration, start,
			strings.Join(stops, " or "), kind, rs.roleTitle(c.Notify))
		if len(c.Reminders) > 0 {
			var rem []string
			for _, r := range c.Reminders {
				rem = append(rem, fmt.Sprint(r))
			}
			fmt.Fprintf(&b, "      reminders: %s working days before due\n", strings.Join(rem, ", "))
		}
		for _, e := range c.Escalations {
			fmt.Fprintf(&b, "      escalation: %s after due -> %s\n", Duration{e.After, UnitWorkingDays}, rs.roleTitle(e.Notify))
		}
		if c.Source != "" {
			fmt.Fprintf(&b, "      source: %s\n", c.Source)
		}
	}
	b.WriteString("\nWho may do what\n")
	for _, p := range rs.Permissions {
		var roles []string
		for _, r := range p.Roles {
			roles = append(roles, rs.roleTitle(r))
		}
		stages := "any open stage"
		if !slices.Equal(p.Stages, []string{"*"}) {
			stages = strings.Join(p.Stages, ", ")
		}
		fmt.Fprintf(&b, "  - %s: %s; in %s\n", p.Command, strings.Join(roles, ", "), stages)
	}
	p := rs.Parameters
	b.WriteString("\nParameters\n")
	fmt.Fprintf(&b, "  required partners for sign-off: %s\n", strings.Join(p.RequiredPartners, ", "))
	fmt.Fprintf(&b, "  decision outcomes: %s\n", strings.Join(p.DecisionOutcomes, ", "))
	fmt.Fprintf(&b, "  pre-publication notice: %s before publication\n", p.PrePublicationNotice)
	fmt.Fprintf(&b, "  keep public: at least %s\n", p.KeepPublic)
	_, err := io.WriteString(w, b.String())
	return err
}
