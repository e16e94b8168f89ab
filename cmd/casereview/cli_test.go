package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCalendarCommand(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{[]string{"calendar", "add", "--from", "2022-09-16", "--working-days", "5", "--region", "england-and-wales"}, 0, "2022-09-26\n", ""},
		{[]string{"calendar", "add", "--from", "2022-09-16", "--working-days", "5"}, 0, "2022-09-26\n", ""},
		{[]string{"calendar", "add", "--from", "2020-05-01", "--working-days", "5"}, 0, "2020-05-11\n", ""},
		{[]string{"calendar", "add", "--from", "2023-05-05", "--working-days", "1"}, 0, "2023-05-09\n", ""},
		{[]string{"calendar", "between", "--from", "2022-09-16", "--to", "2022-09-26"}, 0, "5\n", ""},
		{[]string{"calendar", "add", "--from", "16/09/2022", "--working-days", "5"}, exitUsage, "", "YYYY-MM-DD"},
		{[]string{"calendar", "add", "--from", "2022-09-16", "--working-days", "5", "--region", "wales"}, exitUsage, "", "england-and-wales"},
		{[]string{"calendar", "add", "--working-days", "5"}, exitUsage, "", "--from is required"},
		{[]string{"calendar", "holidays"}, exitUsage, "", "--year is required"},
		{[]string{"calendar", "fortnight"}, exitUsage, "", "unknown subcommand"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runCLI(tc.args...)
			if code != tc.code || out != tc.stdout || !strings.Contains(errs, tc.inStderr) {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d stdout %q stderr containing %q", code, out, errs, tc.code, tc.stdout, tc.inStderr)
			}
		})
	}
}

func TestCalendarHolidaysScotland(t *testing.T) {
	code, out, errs := runCLI("calendar", "holidays", "--year", "2022", "--region", "scotland")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	line := regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \S.*$`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("line %q is not 'YYYY-MM-DD name'", l)
		}
	}
	for _, want := range []string{"2022-01-04 ", "2022-08-01 ", "2022-09-19 ", "2022-11-30 ", "2022-12-27 "} {
		if !strings.Contains(out, want) {
			t.Errorf("Scottish holidays 2022 lack %s:\n%s", want, out)
		}
	}
}

func TestUnknownCommandAndHelp(t *testing.T) {
	if code, _, errs := runCLI("frobnicate"); code != exitUsage || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, errs)
	}
	code, out, _ := runCLI("--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("--help does not list %s", c.name)
		}
	}
	for _, sub := range []string{"dev", "server", "worker"} {
		code, _, errs := runCLI(sub, "--help")
		if code != 0 || !strings.Contains(errs, "--") || !strings.Contains(errs, "[$CASEREVIEW_") {
			t.Errorf("%s --help: exit %d, %q", sub, code, errs)
		}
	}
	if code, _, errs := runCLI("server", "--http", "127.0.0.1:0"); code != exitUsage || !strings.Contains(errs, "--events is required") {
		t.Errorf("server without --events: exit %d %q", code, errs)
	}
	t.Setenv("CASEREVIEW_LOG_LEVEL", "loud")
	if code, _, errs := runCLI("worker", "--events", "x.db", "--payload-keys", "k.json"); code != exitUsage || !strings.Contains(errs, "loud") {
		t.Errorf("bad env log level: exit %d %q", code, errs)
	}
}

// TestComposeUsesRealFlags parses deploy/compose.yaml and checks every casereview command and
// flag in it exists in this binary (no Docker engine runs on these machines).
func TestComposeUsesRealFlags(t *testing.T) {
	b, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build   any      `yaml:"build"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for name, svc := range compose.Services {
		if svc.Build == nil {
			continue
		}
		seen++
		if len(svc.Command) == 0 {
			t.Errorf("service %s builds casereview but gives no command", name)
			continue
		}
		code, _, help := runCLI(svc.Command[0], "--help")
		if code != 0 {
			t.Errorf("service %s: command %q does not exist", name, svc.Command[0])
			continue
		}
		for _, arg := range svc.Command[1:] {
			flagName, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
			if !strings.HasPrefix(arg, "--") || !strings.Contains(help, "  --"+flagName+"\n") {
				t.Errorf("service %s: %q is not a flag of casereview %s", name, arg, svc.Command[0])
			}
		}
	}
	if seen < 2 {
		t.Errorf("compose file runs %d casereview services, want server and worker", seen)
	}
}
