package payloadcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// KeySize is the length in bytes of every key: AES-256.
const KeySize = 32

// maxKeyIDLen bounds key IDs because they travel in every payload's metadata
// and appear in error messages.
const maxKeyIDLen = 64

// maxKeyringFileSize guards LoadKeyring against being pointed at a huge file.
const maxKeyringFileSize = 1 << 20

var (
	// ErrInvalidKeyring reports a keyring file or keyring value that cannot be used.
	ErrInvalidKeyring = errors.New("invalid keyring")
	// ErrInsecurePermissions reports a keyring file that users other than its
	// owner may read or write.
	ErrInsecurePermissions = errors.New("keyring file permissions are too open")

	// errIncomplete marks a keyring file that may still be being written by
	// the process that created it.
	errIncomplete = errors.New("file is empty or truncated")
)

// secretKey holds key material. Its Format method keeps the bytes out of every
// fmt verb, so a keyring printed by mistake (%v, %+v, %#v) shows no key.
type secretKey []byte

func (secretKey) Format(f fmt.State, _ rune) { io.WriteString(f, "[redacted]") }

// keyringFile is the on-disk shape: {"active": "k1", "keys": {"k1": "<base64>"}}.
type keyringFile struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

// Keyring holds the AES-256 keys that encrypt payloads, by key ID. Payloads
// are encrypted with the active key; any key in the ring can decrypt, so old
// histories stay readable after a rotation. A Keyring is safe for concurrent
// use; Rotate changes the active key of codecs already built from it.
type Keyring struct {
	mu     sync.RWMutex
	active string
	keys   map[string]secretKey
	aeads  map[string]cipher.AEAD
}

// NewKeyring returns a keyring holding copies of keys, with active as the key
// that encrypts. Every key must be KeySize bytes long.
func NewKeyring(active string, keys map[string][]byte) (*Keyring, error) {
	kr := &Keyring{keys: make(map[string]secretKey, len(keys)), aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if err := kr.add(id, key); err != nil {
			return nil, err
		}
	}
	if active == "" {
		return nil, fmt.Errorf("%w: no active key ID: set \"active\" to one of the key IDs", ErrInvalidKeyring)
	}
	if _, ok := kr.keys[active]; !ok {
		return nil, fmt.Errorf("%w: active key ID %q is not among the keys %s: add that key or set \"active\" to one of them",
			ErrInvalidKeyring, active, kr.keyIDsLocked())
	}
	kr.active = active
	return kr, nil
}

// GenerateKeyring returns an in-memory keyring holding one new random key.
// Tests and throwaway dev environments use it; anything whose histories must
// stay readable needs EnsureKeyring, which keeps the key in a file.
func GenerateKeyring() (*Keyring, error) {
	id, key, err := newKey()
	if err != nil {
		return nil, err
	}
	return NewKeyring(id, map[string][]byte{id: key})
}

// add validates and stores one key. The caller holds kr.mu or owns kr alone.
func (kr *Keyring) add(id string, key []byte) error {
	if err := validateKeyID(id); err != nil {
		return err
	}
	if len(key) != KeySize {
		return fmt.Errorf("%w: key %q is %d bytes long; keys must be %d random bytes (AES-256), base64-encoded in the file",
			ErrInvalidKeyring, id, len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("%w: key %q: %w", ErrInvalidKeyring, id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("%w: key %q: %w", ErrInvalidKeyring, id, err)
	}
	kr.keys[id] = slices.Clone(secretKey(key))
	kr.aeads[id] = aead
	return nil
}

// validateKeyID keeps key IDs short and printable because they are written
// into every payload's metadata and into error messages.
func validateKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("%w: key ID %q must be 1 to %d characters long", ErrInvalidKeyring, id, maxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%w: key ID %q may hold only letters, digits, '-', '_' and '.'", ErrInvalidKeyring, id)
		}
	}
	return nil
}

// ActiveKeyID returns the ID of the key that encrypts new payloads.
func (kr *Keyring) ActiveKeyID() string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.active
}

// KeyIDs returns the IDs of all keys in the ring, sorted.
func (kr *Keyring) KeyIDs() []string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.keyIDsLocked()
}

