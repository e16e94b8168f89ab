package report

import (
	"testing"
	"time"

	"casereview/calendar"
	"casereview/review"
)

func mustDate(t testing.TB, s string) calendar.Date {
	t.Helper()
	d, err := calendar.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// at returns midday UTC on a date, for event headers.
func at(t testing.TB, s string) review.Header {
	return review.Header{At: mustDate(t, s).Time().Add(12 * time.Hour), By: review.Actor{UserID: "u-test", Role: review.RoleBusinessUnit}}
}

// notified is the first event of every test case: two named children, a home address and a linked case.
func notified(t testing.TB) review.CaseNotified {
	return review.CaseNotified{Header: at(t, "2022-09-16"), CaseID: "case-7", Notification: review.Notification{
		Framework:      "lcspr/wt2023",
		Notifier:       "u-bu",
		NotifierAgency: "local-authority",
		AwarenessDate:  mustDate(t, "2022-09-16"),
		IncidentDate:   mustDate(t, "2022-09-15"),
		IncidentPlace:  "the family home",
		HomePlace:      "14 Acacia Avenue, Leeds, LS1 4AB",
		Nature:         review.NatureSeriousHarm,
		Children: []review.Child{
			{Name: "Jayden Smith", DateOfBirth: mustDate(t, "2019-03-04"), Sex: "male", KnownToAgencies: true},
			{Name: "Ann-Marie Lowe", DateOfBirth: mustDate(t, "2016-11-21"), Sex: "female", ChildProtectionPlan: true},
		},
		Outline:     "Jayden Smith was admitted to hospital with injuries.",
		LinkedCases: []string{"LCSPR-2021-07"},
	}}
}

// reviewEvents answer all four questions. No description names the children or their home, as a
// reviewer writing for publication would: the words "Annual" and "lower" sit close to their names.
func reviewEvents(t testing.TB) []review.Event {
	return []review.Event{
		review.NotificationSent{Header: at(t, "2022-09-20"), SentOn: mustDate(t, "2022-09-20"), Reference: "SIN-1"},
		review.ReviewDecided{Header: at(t, "2022-10-03"), Outcome: review.OutcomeLCSPR, Rationale: "learning for the partnership", DecidedOn: mustDate(t, "2022-10-03")},
		review.KeyPracticeEpisodeRecorded{Header: at(t, "2022-10-17"), EpisodeID: "kpe1", Title: "Response to the May 2021 call-out",
			From: mustDate(t, "2021-05-14"), To: mustDate(t, "2021-06-30"), Description: "How agencies shared the call-out",
			Appraisal: review.AppraisalProblematic, Agencies: []string{"police-force", "health-trust"}, Sources: []string{"POL-1"}},
		review.ChronologyEntryRecorded{Header: at(t, "2022-10-14"), ChronologyEntry: review.ChronologyEntry{EntryID: "e1", Agency: "police-force",
			SourceRef: "POL-1", Date: review.OnDay(mustDate(t, "2021-05-14")), Description: "Call-out to the home after a neighbour's call",
			ChildSeen: true, Significance: review.SignificanceKey, EpisodeID: "kpe1"}},
		review.ChronologyEntryRecorded{Header: at(t, "2022-10-14"), ChronologyEntry: review.ChronologyEntry{EntryID: "e2", Agency: "health-trust",
			SourceRef: "HV-22", Date: review.InMonth(2021, time.May), Description: "Annual health review missed; lower priority given",
			Significance: review.SignificanceBackground}},
		review.ChronologyEntryRecorded{Header: at(t, "2022-10-14"), ChronologyEntry: review.ChronologyEntry{EntryID: "e3", Agency: "health-trust",
			SourceRef: "POL-1", Date: review.InMonth(2021, time.May), Description: "Told of the police call-out", Significance: review.SignificanceKey}},
		review.ChronologyEntryRecorded{Header: at(t, "2022-10-17"), ChronologyEntry: review.ChronologyEntry{EntryID: "e4", Agency: "police-force",
			SourceRef: "POL-2", Date: review.Around(2020, 0), Description: "Neighbour raised a concern", Significance: review.SignificanceKey}},
		review.MissedOpportunityFlagged{Header: at(t, "2022-10-18"), EntryID: "e4", Rationale: "no referral was made to children's social care"},
		review.ContributoryFactorRecorded{Header: at(t, "2022-10-18"), FactorID: "f1", Category: review.FactorInterAgencyTeam,
			Text: "No shared picture of the household", Evidence: "Each agency held part of the history"},
		review.ContributoryFactorRecorded{Header: at(t, "2022-10-18"), FactorID: "f2", Category: review.FactorFamily,
			Text: "Frequent moves between addresses"},
		review.FindingRecorded{Header: at(t, "2022-10-18"), FindingID: "fd1", Statement: "Call-outs are not shared with health",
			InThisCase: "Health visitors did not know of the call-out", NotPeculiar: "Three other reviews found the same",
			WhyItMatters: "Health visitors see the child most often", Questions: []string{"How does the partnership know call-outs are shared?"},
			FactorIDs: []string{"f1"}},
		review.AppraisalRecorded{Header: at(t, "2022-10-18"), AppraisalID: "ap1", Standard: "Working Together 2023, chapter 2",
			Text: "A strategy discussion should have been held", EpisodeID: "kpe1"},
		review.RecommendationMade{Header: at(t, "2022-10-21"), RecommendationID: "rec1", Text: "Share police call-outs with health", FindingIDs: []string{"fd1"}},
		review.ActionCreated{Header: at(t, "2022-10-21"), ActionID: "a1", RecommendationID: "rec1", Text: "Named nurse to audit call-out notices internally",
			OwnerAgency: "health-trust", OwnerPerson: "named nurse lead", DueDate: mustDate(t, "2023-06-30"),
			MeasureOfSuccess: "Audit shows 90% of call-outs shared", PublicSummary: "Health will audit how call-outs are shared"},
	}
}

// approvals are the required partners' approvals of a draft, after which judgements are agreed.
func approvals(t testing.TB) []review.Event {
	return []review.Event{
		review.DraftSubmittedForSignOff{Header: at(t, "2022-10-24"), DraftVersion: "v1"},
		review.ReportApproved{Header: at(t, "2022-10-25"), Partner: "local-authority"},
		review.ReportApproved{Header: at(t, "2022-10-25"), Partner: "icb"},
		review.ReportApproved{Header: at(t, "2022-10-25"), Partner: "police"},
	}
}

func replay(t testing.TB, events ...review.Event) *review.Case {
	t.Helper()
	c, err := review.Replay(events)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	return c
}

// fullCase is a case answering all four questions, not yet signed off.
func fullCase(t testing.TB) *review.Case {
	t.Helper()
	return replay(t, append([]review.Event{notified(t)}, reviewEvents(t)...)...)
}
