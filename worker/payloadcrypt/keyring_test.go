package payloadcrypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
)

func writeFile(t *testing.T, path, contents string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(contents), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestEnsureKeyringCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, created, err := EnsureKeyring(path)
	if err != nil {
		t.Fatalf("EnsureKeyring: %v", err)
	}
	if !created {
		t.Error("created = false for a new file")
	}
	if mode := fileMode(t, path); mode != 0o600 {
		t.Errorf("keyring file mode = %04o, want 0600", mode)
	}
	if ids := kr.KeyIDs(); len(ids) != 1 || ids[0] != kr.ActiveKeyID() {
		t.Errorf("new keyring has keys %v and active %q, want one active key", ids, kr.ActiveKeyID())
	}

	again, created, err := EnsureKeyring(path)
	if err != nil {
		t.Fatalf("EnsureKeyring on existing file: %v", err)
	}
	if created {
		t.Error("created = true for an existing file")
	}
	if again.ActiveKeyID() != kr.ActiveKeyID() {
		t.Errorf("reloaded active key %q, want %q", again.ActiveKeyID(), kr.ActiveKeyID())
	}
	// Same key material, not just the same ID: what one encrypts the other decrypts.
	encoded, err := NewCodec(kr).Encode([]*commonpb.Payload{{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCodec(again).Decode(encoded); err != nil {
		t.Errorf("reloaded keyring cannot decrypt: %v", err)
	}
}

func TestKeyringRefusesOpenPermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o666} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if _, _, err := EnsureKeyring(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			for name, load := range map[string]func() error{
				"EnsureKeyring": func() error { _, _, err := EnsureKeyring(path); return err },
				"LoadKeyring":   func() error { _, err := LoadKeyring(path); return err },
			} {
				err := load()
				if !errors.Is(err, ErrInsecurePermissions) {
					t.Fatalf("%s error = %v, want %v", name, err, ErrInsecurePermissions)
				}
				if !strings.Contains(err.Error(), "chmod 600 "+path) {
					t.Errorf("%s error %q does not say how to fix it", name, err)
				}
			}
			// Following the advice works.
			if err := os.Chmod(path, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadKeyring(path); err != nil {
				t.Errorf("after chmod 600: %v", err)
			}
		})
	}
}

func TestEnsureKeyringConcurrentStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	const starters = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		active  = map[string]bool{}
		errs    []error
	)
	for range starters {
		wg.Go(func() {
			kr, c, err := EnsureKeyring(path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if c {
				created++
			}
			active[kr.ActiveKeyID()] = true
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("EnsureKeyring errors: %v", errs)
	}
	if created != 1 {
		t.Errorf("%d callers created the keyring, want exactly 1", created)
	}
	if len(active) != 1 {
		t.Errorf("callers ended with different active keys %v, want one", active)
	}
}

func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, _, err := EnsureKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	oldID := kr.ActiveKeyID()
	dc := DataConverter(kr) // built before the rotation, used after it
	before, err := dc.ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}

	newID, err := kr.Rotate(path)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if newID == oldID || kr.ActiveKeyID() != newID {
		t.Fatalf("after Rotate: new ID %q, active %q, old %q", newID, kr.ActiveKeyID(), oldID)
	}
	if mode := fileMode(t, path); mode != 0o600 {
		t.Errorf("rotated keyring file mode = %04o, want 0600", mode)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Rotate, want only the keyring (no temporary files left)", len(entries))
	}

	after, err := dc.ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	assertEncrypted(t, before, oldID)
	assertEncrypted(t, after, newID)

	// The file, read afresh as a restarted worker would, holds both keys.
	reloaded, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if reloaded.ActiveKeyID() != newID {
		t.Errorf("file's active key = %q, want %q", reloaded.ActiveKeyID(), newID)
	}
	for _, k := range []*Keyring{kr, reloaded} {
		for name, p := range map[string]*commonpb.Payload{"old key": before, "new key": after} {
			var got childRecord
			if err := DataConverter(k).FromPayload(p, &got); err != nil {
				t.Errorf("%v: decode payload made with %s: %v", k, name, err)
			} else if got.Name != childName {
				t.Errorf("%v: decoded %#v", k, got)
			}
		}
	}

	// A second rotation keeps all three keys.
	if _, err := kr.Rotate(path); err != nil {
		t.Fatal(err)
	}
	if ids := kr.KeyIDs(); len(ids) != 3 {
		t.Errorf("after two rotations keys = %v, want 3", ids)
	}
}

func TestRotateKeepsKeysAddedToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, _, err := EnsureKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := other.Rotate(path) // another process rotates first
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rotate(path); err != nil {
		t.Fatal(err)
	}
	final, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if ids := final.KeyIDs(); len(ids) != 3 || !strings.Contains(strings.Join(ids, " "), otherID) {
		t.Errorf("file keys = %v, want 3 including %q", ids, otherID)
	}
}

func TestRotateRefusesOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, _, err := EnsureKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	activeBefore := kr.ActiveKeyID()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rotate(path); !errors.Is(err, ErrInsecurePermissions) {
		t.Fatalf("Rotate error = %v, want %v", err, ErrInsecurePermissions)
	}
	if kr.ActiveKeyID() != activeBefore {
		t.Error("a failed Rotate changed the active key")
	}
}

func TestLoadKeyringErrors(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA7}, KeySize))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA7}, 16))
	tests := []struct {
		name     string
		contents string
		wantErr  error
		wantText string
	}{
		{"empty file", "", ErrInvalidKeyring, "empty"},
		{"truncated", `{"active": "k1", "keys": {"k1": "` + secret, ErrInvalidKeyring, "truncated"},
		{"malformed JSON", `{"active": "k1", "keys": {"k1": ` + secret + `}}`, ErrInvalidKeyring, "malformed JSON"},
		{"no keys", `{"active": "k1", "keys": {}}`, ErrInvalidKeyring, "no keys"},
		{"no active", `{"keys": {"k1": "` + secret + `"}}`, ErrInvalidKeyring, "no active key"},
		{"active not in keys", `{"active": "k9", "keys": {"k1": "` + secret + `"}}`, ErrInvalidKeyring, `"k9"`},
		{"key too short", `{"active": "k1", "keys": {"k1": "` + short + `"}}`, ErrInvalidKeyring, "16 bytes"},
		{"key not base64", `{"active": "k1", "keys": {"k1": "` + secret[:10] + `!!` + secret[12:] + `"}}`, ErrInvalidKeyring, "base64"},
		{"key is a number", `{"active": "k1", "keys": {"k1": 12345}}`, ErrInvalidKeyring, "wrong JSON type"},
		{"bad key ID", `{"active": "k 1", "keys": {"k 1": "` + secret + `"}}`, ErrInvalidKeyring, "may hold only"},
		{"unknown field", `{"active": "k1", "keys": {"k1": "` + secret + `"}, "activ": "k2"}`, ErrInvalidKeyring, "activ"},
		{"missing file", "", fs.ErrNotExist, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if tt.wantErr != fs.ErrNotExist {
				writeFile(t, path, tt.contents, 0o600)
			}
			_, err := LoadKeyring(path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoadKeyring error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
			for _, leak := range []string{secret, secret[:12], short} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q contains key material", err)
				}
			}
		})
	}
}

func TestKeyMaterialNeverPrinted(t *testing.T) {
	raw := bytes.Repeat([]byte{0x5c}, KeySize)
	kr, err := NewKeyring("k1", map[string][]byte{"k1": raw})
	if err != nil {
		t.Fatal(err)
	}
	printed := []string{
		kr.String(),
		fmt.Sprintf("%v", kr),
		fmt.Sprintf("%+v", kr),
		fmt.Sprintf("%#v", kr),
		fmt.Sprintf("%s", kr),
		fmt.Sprintf("%v %+v %#v %x %s %q", kr.keys, kr.keys, kr.keys, kr.keys["k1"], kr.keys["k1"], kr.keys["k1"]),
	}
	forms := []string{
		string(raw),
		base64.StdEncoding.EncodeToString(raw),
		fmt.Sprintf("%x", raw),
		fmt.Sprintf("%v", raw),
		"92 92 92", // decimal bytes as %v of a plain []byte shows them
	}
	for _, out := range printed {
		for _, form := range forms {
			if strings.Contains(out, form) {
				t.Errorf("printed keyring %q contains key material", out)
			}
		}
	}
	if !strings.Contains(kr.String(), "k1") {
		t.Errorf("String() = %q, want it to name the key IDs", kr.String())
	}
}

func TestNewKeyringCopiesKeys(t *testing.T) {
	raw := bytes.Repeat([]byte{1}, KeySize)
	kr, err := NewKeyring("k1", map[string][]byte{"k1": raw})
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := NewCodec(kr).Encode([]*commonpb.Payload{{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	raw[0] = 2 // the caller reuses its buffer

	// Rotate writes every key of the ring to the file: the one written must
	// be the original, or payloads it encrypted are lost.
	path := filepath.Join(t.TempDir(), "keyring.json")
	if _, err := kr.Rotate(path); err != nil {
		t.Fatal(err)
	}
	reloaded, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCodec(reloaded).Decode(encoded); err != nil {
		t.Errorf("keyring did not keep its own copy of the key: %v", err)
	}
}