func (kr *Keyring) keyIDsLocked() []string {
	ids := make([]string, 0, len(kr.keys))
	for id := range kr.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// String describes the keyring by key IDs only; key material is never shown.
func (kr *Keyring) String() string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return fmt.Sprintf("Keyring{active: %s, keys: [%s]}", kr.active, strings.Join(kr.keyIDsLocked(), " "))
}

// GoString keeps %#v from printing the struct fields.
func (kr *Keyring) GoString() string { return "payloadcrypt." + kr.String() }

// activeAEAD returns the active key ID and its cipher.
func (kr *Keyring) activeAEAD() (string, cipher.AEAD) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.active, kr.aeads[kr.active]
}

// aead returns the cipher for key ID id, or false if the ring does not hold it.
func (kr *Keyring) aead(id string) (cipher.AEAD, bool) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	a, ok := kr.aeads[id]
	return a, ok
}

// LoadKeyring reads the JSON keyring file at path:
//
//	{"active": "k1", "keys": {"k1": "<base64 of 32 random bytes>", "k0": "..."}}
//
// It refuses a file that its owner's group or other users may access, since
// whoever reads the file can read every workflow history.
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load keyring: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load keyring: %w", err)
	}
	if err := checkPermissions(path, info); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyringFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load keyring %s: %w", path, err)
	}
	if len(data) > maxKeyringFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes; is it really a keyring file?", ErrInvalidKeyring, path, maxKeyringFileSize)
	}
	kr, err := parseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("load keyring %s: %w", path, err)
	}
	return kr, nil
}

func checkPermissions(path string, info fs.FileInfo) error {
	if runtime.GOOS == "windows" {
		// Unix permission bits mean nothing there; access is governed by ACLs.
		return nil
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrInvalidKeyring, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, but it holds secret keys and must be accessible to its owner only; fix it with: chmod 600 %s",
			ErrInsecurePermissions, path, perm, path)
	}
	return nil
}

// parseKeyring decodes the file contents. Its errors describe the fault
// without quoting the file, which holds key material.
func parseKeyring(data []byte) (*Keyring, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var file keyringFile
	if err := dec.Decode(&file); err != nil {
		// json errors can quote the offending input, which may be part of a
		// key, so keep only where the fault is.
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			return nil, fmt.Errorf("%w: malformed JSON at byte %d; expected {\"active\": \"<key ID>\", \"keys\": {\"<key ID>\": \"<base64 key>\"}}",
				ErrInvalidKeyring, syntaxErr.Offset)
		case errors.As(err, &typeErr):
			return nil, fmt.Errorf("%w: field %q has the wrong JSON type; expected {\"active\": \"<key ID>\", \"keys\": {\"<key ID>\": \"<base64 key>\"}}",
				ErrInvalidKeyring, typeErr.Field)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("%w: %w; if no other process is creating it, an earlier start was interrupted: delete the file and start again",
				ErrInvalidKeyring, errIncomplete)
		default:
			// Unknown-field errors quote only the field name.
			return nil, fmt.Errorf("%w: %w", ErrInvalidKeyring, err)
		}
	}
	if len(file.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys; expected {\"active\": \"<key ID>\", \"keys\": {\"<key ID>\": \"<base64 key>\"}}", ErrInvalidKeyring)
	}
	keys := make(map[string][]byte, len(file.Keys))
	for id, encoded := range file.Keys {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
		if err != nil {
			return nil, fmt.Errorf("%w: key %q is not valid standard base64", ErrInvalidKeyring, id)
		}
		keys[id] = key
	}
	return NewKeyring(file.Active, keys)
}

// marshal renders the keyring in the file format.
func (kr *Keyring) marshal() ([]byte, error) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return marshalKeys(kr.active, kr.keys)
}

func marshalKeys(active string, keys map[string]secretKey) ([]byte, error) {
	file := keyringFile{Active: active, Keys: make(map[string]string, len(keys))}
	for id, key := range keys {
		file.Keys[id] = base64.StdEncoding.EncodeToString(key)
	}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode keyring: %w", err)
	}
	return append(data, '\n'), nil
}

