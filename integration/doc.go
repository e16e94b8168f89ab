// Package integration runs casereview's parts together against a real Temporal server in its tests.
package integration
