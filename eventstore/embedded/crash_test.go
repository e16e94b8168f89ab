package embedded

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"casereview/eventstore"
	"casereview/eventstore/storetest"
)

// crashChildEnv names the store file the child process appends to; the child runs only when set.
const crashChildEnv = "CASEREVIEW_EMBEDDED_CRASH_CHILD_DB"

// TestCrashChild is the process that TestCrashKeepsAcknowledgedEvents kills. It appends under
// concurrent load and prints "ack <id>" for each event only after Append returned for it.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		return // run directly, not as the crash test's child: nothing to do
	}
	s, err := Open(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "open: %v\n", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stdout, "ready")
	ctx := context.Background()
	var out sync.Mutex
	var wg sync.WaitGroup
	const writers = 16
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("case-%d-%s", w, storetest.NewID()[:8])
			expected := eventstore.NoStream()
			for i := 0; ; i++ {
				events := storetest.Events("Loaded", 1+i%3)
				res, err := s.Append(ctx, stream, expected, events...)
				if err != nil {
					fmt.Fprintf(os.Stderr, "append: %v\n", err)
					os.Exit(3)
				}
				expected = eventstore.Exact(res.NextRevision)
				var b strings.Builder
				for _, e := range events {
					fmt.Fprintf(&b, "ack %s\n", e.ID)
				}
				out.Lock()
				os.Stdout.WriteString(b.String()) // one write: whole lines even when killed mid-way
				out.Unlock()
			}
		}()
	}
	// The parent kills this process long before; the limit keeps an orphan from running forever.
	time.Sleep(30 * time.Second)
	os.Exit(4)
}

func TestCrashKeepsAcknowledgedEvents(t *testing.T) {
	rounds := 3
	if os.Getenv("CASEREVIEW_SOAK") == "1" {
		rounds = 20
	}
	for round := range rounds {
		t.Run(fmt.Sprint(round), func(t *testing.T) { crashRound(t) })
	}
}

func crashRound(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %q, stderr: %s", lines.Text(), stderr.String())
	}
	delay := time.Duration(50+rand.IntN(351)) * time.Millisecond
	killed := time.AfterFunc(delay, func() { cmd.Process.Kill() })
	defer killed.Stop()

	acked := map[string]bool{}
	for lines.Scan() {
		id, ok := strings.CutPrefix(lines.Text(), "ack ")
		if !ok || !eventstore.IsUUID(id) {
			t.Fatalf("child printed %q", lines.Text())
		}
		acked[id] = true
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("child ended with %v before it was killed; stderr: %s", err, stderr.String())
	}
	if len(acked) == 0 {
		t.Fatalf("child acknowledged nothing in %v", delay)
	}

	s := openTemp(t, dir)
	ctx := context.Background()
	present := 0
	var last uint64
	err = s.ReadAll(ctx, 0, func(e eventstore.RecordedEvent) error {
		if e.Position != last+1 {
			return fmt.Errorf("position %d follows %d", e.Position, last)
		}
		last = e.Position
		if acked[e.ID] {
			present++
			delete(acked, e.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		t.Errorf("acknowledged event %s is missing after the crash", id)
	}
	res, err := eventstore.Verify(ctx, s, s.ChainScope())
	if err != nil {
		t.Fatalf("Verify after crash: %v", err)
	}
	after, err := s.Append(ctx, "after-crash", eventstore.NoStream(), storetest.Event("AfterCrash", 0))
	if err != nil {
		t.Fatalf("append after crash: %v", err)
	}
	if after.Position != res.HeadPosition+1 {
		t.Errorf("append after crash at %d, want %d", after.Position, res.HeadPosition+1)
	}
	t.Logf("killed after %v: %d acknowledged events all present, %d in the log", delay, present, res.Events)
}