// newKey returns a fresh random key and an ID for it. The ID carries the date
// for operators and random hex so that keyrings made independently never
// reuse an ID for different keys.
func newKey() (id string, key []byte, err error) {
	var suffix [4]byte
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", nil, fmt.Errorf("generate key: %w", err)
	}
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", nil, fmt.Errorf("generate key ID: %w", err)
	}
	return "k" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(suffix[:]), key, nil
}

// EnsureKeyring loads the keyring at path, or, if no file exists there,
// creates one holding a new random key with mode 0600 and reports created.
//
// The file is created with O_EXCL, so when two processes start together only
// one writes a key and the other loads it. Losing the file makes every
// encrypted history unreadable: back it up.
func EnsureKeyring(path string) (kr *Keyring, created bool, err error) {
	kr, err = loadWhenWritten(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kr, false, err
	}
	id, key, err := newKey()
	if err != nil {
		return nil, false, err
	}
	kr, err = NewKeyring(id, map[string][]byte{id: key})
	if err != nil {
		return nil, false, err
	}
	data, err := kr.marshal()
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our load and our create.
		kr, err = loadWhenWritten(path)
		return kr, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create keyring: %w", err)
	}
	if err := writeAndSync(f, data); err != nil {
		// A half-written keyring would stop every later start; remove it.
		os.Remove(path)
		return nil, false, fmt.Errorf("create keyring %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, false, fmt.Errorf("create keyring %s: %w", path, err)
	}
	return kr, true, nil
}

// loadWhenWritten loads the keyring at path, allowing for another process
// that has just created it with O_EXCL and is still writing it: an empty or
// truncated file is read again for a short while before giving up.
func loadWhenWritten(path string) (*Keyring, error) {
	const attempts = 40
	var err error
	for range attempts {
		var kr *Keyring
		kr, err = LoadKeyring(path)
		if !errors.Is(err, errIncomplete) {
			return kr, err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return nil, err
}

func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// syncDir makes a file's creation or rename in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}

// Rotate adds a new random key to the ring, makes it the active key, and
// writes the ring to path, replacing the file atomically (temporary file,
// fsync, rename). Old keys stay, so payloads they encrypted still decrypt.
// Keys found in the file at path but missing from kr are kept too, so a
// rotation never drops a key that another process added.
//
// Workers that loaded the file before the rotation cannot decrypt payloads
// made with the new key until they reload it; restart them promptly. Rotate
// must not run in two processes at once on the same file.
func (kr *Keyring) Rotate(path string) (newKeyID string, err error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()

	keys := make(map[string]secretKey, len(kr.keys)+1)
	for id, key := range kr.keys {
		keys[id] = key
	}
	onDisk, err := LoadKeyring(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("rotate keyring: %w", err)
	default:
		for id, key := range onDisk.keys {
			if mine, ok := keys[id]; ok && string(mine) != string(key) {
				return "", fmt.Errorf("rotate keyring: %w: key %q in %s differs from the key of that ID in memory; resolve which is right before rotating",
					ErrInvalidKeyring, id, path)
			}
			keys[id] = key
		}
	}

	id, key, err := newKey()
	if err != nil {
		return "", fmt.Errorf("rotate keyring: %w", err)
	}
	if _, taken := keys[id]; taken {
		return "", fmt.Errorf("rotate keyring: generated key ID %q is already in use; try again", id)
	}
	keys[id] = key
	data, err := marshalKeys(id, keys)
	if err != nil {
		return "", fmt.Errorf("rotate keyring: %w", err)
	}
	if err := replaceFile(path, data); err != nil {
		return "", fmt.Errorf("rotate keyring: %w", err)
	}

	// Only now that the file holds the new key may payloads be encrypted with it.
	for id, key := range keys {
		if _, ok := kr.keys[id]; !ok {
			if err := kr.add(id, key); err != nil {
				return "", fmt.Errorf("rotate keyring: %w", err)
			}
		}
	}
	kr.active = id
	return id, nil
}

// replaceFile writes data to a temporary file beside path and renames it over
// path, so readers see the old file or the new one, never a partial one.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	// CreateTemp makes files with mode 0600, but say so in case that changes.
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := writeAndSync(tmp, data); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return syncDir(dir)
}
